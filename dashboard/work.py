"""A contractor's home: the open work it may see, due now (overdue or today) and in the coming
days, each inspection with its asset's point so that the phone can put the nearest first.

The scope is the access policy's (``accounts.access.visible``); overdue and due soon are the
inspections package's definitions (``inspections.services``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from accounts.access import visible
from accounts.models import User
from assets.models import Asset
from core.clock import district_today
from core.extensions import db
from core.spatial import latitude_of, longitude_of
from inspections.models import Inspection, InspectionStatus
from inspections.services import DUE_SOON_DAYS, is_overdue

# More than this many inspections due now (or in the coming days) is not a day's work: the
# home shows the most urgent ones and counts the rest (the inspection list has them all).
WORK_LIMIT = 200


@dataclass(frozen=True)
class WorkItem:
    """One open inspection with its asset's point (WGS-84, as the phone reports its own)."""

    inspection: Inspection
    longitude: float
    latitude: float
    days_overdue: int  # 0 when due today or later


@dataclass(frozen=True)
class ComingDay:
    day: date
    items: list[WorkItem]


@dataclass
class Work:
    today: date
    now: list[WorkItem] = field(default_factory=list)  # overdue, then due today
    coming: list[ComingDay] = field(default_factory=list)  # the next DUE_SOON_DAYS days
    now_left_out: int = 0  # due now beyond WORK_LIMIT
    coming_left_out: int = 0  # due in the coming days beyond WORK_LIMIT

    @property
    def total(self) -> int:
        shown = len(self.now) + sum(len(day.items) for day in self.coming)
        return shown + self.now_left_out + self.coming_left_out


def _items(
    user: User | None, today: date, first: date | None, last: date, limit: int
) -> tuple[list[WorkItem], int]:
    """The scheduled inspections ``user`` may see due in [first, last] (no lower bound
    without ``first``), the earliest due first, at most ``limit``; and how many more."""
    window = visible(user, Inspection).where(
        Inspection.status == InspectionStatus.SCHEDULED, Inspection.due_on <= last
    )
    if first is not None:
        window = window.where(Inspection.due_on >= first)
    rows = db.session.execute(
        window.join(Asset, Asset.id == Inspection.asset_id)
        .add_columns(longitude_of(Asset.location), latitude_of(Asset.location))
        .options(selectinload(Inspection.asset).selectinload(Asset.grid))
        .order_by(Inspection.due_on, Asset.code, Inspection.id)
        .limit(limit + 1)
    ).all()
    left_out = 0
    if len(rows) > limit:
        rows = rows[:limit]
        counted = select(func.count()).select_from(window.order_by(None).subquery())
        left_out = db.session.scalar(counted) - limit
    items = [
        WorkItem(
            inspection,
            float(longitude),
            float(latitude),
            (today - inspection.due_on).days if is_overdue(inspection, today) else 0,
        )
        for inspection, longitude, latitude in rows
    ]
    return items, left_out


def open_work(user: User | None, today: date | None = None, limit: int | None = None) -> Work:
    """The scheduled inspections ``user`` may see that are due now (overdue or today) and in
    the next ``DUE_SOON_DAYS`` days, each part the earliest due first and at most ``limit``
    long, ``WORK_LIMIT`` unless told (a backlog of overdue work leaves the coming days on the
    page)."""
    today = district_today() if today is None else today
    limit = WORK_LIMIT if limit is None else limit
    work = Work(today=today)
    work.now, work.now_left_out = _items(user, today, None, today, limit)
    coming, work.coming_left_out = _items(
        user, today, today + timedelta(days=1), today + timedelta(days=DUE_SOON_DAYS), limit
    )
    by_day: dict[date, list[WorkItem]] = {}
    for item in coming:
        by_day.setdefault(item.inspection.due_on, []).append(item)
    work.coming = [ComingDay(day, items) for day, items in by_day.items()]
    return work
