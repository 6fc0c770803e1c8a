"""On-time totals rolled up per past due date, contractor and grid.

Whether an inspection due on a past day was done on time no longer changes with the passing
days, so the dashboard adds up these totals instead of reading every inspection of the last
months. Logging or cancelling an inspection due that day forgets the day
(``forget_on_time``); it is rolled up again when next asked for (``roll_up_on_time``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, literal, or_, select

from assets.models import Asset
from core.clock import district_zone, now_utc
from core.extensions import db
from core.spatial import insert_ignoring_duplicates, wait_for_other_fillers
from core.types import UTCDateTime
from inspections.models import Inspection, InspectionStatus, OnTimeDay, OnTimeTotal
from inspections.services import overdue_clause


def day_end_utc(day: date) -> datetime:
    """The first instant after ``day`` in the district's time zone, in UTC."""
    zone = district_zone()
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)


def on_time_window(today: date, days: int) -> tuple[date, date]:
    """The due dates counted: from ``today - days`` to yesterday, both included."""
    return today - timedelta(days=days), today - timedelta(days=1)


def _on_time_expression(first: date, last: date) -> ColumnElement[int]:
    """1 for an inspection completed by the end of its due date (district time), else 0.

    The end of each due date in the window is computed here, in Python, with the real zone
    rules (daylight saving included), and handed to SQL as a CASE on ``due_on``: the same on
    both backends, with no per-dialect time-zone functions.
    """
    ends = {
        first + timedelta(days=offset): literal(
            day_end_utc(first + timedelta(days=offset)), UTCDateTime()
        )
        for offset in range((last - first).days + 1)
    }
    deadline = case(ends, value=Inspection.due_on)
    completed_in_time = and_(
        Inspection.status == InspectionStatus.COMPLETED,
        Inspection.completed_at.is_not(None),
        Inspection.completed_at < deadline,
    )
    return func.sum(case((completed_in_time, 1), else_=0))


def _counted_clause(today: date, first: date, last: date) -> ColumnElement[bool]:
    """Due in the window and completed or overdue."""
    return and_(
        Inspection.due_on >= first,
        Inspection.due_on <= last,
        or_(Inspection.status == InspectionStatus.COMPLETED, overdue_clause(today)),
    )


def forget_on_time(due_on: date) -> None:
    """Drop the rolled-up totals of ``due_on`` (an inspection due that day was logged or
    cancelled); they are rolled up again when next asked for."""
    db.session.execute(delete(OnTimeTotal).where(OnTimeTotal.due_on == due_on))
    db.session.execute(delete(OnTimeDay).where(OnTimeDay.due_on == due_on))


def roll_up_on_time(today: date, first: date, last: date) -> None:
    """Make sure every due date in [first, last] (all before ``today``) has its totals.

    Each missing day is claimed by inserting its ``on_time_days`` row (ignoring a row another
    process inserted at the same time), and only the claimed days are read from the
    inspections, in one GROUP BY. Adds to the session; the caller commits (or the totals are
    simply computed again next time).
    """
    wanted = {first + timedelta(days=offset) for offset in range((last - first).days + 1)}
    present = set(
        db.session.scalars(select(OnTimeDay.due_on).where(OnTimeDay.due_on.between(first, last)))
    )
    missing = sorted(wanted - present)
    if not missing:
        return
    wait_for_other_fillers()
    claim = insert_ignoring_duplicates(OnTimeDay.__table__).returning(OnTimeDay.__table__.c.due_on)
    computed_at = now_utc()
    claimed = db.session.scalars(
        claim, [{"due_on": day, "computed_at": computed_at} for day in missing]
    ).all()
    if not claimed:
        return
    query = (
        select(
            Inspection.due_on,
            Inspection.contractor_id,
            Asset.grid_id,
            _on_time_expression(min(claimed), max(claimed)),
            func.count(),
        )
        .select_from(Inspection)
        .join(Asset, Asset.id == Inspection.asset_id)
        .where(_counted_clause(today, min(claimed), max(claimed)), Inspection.due_on.in_(claimed))
        .group_by(Inspection.due_on, Inspection.contractor_id, Asset.grid_id)
    )
    totals = [
        {
            "due_on": due_on,
            "contractor_id": contractor_id,
            "grid_id": grid_id,
            "on_time": int(on_time or 0),
            "counted": int(counted),
        }
        for due_on, contractor_id, grid_id, on_time, counted in db.session.execute(query)
    ]
    if totals:
        db.session.execute(insert(OnTimeTotal), totals)
