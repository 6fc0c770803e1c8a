"""The asset form: base fields plus one ``attr_<name>`` field per kind attribute.

The form only carries values and the CSRF token; every check lives in ``assets.services``.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, SelectField, StringField, TextAreaField

from assets.kinds import KINDS, AssetKind, AttributeField
from assets.models import AssetStatus
from assets.services import BASE_FIELDS, FIELD_LABELS, STATUS_LABELS
from core.forms import SelectChoice

# The form fields that map one-to-one onto the service's input keys (code and kind aside).
EDITABLE_FIELDS = tuple(name for name in BASE_FIELDS if name not in ("code", "kind"))


def attribute_input(attribute: AttributeField) -> Field:
    """A form field for one kind attribute; parsing and range checks stay in the service."""
    if attribute.type == "bool":
        return BooleanField(attribute.label)
    if attribute.type == "choice":
        choices = [
            SelectChoice("", "—"),
            *(SelectChoice(c, attribute.shown(c)) for c in attribute.choices),
        ]
        return SelectField(attribute.label, choices=choices, validate_choice=False)
    if attribute.type == "int":
        return StringField(attribute.label, render_kw={"inputmode": "numeric"})
    if attribute.type == "date":
        return StringField(attribute.label, render_kw={"type": "date"})
    return StringField(attribute.label, render_kw={"maxlength": attribute.max_length})


def attribute_field_name(name: str) -> str:
    return f"attr_{name}"


class AssetForm(FlaskForm):
    code = StringField(
        FIELD_LABELS["code"], render_kw={"maxlength": 40, "autocapitalize": "characters"}
    )
    kind = SelectField(
        FIELD_LABELS["kind"],
        choices=[SelectChoice(kind.name, kind.label) for kind in KINDS.values()],
        validate_choice=False,
    )
    name = StringField(FIELD_LABELS["name"], render_kw={"maxlength": 200})
    longitude = StringField(FIELD_LABELS["longitude"], render_kw={"inputmode": "decimal"})
    latitude = StringField(FIELD_LABELS["latitude"], render_kw={"inputmode": "decimal"})
    site = StringField(FIELD_LABELS["site"], render_kw={"list": "site-names", "maxlength": 200})
    address = StringField(FIELD_LABELS["address"], render_kw={"maxlength": 300})
    status = SelectField(
        FIELD_LABELS["status"],
        choices=[SelectChoice(value, label) for value, label in STATUS_LABELS.items()],
        default=AssetStatus.ACTIVE,
        validate_choice=False,
    )
    installed_on = StringField(FIELD_LABELS["installed_on"], render_kw={"type": "date"})
    manufacturer = StringField(FIELD_LABELS["manufacturer"], render_kw={"maxlength": 200})
    model = StringField(FIELD_LABELS["model"], render_kw={"maxlength": 200})
    serial_number = StringField(FIELD_LABELS["serial_number"], render_kw={"maxlength": 100})
    notes = TextAreaField(FIELD_LABELS["notes"])

    def attribute_fields(self, kind: AssetKind) -> list[Field]:
        return [self[attribute_field_name(attribute.name)] for attribute in kind.fields]

    def attribute_values(self, kind: AssetKind) -> dict[str, Any]:
        return {
            attribute.name: self[attribute_field_name(attribute.name)].data
            for attribute in kind.fields
        }

    def base_values(self) -> dict[str, Any]:
        return {name: self[name].data for name in EDITABLE_FIELDS}


def _add_attribute_fields() -> None:
    added: set[str] = set()
    for kind in KINDS.values():
        for attribute in kind.fields:
            if attribute.name not in added:
                setattr(AssetForm, attribute_field_name(attribute.name), attribute_input(attribute))
                added.add(attribute.name)


_add_attribute_fields()


def form_data_for(record: dict[str, Any]) -> dict[str, Any]:
    """An ``asset_record`` flattened into the form's field names, for an edit form."""
    data = {key: value for key, value in record.items() if key != "attributes"}
    for key in ("longitude", "latitude"):
        data[key] = f"{record[key]:.6f}".rstrip("0").rstrip(".")
    data["site"] = record.get("site") or ""
    for name, value in (record.get("attributes") or {}).items():
        data[attribute_field_name(name)] = "" if value is None else value
    return data
