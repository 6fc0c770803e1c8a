from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now_utc
from core.extensions import db
from core.types import UTCDateTime
from evidence.models import Photo

if TYPE_CHECKING:
    from accounts.models import Contractor, User
    from assets.models import Asset, Grid


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, onupdate=now_utc)

    contractor: Mapped[Contractor] = relationship()
    grid: Mapped[Grid | None] = relationship()


class Inspection(db.Model):
    """One due inspection of one asset. ``plan_id`` is empty for an ad-hoc inspection.

    The unique (plan, asset, due date) constraint is what makes generation idempotent, also
    when two processes generate at once.
    """

    __tablename__ = "inspections"
    owner_columns: ClassVar = ("contractor_id",)  # accounts.access
    __table_args__ = (
        UniqueConstraint("plan_id", "asset_id", "due_on"),
        CheckConstraint("status IN ('scheduled', 'completed', 'cancelled')", name="status"),
        CheckConstraint("result IS NULL OR result IN ('pass', 'fail')", name="result"),
        # The lists' order is (due_on, id): each index a list pages through ends with both, so
        # a page reads its rows in order and stops (migration 0014).
        Index("ix_inspections_contractor_status_due", "contractor_id", "status", "due_on", "id"),
        Index("ix_inspections_status_due", "status", "due_on", "id"),
        # An asset's overdue / due-soon inspection in one probe (the map's status per asset);
        # without it SQLite probes by status and due date and scans every overdue row.
        Index("ix_inspections_asset_status_due", "asset_id", "status", "due_on"),
        # The unfiltered lists (the API's, ?sort=due and -due): without it a page sorted the
        # whole table.
        Index("ix_inspections_due_on_id", "due_on", "id"),
        # A contractor's unfiltered list (the API's, ?sort=due and -due): the due-date index
        # alone walked other companies' inspections to find its own (1.5 s at 10M, migration
        # 0019).
        Index("ix_inspections_contractor_due_on_id", "contractor_id", "due_on", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspection_plans.id", ondelete="SET NULL")
    )
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    contractor_id: Mapped[int] = mapped_column(ForeignKey("contractors.id", ondelete="RESTRICT"))
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default=InspectionStatus.SCHEDULED)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inspector_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    result: Mapped[str | None] = mapped_column(String(10))
    # Checklist item key -> "pass" | "fail" | "na", for the items of the checklist in force.
    answers: Mapped[dict | None] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    # Where the inspector stood (the browser's geolocation, optional) and how far that is
    # from the asset; beyond the configured distance the record is flagged for review.
    stood_longitude: Mapped[float | None] = mapped_column(Float)
    stood_latitude: Mapped[float | None] = mapped_column(Float)
    stood_accuracy_m: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    logged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The client's key of the result (``inspections.results``): the same key sent again
    # answers this result instead of a conflict. One per inspection, as there is one result.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    # When it was cancelled (empty for those cancelled before migration 0012 with no audit
    # entry): the dashboard's trend counts it as overdue in the weeks before.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)

    plan: Mapped[InspectionPlan | None] = relationship()
    asset: Mapped[Asset] = relationship()
    contractor: Mapped[Contractor] = relationship()
    inspector: Mapped[User | None] = relationship()
    photos: Mapped[list[Photo]] = relationship(
        back_populates="inspection", order_by="Photo.id", passive_deletes=True
    )


class CalendarFeed(db.Model):
    """A contractor's private iCalendar feed. Only the token's SHA-256 is stored; revoking
    sets ``revoked_at`` and the feed URL answers 404 from then on."""

    __tablename__ = "calendar_feeds"
    owner_columns: ClassVar = ("contractor_id",)  # accounts.access

    id: Mapped[int] = mapped_column(primary_key=True)
    contractor_id: Mapped[int] = mapped_column(
        ForeignKey("contractors.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    contractor: Mapped[Contractor] = relationship()


class OnTimeDay(db.Model):
    """A past due date whose on-time totals are rolled up in ``on_time_totals``.

    Whether an inspection due on a past day was done on time no longer changes with the
    passing days, so the dashboard adds up these totals instead of reading every inspection
    of the last months. Logging or cancelling an inspection due that day forgets the day; it
    is rolled up again when next asked for (``dashboard.stats``).
    """

    __tablename__ = "on_time_days"

    due_on: Mapped[date] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class OnTimeTotal(db.Model):
    """Counted and on-time inspections of one due date, contractor and grid."""

    __tablename__ = "on_time_totals"
    owner_columns: ClassVar = ("contractor_id",)  # accounts.access

    id: Mapped[int] = mapped_column(primary_key=True)
    due_on: Mapped[date] = mapped_column(
        ForeignKey("on_time_days.due_on", ondelete="CASCADE"), index=True
    )
    contractor_id: Mapped[int] = mapped_column(ForeignKey("contractors.id", ondelete="CASCADE"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    counted: Mapped[int]
    on_time: Mapped[int]
