from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now_utc
from core.extensions import db
from core.spatial import SRID
from core.types import UTCDateTime

if TYPE_CHECKING:
    from inspections.models import Inspection


class AssetStatus(StrEnum):
    ACTIVE = "active"
    FAULTY = "faulty"
    RETIRED = "retired"


class Grid(db.Model):
    """A governance zone: level 1 (``G1``) or level 2 (``G1-03``) with its boundary."""

    __tablename__ = "grids"
    __table_args__ = (CheckConstraint("level IN (1, 2)", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    boundary = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=True), nullable=False)
    leader_name: Mapped[str | None] = mapped_column(String(100))
    leader_phone: Mapped[str | None] = mapped_column(String(40))
    leader_email: Mapped[str | None] = mapped_column(String(254))

    parent: Mapped[Grid | None] = relationship(remote_side="Grid.id")


class PropertyCompany(db.Model):
    __tablename__ = "property_companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))


class Site(db.Model):
    """A residential compound or building complex."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    address: Mapped[str | None] = mapped_column(String(300))
    property_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("property_companies.id"), index=True
    )
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=True)

    property_company: Mapped[PropertyCompany | None] = relationship()


class Asset(db.Model):
    __tablename__ = "assets"
    __table_args__ = (
        Index("ix_assets_kind_status", "kind", "status"),
        # The dashboard's counts by grid, kind and status read this index alone (no table).
        Index("ix_assets_grid_kind_status", "grid_id", "kind", "status"),
        # Overdue inspections counted per grid join their asset's grid through this index
        # (an index-only scan), not through the whole table.
        Index("ix_assets_id_grid", "id", "grid_id"),
        CheckConstraint("status IN ('active', 'faulty', 'retired')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=False)
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grids.id")
    )  # ix_assets_grid_kind_status
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default=AssetStatus.ACTIVE)
    installed_on: Mapped[date | None]
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    serial_number: Mapped[str | None] = mapped_column(String(100))
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, onupdate=now_utc)

    grid: Mapped[Grid | None] = relationship()
    site: Mapped[Site | None] = relationship()
    inspections: Mapped[list[Inspection]] = relationship(viewonly=True)
    # A contractor sees an asset when it has an inspection of it (accounts.access), asked
    # through the pairs the database keeps (ContractorAsset), not the inspections themselves.
    contractor_links: Mapped[list[ContractorAsset]] = relationship(viewonly=True)
    owner_relations: ClassVar = ("contractor_links",)


# The list's sorts (``assets.views.ordering``) in their orders, ties by code: a page reads its
# rows from one of these instead of sorting every asset the user may see (migration 0021). A
# descending sort reads its index backwards, but the installation date's, which keeps the
# assets without one last both ways (an index holds them at one end) and so has its own.
Index("ix_assets_name_code", func.lower(Asset.name), Asset.code)
Index("ix_assets_kind_code", Asset.kind, Asset.code)
Index("ix_assets_status_code", Asset.status, Asset.code)
Index("ix_assets_installed_on_code", Asset.installed_on.is_(None), Asset.installed_on, Asset.code)
Index(
    "ix_assets_installed_on_desc_code",
    Asset.installed_on.is_(None),
    Asset.installed_on.desc(),
    Asset.code,
)


class ContractorAsset(db.Model):
    """A contractor company that has at least one inspection of an asset: the pairs the
    access policy asks about (``Asset.owner_relations``).

    Written only by the database: triggers on ``inspections`` (migration 0020) add a pair
    with its first inspection and remove it with its last, whatever writes them (forms, API,
    generation, imports, ``COPY``), a changed contractor or asset included. A contractor's
    assets were an EXISTS over its inspections, probed asset by asset: at 1M assets its
    first page by code probed 158,000 assets' inspections. ``asset_code`` (codes never
    change) gives a contractor's assets in code order from one index
    (``assets.services.in_code_order``)."""

    __tablename__ = "contractor_assets"
    __table_args__ = (
        Index("ix_contractor_assets_contractor_code", "contractor_id", "asset_code"),
        Index("ix_contractor_assets_asset_id", "asset_id"),
    )

    contractor_id: Mapped[int] = mapped_column(ForeignKey("contractors.id"), primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    asset_code: Mapped[str] = mapped_column(String(40))
    owner_columns: ClassVar = ("contractor_id",)  # accounts.access
