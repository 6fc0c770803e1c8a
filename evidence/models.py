from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now_utc
from core.extensions import db
from core.types import UTCDateTime

if TYPE_CHECKING:
    from hazards.models import Hazard
    from inspections.models import Inspection


class PhotoStage(StrEnum):
    """For hazards: a photo of the finding (before) or of the rectification (after)."""

    BEFORE = "before"
    AFTER = "after"


class Photo(db.Model):
    """An uploaded image, stored on disk under ``stored_name`` (generated, never the user's
    file name) and served only to users who may see its inspection or hazard.

    A row has one owner. One file may back several rows: the photos of a failed inspection
    are also the "before" photos of the hazard it opened (``evidence.photos.share_photos``),
    each row seen by whoever may see its own owner; files are never deleted with a row."""

    __tablename__ = "photos"
    owner_relations: ClassVar = ("inspection", "hazard")  # accounts.access
    __table_args__ = (
        CheckConstraint("(inspection_id IS NULL) <> (hazard_id IS NULL)", name="one_owner"),
        CheckConstraint("stage IS NULL OR stage IN ('before', 'after')", name="stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stored_name: Mapped[str] = mapped_column(String(80), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    inspection_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE"), index=True
    )
    hazard_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazards.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str | None] = mapped_column(String(10))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)

    inspection: Mapped[Inspection | None] = relationship(back_populates="photos")
    hazard: Mapped[Hazard | None] = relationship(back_populates="photos")
