"""Bulk actions on the inspection list: staff cancel, reassign or reschedule a selection.

Rules of ``bulk_change`` (the list page calls it; the caller commits once):

- Staff only; anyone else is refused as if the inspections did not exist.
- A selection, an action (``BULK_ACTIONS``) and a reason are required. Reassigning needs a
  contractor whose contract is in force today; rescheduling a date no earlier than today in
  the district.
- All or nothing: when any selected inspection is completed, cancelled or unknown, the whole
  selection is refused naming them (422). A reschedule that would give a plan two inspections
  of one asset on one date (the unique plan/asset/due date constraint) is a conflict naming
  the inspection (409). A refusal writes nothing.
- Each inspection changes through the same function as one inspection would
  (``cancel_inspection``, ``reassign_inspection``, ``reschedule_inspection``), audited with
  its values before and after and the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, tuple_

from accounts.access import is_staff, visible
from accounts.models import Contractor, User
from core import clock
from core.audit import record_change
from core.errors import ConflictError, conflict_on_integrity_error
from core.extensions import db
from core.inputs import date_in_range, date_range_message, id_or_none
from inspections.models import Inspection, InspectionStatus
from inspections.on_time import forget_on_time
from inspections.results import (
    REASON_MAX_LENGTH,
    InspectionNotFoundError,
    InspectionValidationError,
    cancel_inspection,
    ensure_open,
    inspection_record,
)

BULK_ACTIONS = ("cancel", "reassign", "reschedule")
BULK_MAX = 200  # the longest page of the list


def inspection_name(inspection: Inspection) -> str:
    """How a refusal names an inspection: its number, asset and due date."""
    return f"#{inspection.id} {inspection.asset.code} {inspection.due_on.isoformat()}"


def contractors_in_force(today: date | None = None) -> list[Contractor]:
    """Contractors work may be given to: their contract has begun and not ended."""
    today = today or clock.district_today()
    query = (
        select(Contractor)
        .where(
            or_(Contractor.active_from.is_(None), Contractor.active_from <= today),
            or_(Contractor.active_until.is_(None), Contractor.active_until >= today),
        )
        .order_by(Contractor.name)
    )
    return list(db.session.scalars(query))


def checked_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InspectionValidationError({"reason": str(_l("Give a reason for the change."))})
    if len(reason) > REASON_MAX_LENGTH:
        raise InspectionValidationError(
            {"reason": str(_l("At most %(n)s characters.", n=REASON_MAX_LENGTH))}
        )
    return reason


def _audit(action: str, inspection: Inspection, before: dict, reason: str) -> None:
    after = {**inspection_record(inspection), "reason": reason}
    record_change(action, "inspection", str(inspection.id), before, after)


def reassign_inspection(inspection: Inspection, contractor: Contractor, reason: str) -> Inspection:
    """Give a scheduled inspection to another contractor; the caller commits."""
    ensure_open(inspection)
    reason = checked_reason(reason)
    before = inspection_record(inspection)
    inspection.contractor_id = contractor.id
    inspection.contractor = contractor
    _audit("reassign", inspection, before, reason)
    forget_on_time(inspection.due_on)  # the totals are per contractor
    return inspection


def reschedule_inspection(inspection: Inspection, due_on: date, reason: str) -> Inspection:
    """Move a scheduled inspection to ``due_on``; the caller commits."""
    ensure_open(inspection)
    reason = checked_reason(reason)
    before = inspection_record(inspection)
    forget_on_time(inspection.due_on)
    inspection.due_on = due_on
    _audit("reschedule", inspection, before, reason)
    forget_on_time(due_on)
    return inspection


def _selected_ids(ids: Iterable[int | str]) -> list[int]:
    selected: list[int] = []
    for value in ids:
        number = id_or_none(value)
        if number is None:
            raise InspectionValidationError(
                {"ids": str(_l("%(value)s is not an inspection.", value=value))}
            )
        if number not in selected:
            selected.append(number)
    if not selected:
        raise InspectionValidationError({"ids": str(_l("Select at least one inspection."))})
    if len(selected) > BULK_MAX:
        raise InspectionValidationError(
            {"ids": str(_l("Select at most %(n)s inspections at once.", n=BULK_MAX))}
        )
    return selected


def _checked_input(
    action: str,
    contractor_id: int | str | None,
    due_on: date | str | None,
    reason: str | None,
) -> tuple[Contractor | None, date | None, str]:
    """The contractor to reassign to (if any) and the reason; every bad field at once."""
    errors: dict[str, str] = {}
    contractor = None
    if action not in BULK_ACTIONS:
        errors["action"] = str(_l("Choose an action."))
    elif action == "reassign":
        try:
            contractor = db.session.get(Contractor, int(contractor_id or 0))
        except (TypeError, ValueError):
            contractor = None
        if contractor is None or contractor not in contractors_in_force():
            errors["contractor"] = str(_l("Choose a contractor whose contract is in force."))
    elif action == "reschedule":
        if isinstance(due_on, str):
            try:
                due_on = date.fromisoformat(due_on.strip()) if due_on.strip() else None
            except ValueError:
                errors["due_on"] = str(_l("Not a date (YYYY-MM-DD)."))
                due_on = None
        if "due_on" in errors:
            pass
        elif due_on is None:
            errors["due_on"] = str(_l("Choose the new due date."))
        elif due_on < clock.district_today():
            errors["due_on"] = str(_l("The new due date cannot be in the past."))
        elif not date_in_range(due_on):
            errors["due_on"] = date_range_message()
    try:
        reason = checked_reason(reason)
    except InspectionValidationError as error:
        errors.update(error.errors)
    if errors:
        raise InspectionValidationError(errors)
    return contractor, due_on if action == "reschedule" else None, reason or ""


def _open_selection(user: User, ids: Sequence[int]) -> list[Inspection]:
    """The selected inspections, locked; refused whole if any is closed or unknown."""
    query = (
        visible(user, Inspection)
        .where(Inspection.id.in_(ids))
        .order_by(Inspection.due_on, Inspection.id)
        .with_for_update()
    )
    inspections = list(db.session.scalars(query))
    found = {inspection.id for inspection in inspections}
    unknown = [f"#{number}" for number in ids if number not in found]
    closed = [
        inspection_name(inspection)
        for inspection in inspections
        if inspection.status != InspectionStatus.SCHEDULED
    ]
    errors = []
    if closed:
        errors.append(str(_l("Completed or cancelled: %(names)s.", names=", ".join(closed))))
    if unknown:
        errors.append(str(_l("No such inspection: %(names)s.", names=", ".join(unknown))))
    if errors:
        raise InspectionValidationError(
            {"ids": errors},
            " ".join([str(_l("Nothing was changed.")), *errors]),
        )
    return inspections


def _ensure_no_collision(inspections: Sequence[Inspection], due_on: date) -> None:
    """Refuse a reschedule that would give a plan two inspections of an asset on one date."""
    planned = [inspection for inspection in inspections if inspection.plan_id is not None]
    moving = {inspection.id for inspection in planned}
    seen: set[tuple[int, int]] = set()
    for inspection in planned:
        key = (inspection.plan_id, inspection.asset_id)
        if key in seen:
            raise _collision(inspection, due_on)
        seen.add(key)
    if not seen:
        return
    taken = db.session.scalar(
        select(Inspection.id)
        .where(
            tuple_(Inspection.plan_id, Inspection.asset_id).in_(sorted(seen)),
            Inspection.due_on == due_on,
            Inspection.id.not_in(moving),
        )
        .limit(1)
    )
    if taken is not None:
        other = db.session.get(Inspection, taken)
        clash = next(
            inspection
            for inspection in planned
            if (inspection.plan_id, inspection.asset_id) == (other.plan_id, other.asset_id)
        )
        raise _collision(clash, due_on)


def _collision(inspection: Inspection, due_on: date) -> ConflictError:
    return ConflictError(
        _l(
            "%(name)s cannot move to %(date)s: its plan already has an inspection of that "
            "asset on that date. Nothing was changed.",
            name=inspection_name(inspection),
            date=due_on.isoformat(),
        ),
        "ids",
    )


def bulk_change(
    ids: Iterable[int | str],
    action: str,
    reason: str | None,
    user: User,
    contractor_id: int | str | None = None,
    due_on: date | str | None = None,
) -> list[Inspection]:
    """Cancel, reassign or reschedule every selected inspection, or none (module docstring).

    Raises InspectionNotFoundError for anyone but staff, InspectionValidationError for bad
    input or a closed or unknown inspection, ConflictError for a colliding reschedule.
    """
    if not is_staff(user):
        raise InspectionNotFoundError(None)
    selected = _selected_ids(ids)
    contractor, due_on, reason = _checked_input(action, contractor_id, due_on, reason)
    inspections = _open_selection(user, selected)
    if action == "reschedule":
        _ensure_no_collision(inspections, due_on)
    failed = str(_l("Another change to these inspections came first. Nothing was changed."))
    with conflict_on_integrity_error(failed, "ids"):
        for inspection in inspections:
            if action == "cancel":
                cancel_inspection(inspection, user, reason)
            elif action == "reassign":
                reassign_inspection(inspection, contractor, reason)
            else:
                reschedule_inspection(inspection, due_on, reason)
        db.session.flush()
    return inspections
