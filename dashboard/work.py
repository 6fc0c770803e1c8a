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

# More than this many open inspections at once is not a day's work: the home shows the most
# urgent ones and counts the rest (the inspection list has them all).
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
    left_out: int = 0  # open inspections in the window beyond WORK_LIMIT

    @property
    def total(self) -> int:
        return len(self.now) + sum(len(day.items) for day in self.coming) + self.left_out


def open_work(user: User | None, today: date | None = None, limit: int = WORK_LIMIT) -> Work:
    """The scheduled inspections ``user`` may see that are due up to ``DUE_SOON_DAYS`` days
    ahead (the overdue ones included), the earliest due first, at most ``limit``."""
    today = district_today() if today is None else today
    last = today + timedelta(days=DUE_SOON_DAYS)
    window = visible(user, Inspection).where(
        Inspection.status == InspectionStatus.SCHEDULED, Inspection.due_on <= last
    )
    rows = db.session.execute(
        window.join(Asset, Asset.id == Inspection.asset_id)
        .add_columns(longitude_of(Asset.location), latitude_of(Asset.location))
        .options(selectinload(Inspection.asset).selectinload(Asset.grid))
        .order_by(Inspection.due_on, Asset.code, Inspection.id)
        .limit(limit + 1)
    ).all()
    work = Work(today=today)
    if len(rows) > limit:
        rows = rows[:limit]
        counted = select(func.count()).select_from(window.order_by(None).subquery())
        work.left_out = db.session.scalar(counted) - limit
    by_day: dict[date, list[WorkItem]] = {}
    for inspection, longitude, latitude in rows:
        late = (today - inspection.due_on).days if is_overdue(inspection, today) else 0
        item = WorkItem(inspection, float(longitude), float(latitude), late)
        if inspection.due_on <= today:
            work.now.append(item)
        else:
            by_day.setdefault(inspection.due_on, []).append(item)
    work.coming = [ComingDay(day, items) for day, items in by_day.items()]
    return work
