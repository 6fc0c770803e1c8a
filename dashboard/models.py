"""The overdue trend's past weeks, rolled up (``dashboard.trend``); the dashboard's snapshot
(``dashboard.snapshot``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now_utc
from core.extensions import db
from core.types import UTCDateTime


class OverdueWeek(db.Model):
    """A past Sunday whose overdue counts (at the end of it) are rolled up in
    ``overdue_week_totals``; the row is the claim that makes one process compute it."""

    __tablename__ = "overdue_weeks"

    day: Mapped[date] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class OverdueWeekTotal(db.Model):
    """Inspections and hazards overdue at the end of one past Sunday, in one grid."""

    __tablename__ = "overdue_week_totals"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(
        ForeignKey("overdue_weeks.day", ondelete="CASCADE"), index=True
    )
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    inspections: Mapped[int]
    hazards: Mapped[int]


class DashboardSnapshot(db.Model):
    """The staff dashboard's numbers of one grid (``grid``: a first-level grid's code, or ""
    for the whole district) as the last build counted them (``dashboard.snapshot``): for which
    data version and district day, when, the registry's inspections then, and the numbers as
    JSON without the page's language. The district's row is the state row builds lock first."""

    __tablename__ = "dashboard_snapshots"

    grid: Mapped[str] = mapped_column(String(40), primary_key=True)
    data_version: Mapped[int | None] = mapped_column(BigInteger)
    built_for: Mapped[date | None] = mapped_column(Date)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inspections: Mapped[int] = mapped_column(BigInteger, default=0)
    numbers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
