"""The overdue trend's past weeks, rolled up (``dashboard.trend``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey
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
