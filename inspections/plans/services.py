"""Inspection plans: checking, creating and changing them, and describing them in words.

Pages and tests call the same functions. They add to the session and never commit; a plan
that does not validate raises ``PlanValidationError`` before anything is added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, NamedTuple

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import Select, func, or_, select

from accounts.models import Contractor
from assets.kinds import KINDS, ChecklistItem, kind_named
from assets.models import Asset, Grid
from assets.services import grid_and_children
from core.audit import changed_fields, record_change
from core.clock import district_today
from core.errors import ConflictError, ValidationError
from core.extensions import db
from core.inputs import date_in_range, date_range_message, id_or_none
from inspections.cadence import UNITS, occurrences
from inspections.models import InspectionPlan
from inspections.services import generate_for_plan, plan_assets, regenerate_plan

MAX_EVERY = 999
MAX_NAME_LENGTH = 200
SHOWN_CODES = 5
# Fields whose change alters which inspections exist (or who does them): an edit of any of
# these regenerates the plan's future inspections; a new name or checklist does not.
SCHEDULE_FIELDS = (
    "contractor",
    "asset_kind",
    "grid",
    "asset_codes",
    "cadence_unit",
    "cadence_every",
    "start_on",
    "end_on",
    "active",
)
# Days spanned by one unit at most, to size a window that holds the next few occurrences.
LONGEST_UNIT_DAYS = {"day": 1, "week": 7, "month": 31, "quarter": 92, "year": 366}
CODE_SEPARATORS = re.compile(r"[,，;；\s]+")


class PlanValidationError(ValidationError):
    """The plan's values do not make a plan; ``errors`` maps field names to lists of messages."""


class PlanOverlap(NamedTuple):
    """Assets another active plan already covers: that plan, its contractor, how many, and
    the first codes (``SHOWN_CODES`` of them)."""

    plan_id: int
    plan_name: str
    contractor: str
    count: int
    codes: list[str]

    def words(self) -> str:
        return _(
            "%(count)s assets are already covered by the plan %(plan)s of %(contractor)s: "
            "%(codes)s.",
            count=self.count,
            plan=self.plan_name,
            contractor=self.contractor,
            codes=", ".join(self.codes) + (" …" if self.count > len(self.codes) else ""),
        )

    def record(self) -> dict[str, Any]:
        return {"plan": self.plan_id, "count": self.count, "codes": self.codes}


class PlanOverlapError(ConflictError):
    """The plan would cover assets another active plan already covers; ``overlaps`` says
    which. Confirmed with ``allow_overlap``, the plan is saved and the overlap audited."""

    def __init__(self, overlaps: list[PlanOverlap]):
        super().__init__(" ".join(overlap.words() for overlap in overlaps), "allow_overlap")
        self.overlaps = overlaps


class PlanSaved(NamedTuple):
    """A plan after create, update or deactivation, with its inspections created/removed."""

    plan: InspectionPlan
    created: int
    removed: int
    changed: bool = True


# --- Reading the values ---------------------------------------------------------------------


def parse_asset_codes(raw: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    """Codes one per line or separated by commas, upper-cased, each once; None when empty."""
    if raw is None:
        return None
    parts = CODE_SEPARATORS.split(raw) if isinstance(raw, str) else [str(item) for item in raw]
    codes = list(dict.fromkeys(part.strip().upper() for part in parts if part.strip()))
    return codes or None


def _text(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    return "" if value is None else str(value).strip()


def _date(values: Mapping[str, Any], key: str, errors: dict[str, list[str]]) -> date | None:
    value = values.get(key)
    if not isinstance(value, date):
        text = _text(values, key)
        if not text:
            return None
        try:
            value = date.fromisoformat(text)
        except ValueError:
            errors.setdefault(key, []).append(_("Not a date (YYYY-MM-DD)."))
            return None
    if not date_in_range(value):
        errors.setdefault(key, []).append(date_range_message())
        return None
    return value


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "on"}
    return bool(value)


class _Checker:
    """Collects the messages of every bad field, so a form shows them all at once."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = values
        self.errors: dict[str, list[str]] = {}

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    def name(self) -> str:
        name = _text(self.values, "name")
        if not name:
            self.error("name", _("A plan needs a name."))
        elif len(name) > MAX_NAME_LENGTH:
            self.error("name", _("At most %(n)s characters.", n=MAX_NAME_LENGTH))
        return name

    def contractor(self) -> Contractor | None:
        raw = _text(self.values, "contractor_id")
        if not raw:
            self.error("contractor_id", _("Choose the contractor who inspects."))
            return None
        number = id_or_none(raw)
        contractor = db.session.get(Contractor, number) if number is not None else None
        if contractor is None:
            self.error("contractor_id", _("No such contractor."))
        return contractor

    def kind(self) -> str | None:
        kind = _text(self.values, "asset_kind") or None
        if kind is not None and kind not in KINDS:
            self.error("asset_kind", _("Unknown asset kind %(kind)s.", kind=kind))
            return None
        return kind

    def grid(self) -> Grid | None:
        code = _text(self.values, "grid").upper()
        if not code:
            return None
        grid = db.session.scalar(select(Grid).where(Grid.code == code))
        if grid is None:
            self.error("grid", _("No grid has the code %(code)s.", code=code))
        return grid

    def asset_codes(self, kind: str | None, grid: Grid | None) -> list[str] | None:
        codes = parse_asset_codes(self.values.get("asset_codes"))
        if codes is None:
            return None
        found = {
            asset.code: asset
            for asset in db.session.scalars(select(Asset).where(Asset.code.in_(codes)))
        }
        unknown = [code for code in codes if code not in found]
        if unknown:
            self.error(
                "asset_codes", _("Unknown asset codes: %(codes)s.", codes=", ".join(unknown))
            )
        if kind is not None:
            other = [code for code in codes if code in found and found[code].kind != kind]
            if other:
                label = str(KINDS[kind].label)
                self.error(
                    "asset_codes",
                    _("Not of kind %(kind)s: %(codes)s.", kind=label, codes=", ".join(other)),
                )
        if grid is not None:
            covered = set(db.session.scalars(grid_and_children(grid.id)))
            outside = [
                code for code in codes if code in found and found[code].grid_id not in covered
            ]
            if outside:
                self.error(
                    "asset_codes",
                    _("Not in grid %(grid)s: %(codes)s.", grid=grid.code, codes=", ".join(outside)),
                )
        return codes

    def cadence(self) -> tuple[str, int]:
        unit = _text(self.values, "cadence_unit")
        if unit not in UNITS:
            self.error("cadence_unit", _("Choose days, weeks, months, quarters or years."))
        raw = self.values.get("cadence_every")
        every = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if every is None:
            text = _text(self.values, "cadence_every")
            every = int(text) if text.isdigit() else None
        if every is None or not 1 <= every <= MAX_EVERY:
            self.error("cadence_every", _("A whole number from 1 to %(n)s.", n=MAX_EVERY))
            every = 1
        return unit, every

    def dates(self) -> tuple[date | None, date | None]:
        start_on = _date(self.values, "start_on", self.errors)
        end_on = _date(self.values, "end_on", self.errors)
        if start_on is None and "start_on" not in self.errors:
            self.error("start_on", _("A plan needs a start date."))
        if start_on is not None and end_on is not None and end_on < start_on:
            self.error("end_on", _("The end date cannot be before the start date."))
        return start_on, end_on

    def checklist(self, kind: str | None) -> list[str] | None:
        keys = self.values.get("checklist")
        if keys is None:
            return None
        if kind is None:
            self.error("checklist", _("Choose an asset kind to pick checklist items."))
            return None
        known = [item.key for item in KINDS[kind].checklist]
        keys = list(dict.fromkeys(str(key) for key in keys))
        unknown = [key for key in keys if key not in known]
        if unknown:
            self.error(
                "checklist",
                _("Not on this kind's checklist: %(keys)s.", keys=", ".join(unknown)),
            )
            return None
        if not keys:
            self.error("checklist", _("Tick at least one checklist item."))
            return None
        if set(keys) == set(known):
            return None  # the whole checklist: follow the kind's checklist as it evolves
        return [key for key in known if key in keys]


def validated_plan_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The plan's column values from raw input, or ``PlanValidationError`` naming every bad field.

    Keys read: name, contractor_id, asset_kind, grid (a grid code), asset_codes (text or list),
    cadence_unit, cadence_every, start_on, end_on (dates or ISO text), checklist (item keys of
    the chosen kind, or None for its whole checklist; all of them is stored as None), active.
    """
    check = _Checker(values)
    name = check.name()
    contractor = check.contractor()
    kind = check.kind()
    grid = check.grid()
    codes = check.asset_codes(kind, grid)
    unit, every = check.cadence()
    start_on, end_on = check.dates()
    checklist = check.checklist(kind)
    if check.errors:
        raise PlanValidationError(check.errors)
    return {
        "name": name,
        "contractor_id": contractor.id,
        "asset_kind": kind,
        "grid_id": grid.id if grid is not None else None,
        "asset_codes": codes,
        "cadence_unit": unit,
        "cadence_every": every,
        "start_on": start_on,
        "end_on": end_on,
        "checklist": checklist,
        "active": _bool(values.get("active"), default=True),
    }


# --- Saving ---------------------------------------------------------------------------------


def plan_record(plan: InspectionPlan) -> dict[str, Any]:
    """The plan as plain values, for the audit trail (names rather than ids)."""
    contractor = db.session.get(Contractor, plan.contractor_id)
    grid = db.session.get(Grid, plan.grid_id) if plan.grid_id is not None else None
    return {
        "name": plan.name,
        "contractor": contractor.name if contractor is not None else None,
        "asset_kind": plan.asset_kind,
        "grid": grid.code if grid is not None else None,
        "asset_codes": list(plan.asset_codes) if plan.asset_codes is not None else None,
        "cadence_unit": plan.cadence_unit,
        "cadence_every": plan.cadence_every,
        "start_on": plan.start_on.isoformat() if plan.start_on else None,
        "end_on": plan.end_on.isoformat() if plan.end_on else None,
        "checklist": list(plan.checklist) if plan.checklist is not None else None,
        "active": plan.active,
    }


def plan_overlaps(cleaned: Mapping[str, Any], plan_id: int | None = None) -> list[PlanOverlap]:
    """The other active plans (not ``plan_id``) whose period meets this plan's and that
    cover some of the same assets (so of the same kind), with those assets. An inactive plan
    overlaps nothing."""
    if not cleaned.get("active", True):
        return []
    candidate = InspectionPlan(**cleaned)
    mine = plan_assets(candidate).with_only_columns(Asset.id).order_by(None)
    others = select(InspectionPlan).where(InspectionPlan.active.is_(True))
    if plan_id is not None:
        others = others.where(InspectionPlan.id != plan_id)
    if cleaned.get("end_on") is not None:
        others = others.where(InspectionPlan.start_on <= cleaned["end_on"])
    others = others.where(
        or_(InspectionPlan.end_on.is_(None), InspectionPlan.end_on >= cleaned["start_on"])
    )
    overlaps = []
    for other in db.session.scalars(others.order_by(InspectionPlan.id)):
        shared = plan_assets(other).where(Asset.id.in_(mine))
        count = db.session.scalar(shared.with_only_columns(func.count(Asset.id)).order_by(None))
        if not count:
            continue
        codes = db.session.scalars(
            shared.with_only_columns(Asset.code).order_by(Asset.code).limit(SHOWN_CODES)
        ).all()
        contractor = db.session.get(Contractor, other.contractor_id)
        overlaps.append(PlanOverlap(other.id, other.name, contractor.name, count, list(codes)))
    return overlaps


def _check_overlap(
    cleaned: Mapping[str, Any], plan_id: int | None, allow_overlap: bool
) -> list[PlanOverlap]:
    overlaps = plan_overlaps(cleaned, plan_id)
    if overlaps and not allow_overlap:
        raise PlanOverlapError(overlaps)
    return overlaps


def _audit_overlap(plan: InspectionPlan, overlaps: list[PlanOverlap]) -> None:
    if overlaps:
        record_change(
            "overlap_confirmed",
            "plan",
            str(plan.id),
            None,
            {"overlaps": [overlap.record() for overlap in overlaps]},
        )


def create_plan(
    values: Mapping[str, Any], today: date | None = None, allow_overlap: bool = False
) -> PlanSaved:
    """Check, add and audit a plan, then generate its inspections over the horizon.

    A plan covering assets another active plan covers raises ``PlanOverlapError`` unless
    ``allow_overlap`` (then the confirmed overlap is audited)."""
    cleaned = validated_plan_values(values)
    overlaps = _check_overlap(cleaned, None, allow_overlap)
    plan = InspectionPlan(**cleaned)
    db.session.add(plan)
    db.session.flush()
    record_change("create", "plan", str(plan.id), None, plan_record(plan))
    _audit_overlap(plan, overlaps)
    created = generate_for_plan(plan, today)
    return PlanSaved(plan, created=created, removed=0)


def update_plan(
    plan: InspectionPlan,
    values: Mapping[str, Any],
    today: date | None = None,
    allow_overlap: bool = False,
) -> PlanSaved:
    """Check and apply new values; when the schedule changed, regenerate the plan's future,
    not-started inspections (past, completed and cancelled ones are kept). An overlap with
    another active plan is refused as in ``create_plan`` unless ``allow_overlap``."""
    cleaned = validated_plan_values(values)
    overlaps = _check_overlap(cleaned, plan.id, allow_overlap)
    before = plan_record(plan)
    for key, value in cleaned.items():
        setattr(plan, key, value)
    db.session.flush()
    _audit_overlap(plan, overlaps)
    return _saved_after_change(plan, before, today)


def set_plan_active(plan: InspectionPlan, active: bool, today: date | None = None) -> PlanSaved:
    """Deactivate (removing its future scheduled inspections) or reactivate a plan."""
    before = plan_record(plan)
    plan.active = active
    db.session.flush()
    return _saved_after_change(plan, before, today)


def _saved_after_change(plan: InspectionPlan, before: dict, today: date | None) -> PlanSaved:
    old, new = changed_fields(before, plan_record(plan))
    if not new:
        return PlanSaved(plan, created=0, removed=0, changed=False)
    record_change("update", "plan", str(plan.id), old, new)
    if not any(key in new for key in SCHEDULE_FIELDS):
        return PlanSaved(plan, created=0, removed=0)
    removed, created = regenerate_plan(plan, today)
    return PlanSaved(plan, created=created, removed=removed)


def plan_or_none(plan_id: int) -> InspectionPlan | None:
    return db.session.get(InspectionPlan, plan_id)


# --- Describing -----------------------------------------------------------------------------


def cadence_words(plan: InspectionPlan) -> str:
    """E.g. "every 1 month from 2026-01-10" (and "until 2026-12-31" when it ends)."""
    every, start = plan.cadence_every, plan.start_on.isoformat()
    unit = plan.cadence_unit
    if unit == "day":
        text = ngettext(
            "every %(num)s day from %(start)s",
            "every %(num)s days from %(start)s",
            every,
            start=start,
        )
    elif unit == "week":
        text = ngettext(
            "every %(num)s week from %(start)s",
            "every %(num)s weeks from %(start)s",
            every,
            start=start,
        )
    elif unit == "month":
        text = ngettext(
            "every %(num)s month from %(start)s",
            "every %(num)s months from %(start)s",
            every,
            start=start,
        )
    elif unit == "quarter":
        text = ngettext(
            "every %(num)s quarter from %(start)s",
            "every %(num)s quarters from %(start)s",
            every,
            start=start,
        )
    else:
        text = ngettext(
            "every %(num)s year from %(start)s",
            "every %(num)s years from %(start)s",
            every,
            start=start,
        )
    if plan.end_on is not None:
        text = _("%(cadence)s until %(end)s", cadence=text, end=plan.end_on.isoformat())
    return text


def scope_words(plan: InspectionPlan) -> str:
    """Which assets, in words: kind, grid and listed codes, or "all assets"."""
    parts = []
    if plan.asset_kind is not None:
        kind = kind_named(plan.asset_kind)
        parts.append(str(kind.label) if kind is not None else plan.asset_kind)
    if plan.grid_id is not None:
        grid = db.session.get(Grid, plan.grid_id)
        if grid is not None and grid.level == 1:
            parts.append(_("in grid %(code)s and its grids", code=grid.code))
        elif grid is not None:
            parts.append(_("in grid %(code)s", code=grid.code))
    if plan.asset_codes:
        codes = plan.asset_codes
        shown = ", ".join(codes[:SHOWN_CODES])
        if len(codes) > SHOWN_CODES:
            shown = _("%(codes)s and %(n)s more", codes=shown, n=len(codes) - SHOWN_CODES)
        parts.append(_("codes %(codes)s", codes=shown))
    if not parts:
        return _("all assets")
    return " · ".join(parts)


def plan_checklist(plan: InspectionPlan) -> tuple[ChecklistItem, ...]:
    """The checklist items in force: the plan's subset, or its kind's whole checklist.

    A plan without a kind has no single checklist (each asset uses its kind's): empty here.
    """
    kind = kind_named(plan.asset_kind) if plan.asset_kind else None
    if kind is None:
        return ()
    return kind.checklist_items(plan.checklist)


def next_due_dates(plan: InspectionPlan, count: int = 5, today: date | None = None) -> list[date]:
    """The plan's next ``count`` due dates from today on (none when inactive or ended)."""
    if not plan.active:
        return []
    today = district_today() if today is None else today
    span = LONGEST_UNIT_DAYS[plan.cadence_unit] * plan.cadence_every * count
    dates = occurrences(
        plan.start_on,
        plan.cadence_unit,
        plan.cadence_every,
        today,
        max(today, plan.start_on) + timedelta(days=span),
        plan.end_on,
    )
    return dates[:count]


def covered_asset_count_query(plan: InspectionPlan) -> Select:
    """Counts the (non-retired) assets the plan covers now: ``count(*)`` rather than of a
    column, so that an index of kind, grid and status answers it without reading the assets
    (PostgreSQL's index-only scan; ``count(assets.id)`` read every row of a province's plan)."""
    return plan_assets(plan).order_by(None).with_only_columns(func.count())


def covered_asset_count(plan: InspectionPlan) -> int:
    """How many (non-retired) assets the plan covers now."""
    return db.session.scalar(covered_asset_count_query(plan)) or 0
