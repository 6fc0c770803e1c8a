"""Forms of the inspection pages. They carry values and the CSRF token only: every check
lives in ``inspections.results`` (the API calls the same service)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    Field,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)

from assets.kinds import ChecklistItem
from core.forms import SelectChoice

ANSWER_LABELS = {"pass": _l("Pass"), "fail": _l("Fail"), "na": _l("N/A")}
RESULT_LABELS = {"pass": _l("Pass"), "fail": _l("Fail")}
INSPECTION_STATUS_LABELS = {
    "overdue": _l("Overdue"),
    "due_soon": _l("Due soon"),
    "scheduled": _l("Scheduled"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
}
# The list's orders (``inspections.results.LIST_ORDERS``), as the sort menu names them.
LIST_ORDER_LABELS = {
    "urgent": _l("Most urgent first"),
    "due": _l("Due date, earliest first"),
    "-due": _l("Due date, latest first"),
}


def choices(labels: dict) -> list:
    return [SelectChoice(value, label) for value, label in labels.items()]


def item_field_name(key: str) -> str:
    return f"item_{key}"


class InspectionLogForm(FlaskForm):
    """The logging form; ``log_form_for`` adds one radio group per checklist item."""

    result = RadioField(_l("Overall result"), choices=choices(RESULT_LABELS), validate_choice=False)
    notes = TextAreaField(_l("Notes"), render_kw={"maxlength": 4000, "rows": 4})
    completed_at = StringField(_l("Completed at"), render_kw={"type": "datetime-local"})
    photos = MultipleFileField(
        _l("Photos"), render_kw={"accept": "image/*", "capture": "environment"}
    )
    longitude = HiddenField()
    latitude = HiddenField()
    accuracy = HiddenField()
    # Made once per form (``inspections.results.new_idempotency_key``): the same form posted
    # twice (a double tap, the browser's resubmit) gives one result.
    idempotency_key = HiddenField()

    checklist: tuple[ChecklistItem, ...] = ()

    def item_fields(self) -> list[tuple[ChecklistItem, Field]]:
        return [(item, self[item_field_name(item.key)]) for item in self.checklist]

    def values(self) -> dict[str, Any]:
        """The service's input: answers by item key, and the other fields."""
        return {
            "answers": {item.key: field.data or None for item, field in self.item_fields()},
            "result": self.result.data or None,
            "notes": self.notes.data,
            "completed_at": self.completed_at.data,
            "longitude": self.longitude.data,
            "latitude": self.latitude.data,
            "accuracy": self.accuracy.data,
            "idempotency_key": self.idempotency_key.data,
        }


def log_form_for(checklist: Sequence[ChecklistItem], **kwargs: Any) -> InspectionLogForm:
    """A logging form with one pass/fail/n.a. radio group per item of ``checklist``."""
    attributes: dict[str, Any] = {"checklist": tuple(checklist)}
    for item in checklist:
        attributes[item_field_name(item.key)] = RadioField(
            item.label, choices=choices(ANSWER_LABELS), validate_choice=False
        )
    form_class = type("ChecklistLogForm", (InspectionLogForm,), attributes)
    return form_class(**kwargs)


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason for cancelling"), render_kw={"maxlength": 1000, "rows": 2})


BULK_ACTION_LABELS = {
    "cancel": _l("Cancel the inspections"),
    "reassign": _l("Reassign to another contractor"),
    "reschedule": _l("Reschedule to another date"),
}


class BulkForm(FlaskForm):
    """The list's bulk actions; the selected inspections come as ``ids`` (checkboxes in the
    table, joined to this form by their ``form`` attribute)."""

    action = SelectField(
        _l("Action"),
        choices=[SelectChoice("", _l("Choose…")), *choices(BULK_ACTION_LABELS)],
        validate_choice=False,
    )
    contractor = SelectField(_l("New contractor"), validate_choice=False)
    due_on = StringField(_l("New due date"), render_kw={"type": "date"})
    reason = TextAreaField(_l("Reason"), render_kw={"maxlength": 1000, "rows": 2})
