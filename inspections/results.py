"""The contractor's side of inspections: who sees which, the filtered list, logging a result.

A contractor user sees only its own company's inspections; every other inspection does not
exist for it (404, never 403). Staff (administrators and officers) see all. Whoever sees an
inspection may log its result.

Rules of ``record_result`` (the form and the API both call it):

- ``answers`` maps every item of the checklist in force (the plan's subset of the asset kind's
  checklist, or the whole checklist) to "pass", "fail" or "na"; unknown items are refused.
- ``result`` is "pass" or "fail"; a failed item forces "fail".
- ``completed_at`` defaults to now. A time up to ``CLOCK_SKEW`` ahead (a phone clock running
  fast) is taken as now; later is refused. It may be backdated by at most ``MAX_BACKDATE``
  (a late entry of a paper record), not further.
- ``longitude``/``latitude`` (both or neither) and ``accuracy`` say where the inspector stood;
  the distance to the asset is stored and the record is flagged when it is more than
  ``INSPECTION_FLAG_DISTANCE_M`` away. Without a position nothing is flagged.
- Photos are all checked before anything is written.
- A failed result marks an active asset faulty and opens a hazard; a later pass closes nothing.
- A completed inspection cannot be logged again, nor a cancelled one: both are conflicts (409).
- ``idempotency_key`` (optional, made by the client once per result: up to 64 letters, digits
  and ``-_.:``) is stored with the result. The same key sent again is a replay: nothing is
  written and the original result is answered (a retry, a double tap, two tabs, an outbox
  sent twice). A different key, or none, on a completed inspection is still a conflict.
  Completing is a compare-and-set on the status, so of two requests racing for one
  inspection exactly one writes the result; the other sees it, as a replay or a conflict.

Services add to the session and never commit; the caller commits the unit of work once.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, select, update
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from accounts.access import is_staff, may_see, visible
from accounts.models import Contractor, User
from assets.kinds import KINDS, ChecklistItem
from assets.models import Asset, AssetStatus
from assets.services import in_grid, parse_coordinate, step_asset_status
from core import clock
from core.audit import record_change
from core.clock import district_zone
from core.errors import ConflictError, ValidationError
from core.extensions import db
from core.spatial import distance_m, latitude_of, longitude_of
from evidence.photos import PhotoError, add_photos, check_photos
from hazards.services import open_hazard_for_failed_inspection
from inspections.models import Inspection, InspectionResult, InspectionStatus
from inspections.on_time import forget_on_time
from inspections.services import due_soon_clause, overdue_clause

ANSWERS = ("pass", "fail", "na")
RESULTS = tuple(str(result) for result in InspectionResult)
# Stored statuses plus the two derived ones, as accepted by the ``status`` filter.
STATUS_FILTERS = ("overdue", "due_soon", *(str(status) for status in InspectionStatus))
CLOCK_SKEW = timedelta(minutes=2)
MAX_BACKDATE = timedelta(days=90)
NOTES_MAX_LENGTH = 4000
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
REASON_MAX_LENGTH = 1000
# The logging form's script makes larger photos this small (long edge, pixels) on the phone.
PHOTO_MAX_EDGE = 1600


class InspectionValidationError(ValidationError):
    """Bad input; ``errors`` maps each field ("answers.<item>" for one item) to the reason."""


class InspectionConflictError(ConflictError):
    """The inspection is not open for this change (already completed, or cancelled): 409.
    ``status`` is the inspection's."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RecordedResult:
    """What ``record_result`` did: completed ``inspection`` now, or found it completed by an
    earlier request with the same idempotency key (``replayed``: nothing was written)."""

    inspection: Inspection
    replayed: bool = False


class InspectionNotFoundError(LookupError):
    """The user may not see this inspection: for it, the inspection does not exist (404)."""


# --- Who sees what --------------------------------------------------------------------------


def inspection_for(inspection_id: int, user: User) -> Inspection | None:
    """The inspection with this id if ``user`` may see it, else None."""
    return db.session.scalar(visible(user, Inspection).where(Inspection.id == inspection_id))


# --- The filtered list ------------------------------------------------------------------------


@dataclass
class InspectionFilters:
    """The list's filters; empty values filter nothing.

    ``status`` is one of STATUS_FILTERS; ``overdue``/``due_soon`` are the same derived states
    as flags. ``grid`` is a grid code (a first-level grid includes its children),
    ``contractor`` a contractor's name, ``asset`` an asset code. Unknown names and codes match
    nothing (an unknown contractor and another's look the same).
    """

    status: str | None = None
    overdue: bool = False
    due_soon: bool = False
    kind: str | None = None
    grid: str | None = None
    contractor: str | None = None
    contractor_id: int | None = None
    asset: str | None = None
    flagged: bool | None = None
    due_from: date | None = None
    due_to: date | None = None

    def active(self) -> dict[str, Any]:
        """The filters that are set, by name (``flagged`` False is set: "not flagged")."""
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        return {
            key: value
            for key, value in values.items()
            if value not in (None, "") and (value is not False or key == "flagged")
        }


def inspection_query(
    user: User, filters: InspectionFilters | None = None, today: date | None = None
) -> Select:
    """``select(Inspection)`` of what ``user`` may see, filtered, ordered by (due_on, id).

    Every condition is on the inspections table itself (asset, grid and contractor filters are
    subqueries), so "overdue for contractor X, first page" walks the index
    ``ix_inspections_contractor_status_due`` in order and stops at the page's limit.
    ``today`` defaults to the district's today.
    """
    filters = filters or InspectionFilters()
    query = visible(user, Inspection)
    conditions = []
    status = filters.status or None
    if status == "overdue" or filters.overdue:
        conditions.append(overdue_clause(today))
    if status == "due_soon" or filters.due_soon:
        conditions.append(due_soon_clause(today))
    if status in {str(value) for value in InspectionStatus}:
        conditions.append(Inspection.status == status)
    if filters.contractor_id is not None:
        conditions.append(Inspection.contractor_id == filters.contractor_id)
    if filters.contractor:
        contractor_id = select(Contractor.id).where(Contractor.name == filters.contractor.strip())
        conditions.append(Inspection.contractor_id == contractor_id.scalar_subquery())
    asset_conditions = []
    if filters.asset:
        asset_conditions.append(Asset.code == filters.asset.strip().upper())
    if filters.kind:
        asset_conditions.append(Asset.kind == filters.kind)
    if filters.grid:
        asset_conditions.append(in_grid(Asset.grid_id, filters.grid))
    if asset_conditions:
        conditions.append(Inspection.asset_id.in_(select(Asset.id).where(*asset_conditions)))
    if filters.flagged is not None:
        conditions.append(Inspection.flagged.is_(filters.flagged))
    if filters.due_from is not None:
        conditions.append(Inspection.due_on >= filters.due_from)
    if filters.due_to is not None:
        conditions.append(Inspection.due_on <= filters.due_to)
    return query.where(*conditions).order_by(Inspection.due_on, Inspection.id)


# The list's orders, by the value of its ``sort`` argument; the first is the default.
LIST_ORDERS = ("urgent", "due", "-due")
DEFAULT_LIST_ORDER = "urgent"


def list_parts(query: Select, sort: str | None = None) -> list[Select]:
    """``query`` of inspections in the list order ``sort``, as consecutive parts to page
    through with ``core.paging.page_of_parts``:

    - "urgent" (the default), the most urgent first: the open (scheduled) ones by due date,
      so the longest overdue, then today's, then the coming days'; after them the completed
      and cancelled ones, the latest due first. Each part is in an index's order.
    - "due" / "-due": by due date, earliest / latest first.

    The id breaks ties.
    """
    query = query.order_by(None)
    earliest = (Inspection.due_on.asc(), Inspection.id.asc())
    latest = (Inspection.due_on.desc(), Inspection.id.desc())
    if sort == "due":
        return [query.order_by(*earliest)]
    if sort == "-due":
        return [query.order_by(*latest)]
    scheduled = Inspection.status == InspectionStatus.SCHEDULED
    return [query.where(scheduled).order_by(*earliest), query.where(~scheduled).order_by(*latest)]


# --- Reading one ------------------------------------------------------------------------------


def checklist_for(inspection: Inspection) -> tuple[ChecklistItem, ...]:
    """The checklist in force: the plan's subset of the asset kind's checklist, or all of it."""
    kind = KINDS.get(inspection.asset.kind)
    if kind is None:
        return ()
    plan = inspection.plan
    return kind.checklist_items(plan.checklist if plan is not None else None)


def asset_point(asset_id: int) -> tuple[float, float]:
    return db.session.execute(
        select(longitude_of(Asset.location), latitude_of(Asset.location)).where(
            Asset.id == asset_id
        )
    ).one()


def inspection_record(inspection: Inspection) -> dict[str, Any]:
    """The audited view of an inspection (plain values)."""
    return {
        "asset_id": inspection.asset_id,
        "contractor_id": inspection.contractor_id,
        "due_on": inspection.due_on,
        "status": inspection.status,
        "result": inspection.result,
        "answers": inspection.answers,
        "notes": inspection.notes,
        "completed_at": inspection.completed_at,
        "inspector_id": inspection.inspector_id,
        "stood_longitude": inspection.stood_longitude,
        "stood_latitude": inspection.stood_latitude,
        "stood_accuracy_m": inspection.stood_accuracy_m,
        "distance_m": inspection.distance_m,
        "flagged": inspection.flagged,
        "cancelled_reason": inspection.cancelled_reason,
        "idempotency_key": inspection.idempotency_key,
    }


# --- Checking the input -----------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _answers(raw: Any, items: Sequence[ChecklistItem], errors: dict[str, str]) -> dict[str, str]:
    if _blank(raw):
        raw = {}
    if not isinstance(raw, Mapping):
        errors["answers"] = str(_l("Must map each checklist item to pass, fail or na."))
        return {}
    known = [item.key for item in items]
    unknown = sorted(str(key) for key in raw if key not in known)
    if unknown:
        errors["answers"] = str(
            _l("Not on this inspection's checklist: %(items)s.", items=", ".join(unknown))
        )
    answers = {}
    for key in known:
        value = raw.get(key)
        if _blank(value):
            errors[f"answers.{key}"] = str(_l("Answer this item."))
        elif value not in ANSWERS:
            errors[f"answers.{key}"] = str(_l("Must be pass, fail or na."))
        else:
            answers[key] = value
    return answers


def _result(raw: Any, answers: Mapping[str, str], errors: dict[str, str]) -> str | None:
    if _blank(raw):
        errors["result"] = str(_l("This field is required."))
        return None
    if raw not in RESULTS:
        errors["result"] = str(_l("Must be pass or fail."))
        return None
    if raw == InspectionResult.PASS and "fail" in answers.values():
        errors["result"] = str(_l("An inspection with a failed item cannot pass."))
        return None
    return str(raw)


def _notes(raw: Any, errors: dict[str, str]) -> str | None:
    if _blank(raw):
        return None
    if not isinstance(raw, str):
        errors["notes"] = str(_l("Must be text."))
        return None
    if len(raw) > NOTES_MAX_LENGTH:
        errors["notes"] = str(_l("At most %(n)s characters.", n=NOTES_MAX_LENGTH))
        return None
    return raw.strip()


def parse_moment(raw: Any) -> datetime:
    """An aware datetime from a datetime or ISO 8601 text; without an offset it is the
    district's local time (what a ``datetime-local`` input sends). Raises ValueError."""
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    else:
        raise ValueError("not a date and time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=district_zone())
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 in another zone: outside datetime's range
        raise ValueError("out of range") from None


def _completed_at(raw: Any, now: datetime, errors: dict[str, str]) -> datetime | None:
    if _blank(raw):
        return now
    try:
        moment = parse_moment(raw)
    except (TypeError, ValueError):
        errors["completed_at"] = str(_l("Not a date and time (YYYY-MM-DDTHH:MM)."))
        return None
    if moment > now + CLOCK_SKEW:
        errors["completed_at"] = str(_l("Must not be in the future."))
        return None
    if moment < now - MAX_BACKDATE:
        errors["completed_at"] = str(
            _l("Must not be more than %(days)s days ago.", days=MAX_BACKDATE.days)
        )
        return None
    return min(moment, now)


def _position(
    values: Mapping[str, Any], errors: dict[str, str]
) -> tuple[float | None, float | None, float | None]:
    raw_lon, raw_lat = values.get("longitude"), values.get("latitude")
    if _blank(raw_lon) and _blank(raw_lat):
        return None, None, None
    longitude = parse_coordinate(raw_lon, "longitude", 180, errors)
    latitude = parse_coordinate(raw_lat, "latitude", 90, errors)
    accuracy = None
    raw_accuracy = values.get("accuracy")
    if not _blank(raw_accuracy):
        try:
            accuracy = float(raw_accuracy)
        except (TypeError, ValueError):
            accuracy = math.nan
        if isinstance(raw_accuracy, bool) or not math.isfinite(accuracy) or accuracy < 0:
            errors["accuracy"] = str(_l("Must be a number of metres, 0 or more."))
            accuracy = None
    return longitude, latitude, accuracy


def idempotency_key(raw: Any, errors: dict[str, str]) -> str | None:
    """The client's key, or None without one; a malformed key is named in ``errors``."""
    if _blank(raw):
        return None
    if not isinstance(raw, str) or not IDEMPOTENCY_KEY.fullmatch(raw.strip()):
        errors["idempotency_key"] = str(
            _l("At most 64 letters, digits, hyphens, underscores, dots or colons.")
        )
        return None
    return raw.strip()


def new_idempotency_key() -> str:
    """A key for a result about to be filled in (what a browser's crypto.randomUUID makes)."""
    return str(uuid.uuid4())


def replays(inspection: Inspection, key: str | None) -> bool:
    """Whether ``key`` is the key of the inspection's recorded result."""
    return (
        key is not None
        and inspection.status == InspectionStatus.COMPLETED
        and inspection.idempotency_key == key
    )


def ensure_open(inspection: Inspection) -> None:
    """Raise InspectionConflictError unless the inspection is still scheduled."""
    if inspection.status == InspectionStatus.COMPLETED:
        raise InspectionConflictError(
            str(_l("This inspection has been completed already.")), inspection.status
        )
    if inspection.status == InspectionStatus.CANCELLED:
        raise InspectionConflictError(
            str(_l("This inspection was cancelled; no result can be logged.")), inspection.status
        )


# --- Logging a result -------------------------------------------------------------------------


def record_result(
    inspection: Inspection,
    user: User,
    values: Mapping[str, Any],
    photos: Sequence[FileStorage] = (),
) -> RecordedResult:
    """Check everything, then complete the inspection; the caller commits.

    Raises InspectionNotFoundError (the user may not see it), InspectionConflictError
    (completed or cancelled, unless ``values["idempotency_key"]`` is the key of its result:
    then the result is answered as a replay) or InspectionValidationError (naming the fields;
    the photos' problem under "photos") before anything is written.
    """
    if not may_see(user, inspection):
        raise InspectionNotFoundError(inspection.id)
    errors: dict[str, str] = {}
    key = idempotency_key(values.get("idempotency_key"), errors)
    if replays(inspection, key):
        return RecordedResult(inspection, replayed=True)
    ensure_open(inspection)
    now = clock.now_utc()
    answers = _answers(values.get("answers"), checklist_for(inspection), errors)
    result = _result(values.get("result"), answers, errors)
    notes = _notes(values.get("notes"), errors)
    completed_at = _completed_at(values.get("completed_at"), now, errors)
    longitude, latitude, accuracy = _position(values, errors)
    checked = []
    try:
        checked = check_photos(list(photos))
    except PhotoError as error:
        errors["photos"] = str(error)
    if errors:
        raise InspectionValidationError(errors)

    before = inspection_record(inspection)
    if not _claim(inspection, key):
        # Another request completed it since it was read: its result stands.
        db.session.refresh(inspection)
        if replays(inspection, key):
            return RecordedResult(inspection, replayed=True)
        ensure_open(inspection)  # completed with another key, or cancelled: the conflict
    inspection.status = InspectionStatus.COMPLETED
    inspection.idempotency_key = key
    inspection.result = result
    inspection.answers = answers
    inspection.notes = notes
    inspection.completed_at = completed_at
    inspection.logged_at = now
    inspection.inspector_id = user.id
    _place(inspection, longitude, latitude, accuracy)
    db.session.flush()
    add_photos(checked, inspection_id=inspection.id, uploaded_by_id=user.id)
    after = inspection_record(inspection)
    after["photos"] = len(checked)
    record_change("complete", "inspection", str(inspection.id), before, after)
    forget_on_time(inspection.due_on)
    if result == InspectionResult.FAIL:
        _mark_faulty(inspection.asset)
        open_hazard_for_failed_inspection(inspection, user)
    return RecordedResult(inspection)


def _claim(inspection: Inspection, key: str | None) -> bool:
    """Complete the row only if it is still scheduled (see ``_step_from_scheduled``)."""
    return _step_from_scheduled(inspection, InspectionStatus.COMPLETED, idempotency_key=key)


def _step_from_scheduled(inspection: Inspection, status: str, **values: Any) -> bool:
    """Move the row to ``status`` only if it is still scheduled (compare-and-set); whether it
    did. Of two requests for one inspection, the second waits for the first's row lock
    (PostgreSQL) or write lock (SQLite), then finds it moved on and changes nothing."""
    stepped = db.session.execute(
        update(Inspection)
        .where(Inspection.id == inspection.id, Inspection.status == InspectionStatus.SCHEDULED)
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    return stepped.rowcount == 1


def _place(
    inspection: Inspection,
    longitude: float | None,
    latitude: float | None,
    accuracy: float | None,
) -> None:
    inspection.stood_longitude = longitude
    inspection.stood_latitude = latitude
    inspection.stood_accuracy_m = accuracy if longitude is not None else None
    if longitude is None or latitude is None:
        inspection.distance_m = None
        inspection.flagged = False
        return
    asset_longitude, asset_latitude = asset_point(inspection.asset_id)
    distance = distance_m(longitude, latitude, asset_longitude, asset_latitude)
    inspection.distance_m = round(distance, 1)
    inspection.flagged = distance > current_app.config["INSPECTION_FLAG_DISTANCE_M"]


def _mark_faulty(asset: Asset) -> None:
    """An active asset becomes faulty; a faulty one stays so, a retired one stays retired."""
    if asset.status != AssetStatus.ACTIVE:
        return
    if not step_asset_status(asset, AssetStatus.ACTIVE, AssetStatus.FAULTY):
        return  # another result (or an edit) changed it first
    record_change("status", "asset", asset.code, {"status": "active"}, {"status": "faulty"})


# --- Cancelling -------------------------------------------------------------------------------


def cancel_inspection(inspection: Inspection, user: User, reason: str) -> Inspection:
    """Staff cancel a scheduled inspection with a reason; the caller commits.

    Raises InspectionNotFoundError for anyone but staff, InspectionConflictError unless the
    inspection is scheduled, InspectionValidationError without a reason.
    """
    if not is_staff(user):
        raise InspectionNotFoundError(inspection.id)
    ensure_open(inspection)
    reason = (reason or "").strip()
    if not reason:
        raise InspectionValidationError({"reason": str(_l("Give a reason for cancelling."))})
    if len(reason) > REASON_MAX_LENGTH:
        raise InspectionValidationError(
            {"reason": str(_l("At most %(n)s characters.", n=REASON_MAX_LENGTH))}
        )
    before = inspection_record(inspection)
    if not _step_from_scheduled(inspection, InspectionStatus.CANCELLED, cancelled_reason=reason):
        db.session.refresh(inspection)  # completed or cancelled since it was read
        ensure_open(inspection)
    inspection.status = InspectionStatus.CANCELLED
    inspection.cancelled_reason = reason
    inspection.cancelled_at = clock.now_utc()
    record_change("cancel", "inspection", str(inspection.id), before, inspection_record(inspection))
    forget_on_time(inspection.due_on)
    return inspection


OFFLINE_DAYS = 7
OFFLINE_LIMIT = 200


def offline_inspections(user: User, today: date | None = None) -> list[Inspection]:
    """What a contractor's user should have on the phone: its company's scheduled inspections
    due within ``OFFLINE_DAYS`` (overdue ones too), earliest first, at most ``OFFLINE_LIMIT``.
    Staff are assigned nothing."""
    if is_staff(user):
        return []
    today = today or clock.district_today()
    query = visible(user, Inspection).where(
        Inspection.status == InspectionStatus.SCHEDULED,
        Inspection.due_on <= today + timedelta(days=OFFLINE_DAYS),
    )
    query = query.options(selectinload(Inspection.asset))
    return list(
        db.session.scalars(query.order_by(Inspection.due_on, Inspection.id).limit(OFFLINE_LIMIT))
    )


def next_inspection_of(asset: Asset, user: User) -> Inspection | None:
    """The asset's earliest scheduled (not completed, not cancelled) inspection ``user`` sees."""
    query = visible(user, Inspection).where(
        and_(Inspection.asset_id == asset.id, Inspection.status == InspectionStatus.SCHEDULED)
    )
    return db.session.scalar(query.order_by(Inspection.due_on, Inspection.id).limit(1))
