"""The plan form: it carries values and the CSRF token; every check is in the plan services.

Each asset kind gets its own checklist field (``checklist_<kind>``, checkboxes); the one of
the chosen kind is used, and none when no kind is chosen (the whole default checklist).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)

from accounts.models import Contractor
from assets.kinds import KINDS, AssetKind
from assets.services import grid_choices
from core.extensions import db
from core.forms import SelectChoice, SelectOrText
from inspections.models import InspectionPlan

UNIT_LABELS = {
    "day": _l("days"),
    "week": _l("weeks"),
    "month": _l("months"),
    "quarter": _l("quarters"),
    "year": _l("years"),
}


def checklist_field_name(kind_name: str) -> str:
    return f"checklist_{kind_name}"


class ChecklistField(SelectMultipleField):
    """Checkboxes, one per checklist item of a kind."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class PlanForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 200})
    contractor_id = SelectField(_l("Contractor"), validate_choice=False)
    asset_kind = SelectField(_l("Asset kind"), validate_choice=False)
    grid = SelectField(_l("Grid"), validate_choice=False, widget=SelectOrText())
    asset_codes = TextAreaField(
        _l("Asset codes"),
        description=_l("Optional: one per line or separated by commas."),
        render_kw={"rows": 4, "autocapitalize": "characters", "spellcheck": "false"},
    )
    cadence_every = StringField(
        _l("Every"), default="1", render_kw={"inputmode": "numeric", "maxlength": 3}
    )
    cadence_unit = SelectField(
        lazy_pgettext("schedule", "Unit"),
        choices=[SelectChoice(unit, label) for unit, label in UNIT_LABELS.items()],
        default="month",
        validate_choice=False,
    )
    start_on = StringField(_l("Start date"), render_kw={"type": "date"})
    end_on = StringField(_l("End date"), render_kw={"type": "date"})
    active = BooleanField(lazy_pgettext("plan", "Active"), default=True)
    allow_overlap = BooleanField(
        _l("Create anyway"),
        description=_l("Save the plan although another active plan covers the same assets."),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        contractors = db.session.scalars(select(Contractor).order_by(Contractor.name)).all()
        self.contractor_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(c.id), c.name) for c in contractors
        ]
        self.asset_kind.choices = [SelectChoice("", _l("Any kind"))] + [
            SelectChoice(kind.name, kind.label) for kind in KINDS.values()
        ]
        # past GRID_SELECT_LIMIT grids: a text field for the code (core.forms.SelectOrText)
        grids = grid_choices(self.grid.data or "")
        self.grid.typed = grids.typed
        self.grid.suggestions = [(grid.code, grid.name) for grid in grids]
        self.grid.choices = [SelectChoice("", _l("All grids"))] + [
            SelectChoice(grid.code, f"{grid.code} {grid.name}") for grid in grids
        ]

    def checklist_field(self, kind: AssetKind) -> ChecklistField:
        return self[checklist_field_name(kind.name)]

    def plan_values(self) -> dict[str, Any]:
        """The input for ``inspections.plans.services.create_plan`` / ``update_plan``."""
        kind = self.asset_kind.data or ""
        checklist = self[checklist_field_name(kind)].data if kind in KINDS else None
        return {
            "name": self.name.data,
            "contractor_id": self.contractor_id.data,
            "asset_kind": kind,
            "grid": self.grid.data,
            "asset_codes": self.asset_codes.data,
            "cadence_every": self.cadence_every.data,
            "cadence_unit": self.cadence_unit.data,
            "start_on": self.start_on.data,
            "end_on": self.end_on.data,
            "checklist": checklist,
            "active": self.active.data,
        }


def _add_checklist_fields() -> None:
    for kind in KINDS.values():
        field = ChecklistField(
            kind.label,
            choices=[SelectChoice(item.key, item.label) for item in kind.checklist],
            default=[item.key for item in kind.checklist],
            validate_choice=False,
        )
        setattr(PlanForm, checklist_field_name(kind.name), field)


_add_checklist_fields()


def form_data_for(plan: InspectionPlan) -> dict[str, Any]:
    """A plan's values in the form's field names, for the edit form."""
    data: dict[str, Any] = {
        "name": plan.name,
        "contractor_id": str(plan.contractor_id),
        "asset_kind": plan.asset_kind or "",
        "grid": plan.grid.code if plan.grid is not None else "",
        "asset_codes": "\n".join(plan.asset_codes or []),
        "cadence_every": str(plan.cadence_every),
        "cadence_unit": plan.cadence_unit,
        "start_on": plan.start_on.isoformat(),
        "end_on": plan.end_on.isoformat() if plan.end_on else "",
        "active": plan.active,
    }
    if plan.asset_kind in KINDS and plan.checklist is not None:
        data[checklist_field_name(plan.asset_kind)] = list(plan.checklist)
    return data
