from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now_utc
from core.extensions import db
from core.spatial import SRID
from core.types import UTCDateTime
from evidence.models import Photo

if TYPE_CHECKING:
    from accounts.models import Contractor, User
    from assets.models import Asset, Grid, PropertyCompany, Site


class HazardCategory(StrEnum):
    FLYING_WIRE_CHARGING = "flying_wire_charging"
    EBIKE_IN_CORRIDOR = "ebike_in_corridor"
    EBIKE_IN_LIFT = "ebike_in_lift"
    EXTINGUISHER_MISSING = "extinguisher_missing"
    EXTINGUISHER_EXPIRED = "extinguisher_expired"
    CHARGER_FAULT = "charger_fault"
    BLOCKER_FAULT = "blocker_fault"
    BLOCKED_EXIT = "blocked_exit"
    OTHER = "other"


class HazardSeverity(StrEnum):
    GENERAL = "general"
    MAJOR = "major"


class HazardStatus(StrEnum):
    """open -> rectifying -> rectified -> verified; reopening goes back to open."""

    OPEN = "open"
    RECTIFYING = "rectifying"
    RECTIFIED = "rectified"
    VERIFIED = "verified"


class Hazard(db.Model):
    """A fire hazard found in the field, followed until an officer verifies it is fixed.

    The responsible party is a property company or a contractor (at most one of the two).
    ``reported_by_contractor_id`` is the contractor whose user reported it (or whose
    inspection failed): a contractor sees the hazards it reported or is responsible for.
    """

    __tablename__ = "hazards"
    owner_columns: ClassVar = ("reported_by_contractor_id", "responsible_contractor_id")
    __table_args__ = (
        CheckConstraint(
            "category IN ('flying_wire_charging', 'ebike_in_corridor', 'ebike_in_lift', "
            "'extinguisher_missing', 'extinguisher_expired', 'charger_fault', 'blocker_fault', "
            "'blocked_exit', 'other')",
            name="category",
        ),
        CheckConstraint("severity IN ('general', 'major')", name="severity"),
        CheckConstraint("status IN ('open', 'rectifying', 'rectified', 'verified')", name="status"),
        CheckConstraint("deadline >= found_on", name="deadline_after_found"),
        CheckConstraint(
            "responsible_company_id IS NULL OR responsible_contractor_id IS NULL",
            name="one_responsible_party",
        ),
        # The hazard list's parts (hazards.services.overdue_first_parts) in their order: the
        # unverified ones by deadline and code, and each status's.
        Index(
            "ix_hazards_open_deadline_code",
            "deadline",
            "code",
            postgresql_where=text("status != 'verified'"),
            sqlite_where=text("status != 'verified'"),
        ),
        Index("ix_hazards_status_deadline_code", "status", "deadline", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    category: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=False)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), index=True)
    inspection_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspections.id", ondelete="SET NULL"), index=True
    )
    # The checklist keys a failed inspection failed (labels are looked up when read, in the
    # reader's language: ``hazards.services.failed_item_labels``); None for other hazards.
    failed_items: Mapped[list[str] | None] = mapped_column(JSON)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    found_on: Mapped[date]
    found_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reported_by_contractor_id: Mapped[int | None] = mapped_column(
        ForeignKey("contractors.id", ondelete="RESTRICT"), index=True
    )
    responsible_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("property_companies.id"), index=True
    )
    responsible_contractor_id: Mapped[int | None] = mapped_column(
        ForeignKey("contractors.id", ondelete="RESTRICT"), index=True
    )
    deadline: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default=HazardStatus.OPEN)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, onupdate=now_utc)

    asset: Mapped[Asset | None] = relationship()
    grid: Mapped[Grid | None] = relationship()
    site: Mapped[Site | None] = relationship()
    found_by: Mapped[User | None] = relationship()
    reported_by_contractor: Mapped[Contractor | None] = relationship(
        foreign_keys=[reported_by_contractor_id]
    )
    responsible_company: Mapped[PropertyCompany | None] = relationship()
    responsible_contractor: Mapped[Contractor | None] = relationship(
        foreign_keys=[responsible_contractor_id]
    )
    events: Mapped[list[HazardEvent]] = relationship(
        back_populates="hazard", order_by="HazardEvent.id", passive_deletes=True
    )
    photos: Mapped[list[Photo]] = relationship(
        back_populates="hazard", order_by="Photo.id", passive_deletes=True
    )


class HazardEvent(db.Model):
    """One step of a hazard's life: who moved it from which status to which, when and why."""

    __tablename__ = "hazard_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    note: Mapped[str | None] = mapped_column(Text)

    hazard: Mapped[Hazard] = relationship(back_populates="events")
    actor_user: Mapped[User | None] = relationship()


class HazardCodeCounter(db.Model):
    """The last hazard number given in a year (``HZ-<year>-<number>``). The next is taken with
    one atomic ``UPDATE … SET last = last + 1 … RETURNING``: the row stays locked until the
    unit of work ends, so two reports never get one number and a rolled-back report gives its
    number back. A year's row is made on first use (insert-or-ignore), from its hazards."""

    __tablename__ = "hazard_code_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)
