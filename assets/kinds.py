"""The asset kinds the registry knows. A new kind is one more ``AssetKind`` in ``KINDS``.

Each kind names its code pattern and its own attributes; forms, the API schema, CSV/GeoJSON
columns and validation are all built from these definitions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

TRUE_WORDS = {"1", "true", "yes", "y", "t", "on", "是"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "off", "否", ""}


@dataclass(frozen=True)
class AttributeField:
    name: str
    label: Any
    type: str  # "int", "bool", "str", "choice", "date"
    required: bool = False
    choices: tuple[str, ...] = ()
    choice_labels: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    minimum: int | None = None
    max_length: int = 200

    def shown(self, value: Any) -> Any:
        """A stored value as a page shows it: a choice by its label (lazily translated: in the
        language of the page that renders it)."""
        if self.type == "choice" and value in self.choice_labels:
            return self.choice_labels[value]
        return value

    def parse(self, raw: Any) -> Any:
        """Turn a form, CSV or JSON value into the stored value, or raise ValueError."""
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if self.required:
                raise ValueError(_l("This field is required."))
            return False if self.type == "bool" else None
        if self.type == "int":
            return self._parse_int(raw)
        if self.type == "bool":
            return self._parse_bool(raw)
        if self.type == "date":
            return self._parse_date(raw)
        text = str(raw).strip()
        if len(text) > self.max_length:
            raise ValueError(_l("At most %(n)s characters.", n=self.max_length))
        if self.type == "choice" and text not in self.choices:
            raise ValueError(_l("Must be one of: %(choices)s.", choices=", ".join(self.choices)))
        return text

    def _parse_int(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError(_l("Not a whole number."))
        try:
            number = int(raw) if not isinstance(raw, str) else int(raw.strip())
        except (TypeError, ValueError):
            raise ValueError(_l("Not a whole number.")) from None
        if isinstance(raw, float) and raw != number:
            raise ValueError(_l("Not a whole number."))
        if self.minimum is not None and number < self.minimum:
            raise ValueError(_l("Must be at least %(n)s.", n=self.minimum))
        return number

    @staticmethod
    def _parse_bool(raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(_l("Not yes or no."))

    @staticmethod
    def _parse_date(raw: Any) -> str:
        try:
            return date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise ValueError(_l("Not a date (YYYY-MM-DD).")) from None


@dataclass(frozen=True)
class ChecklistItem:
    """One line of an inspection checklist, answered pass, fail or not applicable."""

    key: str
    label: Any


@dataclass(frozen=True)
class AssetKind:
    name: str
    label: Any
    code_prefix: str
    code_digits: int
    fields: tuple[AttributeField, ...] = field(default_factory=tuple)
    checklist: tuple[ChecklistItem, ...] = field(default_factory=tuple)

    @property
    def code_pattern(self) -> re.Pattern:
        return re.compile(rf"^{self.code_prefix}-\d{{{self.code_digits},}}$")

    def code_for(self, number: int) -> str:
        return f"{self.code_prefix}-{number:0{self.code_digits}d}"

    def field_named(self, name: str) -> AttributeField | None:
        return next((f for f in self.fields if f.name == name), None)

    def checklist_label(self, key: str) -> str:
        """The label of checklist item ``key`` in the current language (the key itself for an
        item the kind no longer has)."""
        item = next((item for item in self.checklist if item.key == key), None)
        return str(item.label) if item is not None else key

    def checklist_items(self, keys: list[str] | None = None) -> tuple[ChecklistItem, ...]:
        """The kind's checklist, or the subset a plan names (in the kind's order)."""
        if keys is None:
            return self.checklist
        return tuple(item for item in self.checklist if item.key in keys)


DETECTION_METHODS = ("ai_camera", "infrared", "rfid", "weight_sensor")
DETECTION_METHOD_LABELS = {
    "ai_camera": _l("AI camera"),
    "infrared": _l("Infrared sensor"),
    "rfid": _l("RFID tag reader"),
    "weight_sensor": _l("Weight sensor"),
}

KINDS: dict[str, AssetKind] = {
    kind.name: kind
    for kind in (
        AssetKind(
            name="charging_station",
            label=_l("E-bike charging station"),
            code_prefix="CS",
            code_digits=3,
            fields=(
                AttributeField("ports", _l("Charging ports"), "int", required=True, minimum=1),
                AttributeField("canopy", _l("Canopy"), "bool"),
                AttributeField("extinguisher", _l("Fire extinguisher"), "bool"),
                AttributeField("camera", _l("Camera"), "bool"),
                AttributeField("smoke_detector", _l("Smoke detector"), "bool"),
            ),
            checklist=(
                ChecklistItem("cutoff_when_full", _l("Chargers cut off when the battery is full")),
                ChecklistItem("extinguisher_in_date", _l("Extinguisher present and in date")),
                ChecklistItem("no_flying_wire", _l("No flying-wire charging")),
                ChecklistItem("canopy_and_wiring", _l("Canopy and wiring intact")),
                ChecklistItem("camera_working", _l("Camera working")),
                ChecklistItem("smoke_detector_working", _l("Smoke detector working")),
            ),
        ),
        AssetKind(
            name="elevator_blocker",
            label=_l("Elevator e-bike blocker"),
            code_prefix="EB",
            code_digits=4,
            fields=(
                AttributeField("building", _l("Building"), "str", required=True, max_length=60),
                AttributeField("unit", _l("Unit"), "str", max_length=20),
                AttributeField(
                    "elevator_number", _l("Elevator number"), "str", required=True, max_length=20
                ),
                AttributeField(
                    "registration_code", _l("Elevator registration code"), "str", max_length=40
                ),
                AttributeField(
                    "detection_method",
                    _l("Detection method"),
                    "choice",
                    required=True,
                    choices=DETECTION_METHODS,
                    choice_labels=DETECTION_METHOD_LABELS,
                ),
            ),
            checklist=(
                ChecklistItem("detects_ebike", _l("Detects an e-bike entering the car")),
                ChecklistItem("doors_held_alarm", _l("Doors held open and alarm sounds")),
                ChecklistItem("camera_clean", _l("Camera lens clean and unobstructed")),
                ChecklistItem("no_false_alarm", _l("No false alarm on a bicycle or pram")),
            ),
        ),
    )
}


def kind_named(name: str) -> AssetKind | None:
    return KINDS.get(name)


def all_attribute_names() -> list[str]:
    """Every kind's attribute names, in a stable order, each once (CSV columns)."""
    names: list[str] = []
    for kind in KINDS.values():
        names.extend(f.name for f in kind.fields if f.name not in names)
    return names
