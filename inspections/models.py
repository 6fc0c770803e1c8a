from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from accounts.models import Contractor, User
    from assets.models import Asset, Grid


class CadenceUnit(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class InspectionStatus(StrEnum):
    """Stored states. Overdue and due soon are derived (see ``inspections.services``)."""

    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class InspectionResult(StrEnum):
    PASS = "pass"  # noqa: S105  (a result, not a password)
    FAIL = "fail"


class InspectionPlan(db.Model):
    """Which assets a contractor inspects, how often, and with which checklist.

    The assets are those matching every filter that is set: ``asset_kind``, ``grid_id`` (a
    first-level grid includes its second-level grids) and ``asset_codes``; retired assets never.
    The cadence is anchored on ``start_on``: "monthly on the 10th" starts on a 10th.
    """

    __tablename__ = "inspection_plans"
    __table_args__ = (
        CheckConstraint(
            "cadence_unit IN ('day', 'week', 'month', 'quarter', 'year')", name="cadence_unit"
        ),
        CheckConstraint("cadence_every >= 1", name="cadence_every"),
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="end_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contractor_id: Mapped[int] = mapped_column(
        ForeignKey("contractors.id", ondelete="RESTRICT"), index=True
    )
    asset_kind: Mapped[str | None] = mapped_column(String(40))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    asset_codes: Mapped[list[str] | None] = mapped_column(JSON)
    cadence_unit: Mapped[str] = mapped_column(String(10))
    cadence_every: Mapped[int] = mapped_column(default=1)
    start_on: Mapped[date]
    end_on: Mapped[date | None]
    # Item keys; None means the asset kind's default checklist.
    checklist: Mapped[list[str] | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    contractor: Mapped[Contractor] = relationship()
    grid: Mapped[Grid | None] = relationship()


class Inspection(db.Model):
    """One due inspection of one asset. ``plan_id`` is empty for an ad-hoc inspection.

    The unique (plan, asset, due date) constraint is what makes generation idempotent, also
    when two processes generate at once.
    """

    __tablename__ = "inspections"
    __table_args__ = (
        UniqueConstraint("plan_id", "asset_id", "due_on"),
        CheckConstraint("status IN ('scheduled', 'completed', 'cancelled')", name="status"),
        CheckConstraint("result IS NULL OR result IN ('pass', 'fail')", name="result"),
        Index("ix_inspections_contractor_status_due", "contractor_id", "status", "due_on"),
        Index("ix_inspections_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspection_plans.id", ondelete="SET NULL")
    )
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    contractor_id: Mapped[int] = mapped_column(ForeignKey("contractors.id", ondelete="RESTRICT"))
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default=InspectionStatus.SCHEDULED)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inspector_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    result: Mapped[str | None] = mapped_column(String(10))
    answers: Mapped[dict | None] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    plan: Mapped[InspectionPlan | None] = relationship()
    asset: Mapped[Asset] = relationship()
    contractor: Mapped[Contractor] = relationship()
    inspector: Mapped[User | None] = relationship()
