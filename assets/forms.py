"""The asset form: base fields plus one ``attr_<name>`` field per kind attribute.

The form only carries values and the CSRF token; every check lives in ``assets.services``.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, SelectField, StringField, TextAreaField

from assets.kinds import KINDS, AssetKind, AttributeField
from assets.models import AssetStatus
from assets.services import BASE_FIELDS
from core.forms import SelectChoice

STATUS_LABELS = {
    AssetStatus.ACTIVE: _l("Active"),
    AssetStatus.FAULTY: _l("Faulty"),
    AssetStatus.RETIRED: _l("Retired"),
}
# The form fields that map one-to-one onto the service's input keys (code and kind aside).
EDITABLE_FIELDS = tuple(name for name in BASE_FIELDS if name not in ("code", "kind"))


def attribute_input(attribute: AttributeField) -> Field:
    """A form field for one kind attribute; parsing and range checks stay in the service."""
    if attribute.type == "bool":
        return BooleanField(attribute.label)
    if attribute.type == "choice":
        choices = [SelectChoice("", "—"), *(SelectChoice(c, c) for c in attribute.choices)]
        return SelectField(attribute.label, choices=choices, validate_choice=False)
    if attribute.type == "int":
        return StringField(attribute.label, render_kw={"inputmode": "numeric"})
    if attribute.type == "date":
        return StringField(attribute.label, render_kw={"type": "date"})
    return StringField(attribute.label, render_kw={"maxlength": attribute.max_length})


def attribute_field_name(name: str) -> str:
    return f"attr_{name}"


class AssetForm(FlaskForm):
    code = StringField(_l("Code"), render_kw={"maxlength": 40, "autocapitalize": "characters"})
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(kind.name, kind.label) for kind in KINDS.values()],
        validate_choice=False,
    )
    name = StringField(_l("Name"), render_kw={"maxlength": 200})
    longitude = StringField(_l("Longitude"), render_kw={"inputmode": "decimal"})
    latitude = StringField(_l("Latitude"), render_kw={"inputmode": "decimal"})
    site = StringField(_l("Site"), render_kw={"list": "site-names", "maxlength": 200})
    address = StringField(_l("Address"), render_kw={"maxlength": 300})
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice(value, label) for value, label in STATUS_LABELS.items()],
        default=AssetStatus.ACTIVE,
        validate_choice=False,
    )
    installed_on = StringField(_l("Installed on"), render_kw={"type": "date"})
    manufacturer = StringField(_l("Manufacturer"), render_kw={"maxlength": 200})
    model = StringField(_l("Model"), render_kw={"maxlength": 200})
    serial_number = StringField(_l("Serial number"), render_kw={"maxlength": 100})
    notes = TextAreaField(_l("Notes"))

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
