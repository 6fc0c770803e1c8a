"""The dashboard's weekly trend: what was overdue at the end of each of the last 12 ISO weeks.

``overdue_trend`` counts what was overdue at the end of each ISO week (Sunday, district
time), as it stood then:

- an inspection: due before that Sunday, and neither completed nor cancelled by the end of it
  (``completed_at``, ``cancelled_at`` empty or later). One cancelled with no known time
  (before migration 0012, with no audit entry) is left out of every week.
- a hazard: deadline before that Sunday, and not verified at the end of it: its status then
  is the last step of its history (``HazardEvent``) before that instant, so one verified,
  reopened and verified again is overdue in the weeks between and not in the others. A
  verified hazard with no ``verified`` step in its history counts as verified since its
  ``status_changed_at``.

The current week's point is today's count (the week is not over).
Past weeks are rolled up: a past Sunday's counts can change only when its history is
rewritten, so they are computed once per Sunday and grid (``overdue_week_totals``, for staff,
who see everything), and only the current week is counted live. The roll-up is a cache:

- a missing Sunday is claimed (its ``overdue_weeks`` row, inserted ignoring a row another
  process inserted at the same time) and the claimed Sundays are read in one scan, grouped
  by grid; the caller commits (the dashboard view does), or they are computed again.
- any flush that could change a past Sunday's counts empties the roll-up in the same
  transaction (``_forget_when_the_past_changes``, a ``before_flush`` listener): an inspection
  or hazard added or removed with a past due date or deadline, a due date or deadline moved,
  a completion or cancellation time before this week (a result logged later with the time it
  was done), an asset or hazard that changed grid, a verified hazard reopened, a step of a
  hazard's history dated before this week. A completion, cancellation or hazard step made now
  changes only the current week, which is live. Writes that bypass the ORM with history in
  them call ``forget_overdue_weeks()`` themselves.
- Sundays that have not ended by the clock's now (a ``today`` ahead of it) are never rolled
  up, so the listener's "this week" always covers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    event,
    func,
    insert,
    inspect,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from accounts.access import sees_everything, visible_clause
from assets.models import Asset
from assets.services import grid_clause
from core.clock import district_today, district_zone, now_utc
from core.extensions import db
from core.spatial import insert_ignoring_duplicates, wait_for_other_fillers
from dashboard.models import OverdueWeek, OverdueWeekTotal
from dashboard.overdue import _hazards, _inspections
from hazards.models import Hazard, HazardEvent, HazardStatus
from hazards.services import hazard_overdue_clause
from inspections.models import Inspection, InspectionStatus
from inspections.services import overdue_clause

if TYPE_CHECKING:
    from accounts.models import User

TREND_WEEKS = 12


@dataclass(frozen=True)
class WeekPoint:
    week: str  # ISO week, "2026-W10"
    day: date  # the day counted: the week's Sunday, today for the current week
    inspections: int
    hazards: int


def _end_of(day: date) -> datetime:
    """The instant the district's ``day`` ends, in UTC."""
    local = datetime.combine(day + timedelta(days=1), time(), tzinfo=district_zone())
    return local.astimezone(UTC)


def trend_days(today: date, weeks: int = TREND_WEEKS) -> list[date]:
    """The Sundays of the last ``weeks`` ISO weeks, the current week's replaced by today."""
    sunday = today + timedelta(days=6 - today.weekday())
    days = [sunday - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]
    return [min(day, today) for day in days]


# --- Counted from the data -------------------------------------------------------------------


def _verified_spans():
    """Each time a hazard was verified: (hazard_id, since, until), ``until`` the next step of
    its history (empty while it is still verified); a verified hazard with no ``verified``
    step in its history: since its ``status_changed_at``."""
    later = aliased(HazardEvent)
    until = (
        select(func.min(later.at))
        .where(later.hazard_id == HazardEvent.hazard_id, later.id > HazardEvent.id)
        .scalar_subquery()
    )
    stepped = select(
        HazardEvent.hazard_id.label("hazard_id"),
        HazardEvent.at.label("since"),
        until.label("until"),
    ).where(HazardEvent.to_status == HazardStatus.VERIFIED)
    any_step = (
        select(HazardEvent.id)
        .where(HazardEvent.hazard_id == Hazard.id, HazardEvent.to_status == HazardStatus.VERIFIED)
        .exists()
    )
    unstepped = select(
        Hazard.id.label("hazard_id"),
        Hazard.status_changed_at.label("since"),
        null().label("until"),
    ).where(Hazard.status == HazardStatus.VERIFIED, ~any_step)
    return union_all(stepped, unstepped).subquery("verified_spans")


def _inspection_counts(days: list[date], user: User | None, grid: str, by_grid: bool) -> list:
    """Rows of (grid_id if ``by_grid``, then one count per day)."""
    first_end, last = _end_of(days[0]), days[-1]

    def open_at(end: datetime) -> ColumnElement[bool]:
        return and_(
            or_(Inspection.completed_at.is_(None), Inspection.completed_at >= end),
            or_(Inspection.cancelled_at.is_(None), Inspection.cancelled_at >= end),
        )

    sums = [
        func.sum(case((and_(Inspection.due_on < day, open_at(_end_of(day))), 1), else_=0))
        for day in days
    ]
    query = (
        _inspections(user, grid)
        .with_only_columns(*([Asset.grid_id] if by_grid else []), *sums)
        .where(
            or_(
                Inspection.status != InspectionStatus.CANCELLED,
                Inspection.cancelled_at >= first_end,
            ),
            Inspection.due_on < last,
            open_at(first_end),
        )
    )
    if by_grid:
        query = query.group_by(Asset.grid_id)
    return list(db.session.execute(query))


def _hazard_counts(days: list[date], user: User | None, grid: str, by_grid: bool) -> list:
    """Rows of (grid_id if ``by_grid``, then one count per day): per hazard first, whether it
    was verified at the end of each day (its verified spans joined once), then summed."""
    spans = _verified_spans()

    def covers(end: datetime) -> ColumnElement[bool]:
        return and_(spans.c.since < end, or_(spans.c.until.is_(None), spans.c.until >= end))

    per_hazard = (
        _hazards(user, grid)
        .outerjoin(spans, spans.c.hazard_id == Hazard.id)
        .with_only_columns(
            Hazard.grid_id.label("grid_id"),
            Hazard.deadline.label("deadline"),
            *(
                func.max(case((covers(_end_of(day)), 1), else_=0)).label(f"verified_{index}")
                for index, day in enumerate(days)
            ),
        )
        .where(Hazard.deadline < days[-1])
        .group_by(Hazard.id, Hazard.grid_id, Hazard.deadline)
        .subquery("per_hazard")
    )
    sums = [
        func.sum(
            case(
                (
                    and_(
                        per_hazard.c.deadline < day,
                        func.coalesce(per_hazard.c[f"verified_{index}"], 0) == 0,
                    ),
                    1,
                ),
                else_=0,
            )
        )
        for index, day in enumerate(days)
    ]
    query = select(*([per_hazard.c.grid_id] if by_grid else []), *sums)
    if by_grid:
        query = query.group_by(per_hazard.c.grid_id)
    return list(db.session.execute(query))


def _counted_live(days: list[date], user: User | None, grid: str) -> dict[date, tuple[int, int]]:
    if not days:
        return {}
    (inspections,) = _inspection_counts(days, user, grid, by_grid=False)
    (hazards,) = _hazard_counts(days, user, grid, by_grid=False)
    return {
        day: (int(inspections[index] or 0), int(hazards[index] or 0))
        for index, day in enumerate(days)
    }


def _counted_today(today: date, user: User | None, grid: str) -> tuple[int, int]:
    """The current week's point: what is overdue today (the lists' rule, on their indexes)."""
    counted = select(func.count()).select_from(Inspection)
    if grid:  # the whole district needs no asset: the count is read from the index alone
        counted = counted.join(Asset, Asset.id == Inspection.asset_id).where(
            grid_clause(Asset.grid_id, grid)
        )
    inspections = db.session.scalar(
        counted.where(visible_clause(user, Inspection), overdue_clause(today))
    )
    hazards = db.session.scalar(
        _hazards(user, grid).with_only_columns(func.count()).where(hazard_overdue_clause(today))
    )
    return int(inspections or 0), int(hazards or 0)


# --- Rolled up -------------------------------------------------------------------------------


def roll_up_weeks(days: list[date]) -> None:
    """Make sure every past Sunday in ``days`` has its totals per grid (see the module
    docstring). Adds to the session; the caller commits."""
    present = set(db.session.scalars(select(OverdueWeek.day).where(OverdueWeek.day.in_(days))))
    missing = sorted(set(days) - present)
    if not missing:
        return
    wait_for_other_fillers()
    claim = insert_ignoring_duplicates(OverdueWeek.__table__).returning(OverdueWeek.__table__.c.day)
    computed_at = now_utc()
    claimed = sorted(
        db.session.scalars(claim, [{"day": day, "computed_at": computed_at} for day in missing])
    )
    if not claimed:
        return
    totals: dict[Any, list[int]] = {}
    for counts, at in (
        (_inspection_counts(claimed, None, "", by_grid=True), 0),
        (_hazard_counts(claimed, None, "", by_grid=True), 1),
    ):
        for grid_id, *per_day in counts:
            for index, count in enumerate(per_day):
                totals.setdefault((claimed[index], grid_id), [0, 0])[at] += int(count or 0)
    rows = [
        {"day": day, "grid_id": grid_id, "inspections": counts[0], "hazards": counts[1]}
        for (day, grid_id), counts in totals.items()
        if counts != [0, 0]
    ]
    if rows:
        db.session.execute(insert(OverdueWeekTotal), rows)


def _rolled_up(days: list[date], grid: str) -> dict[date, tuple[int, int]]:
    roll_up_weeks(days)
    query = (
        select(
            OverdueWeekTotal.day,
            func.sum(OverdueWeekTotal.inspections),
            func.sum(OverdueWeekTotal.hazards),
        )
        .where(OverdueWeekTotal.day.in_(days), grid_clause(OverdueWeekTotal.grid_id, grid))
        .group_by(OverdueWeekTotal.day)
    )
    counted = {day: (0, 0) for day in days}
    for day, inspections, hazards in db.session.execute(query):
        counted[day] = (int(inspections or 0), int(hazards or 0))
    return counted


def forget_overdue_weeks() -> None:
    """Empty the roll-up (past data changed); it is rolled up again when next asked for."""
    db.session.execute(delete(OverdueWeekTotal.__table__))
    db.session.execute(delete(OverdueWeek.__table__))


# --- The trend -------------------------------------------------------------------------------


def overdue_trend(
    today: date | None = None, user: User | None = None, grid: str = "", weeks: int = TREND_WEEKS
) -> list[WeekPoint]:
    """Overdue inspections and hazards at the end of each of the last ``weeks`` ISO weeks
    (the module docstring says how): past Sundays from the roll-up for staff, the rest
    counted."""
    today = district_today() if today is None else today
    days = trend_days(today, weeks)
    past = [day for day in days[:-1] if _end_of(day) <= now_utc()]
    if sees_everything(user):
        counted = _rolled_up(past, grid)
        counted.update(_counted_live([day for day in days[:-1] if day not in counted], user, grid))
    else:
        counted = _counted_live(days[:-1], user, grid)
    counted[days[-1]] = _counted_today(today, user, grid)
    return [
        WeekPoint(
            f"{day.isocalendar().year}-W{day.isocalendar().week:02d}",
            day,
            *counted[day],
        )
        for day in days
    ]


# --- Forgetting when the past changes ----------------------------------------------------------


def _this_week_start() -> datetime:
    """The end of the last Sunday before the clock's today: every rolled-up Sunday ended by
    then."""
    today = district_today()
    return _end_of(today - timedelta(days=today.weekday() + 1))


def _changed(record: Any, name: str) -> tuple[list, bool]:
    """(the attribute's old and new values, whether it changed) in this flush."""
    history = inspect(record).attrs[name].history
    return [*history.deleted, *history.added], history.has_changes()


def _day_before(value: Any, week_start: datetime) -> bool:
    if isinstance(value, datetime):
        return value < week_start
    if isinstance(value, date):
        return value < week_start.astimezone(district_zone()).date()
    return value is None


def _rewrites_the_past(record: Any, state: str, week_start: datetime) -> bool:
    if isinstance(record, Inspection):
        if state != "dirty":
            return record.due_on is None or _day_before(record.due_on, week_start)
        if any(_changed(record, name)[1] for name in ("due_on", "asset_id")):
            return True
        for name in ("completed_at", "cancelled_at"):
            values, changed = _changed(record, name)
            if changed and any(v is not None and v < week_start for v in values):
                return True
        values, changed = _changed(record, "status")
        if changed and InspectionStatus.CANCELLED in values:
            return record.cancelled_at is None or record.cancelled_at < week_start
        return False
    if isinstance(record, Hazard):
        if state != "dirty":
            return record.deadline is None or _day_before(record.deadline, week_start)
        for name in ("deadline", "grid_id"):
            if _changed(record, name)[1]:
                return True
        values, changed = _changed(record, "status")
        return changed and HazardStatus.VERIFIED in values and record.status != "verified"
    if isinstance(record, HazardEvent):
        return record.at is None or record.at < week_start or state == "deleted"
    if isinstance(record, Asset):
        return state == "deleted" or (state == "dirty" and _changed(record, "grid_id")[1])
    return False


@event.listens_for(Session, "before_flush")
def _forget_when_the_past_changes(session: Session, flush_context, instances) -> None:
    records = [
        *((record, "new") for record in session.new),
        *((record, "dirty") for record in session.dirty),
        *((record, "deleted") for record in session.deleted),
    ]
    watched = (Inspection, Hazard, HazardEvent, Asset)
    if not any(isinstance(record, watched) for record, _ in records):
        return
    week_start = _this_week_start()
    if not any(_rewrites_the_past(record, state, week_start) for record, state in records):
        return
    connection = session.connection()
    # A schema before migration 0012 (a migration's own test writing its rows) has no roll-up.
    if inspect(connection).has_table(OverdueWeek.__tablename__):
        connection.execute(delete(OverdueWeekTotal.__table__))
        connection.execute(delete(OverdueWeek.__table__))
