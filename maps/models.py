"""The map's roll-up (``maps.rollup``): assets counted per cell of a few fixed grids."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.types import UTCDateTime

# ``MapCell.grid_key``: the cell's assets of every grid together (what a view without a grid
# filter reads), and those outside every grid.
ALL_GRIDS_KEY = -1
NO_GRID_KEY = 0


class MapCell(db.Model):
    """The assets of one kind, grid and map status in one cell of level ``level`` (cells of
    360 / 2**level degrees a side, numbered from -180° and -90°): how many, the sums of their
    coordinates (for the average) and their bounds."""

    __tablename__ = "map_cells"
    __table_args__ = (
        Index("ix_map_cells_level_kind_grid", "level", "kind", "grid_key", "column", "row"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    grid_key: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    column: Mapped[int] = mapped_column(BigInteger)
    row: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    sum_lon: Mapped[float] = mapped_column(Float)
    sum_lat: Mapped[float] = mapped_column(Float)
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)


class MapRollup(db.Model):
    """The roll-up's one state row: for which data version and district day it was built,
    when, and how many assets and cells it holds. Refreshes lock it first."""

    __tablename__ = "map_rollups"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    data_version: Mapped[int | None] = mapped_column(BigInteger)
    built_for: Mapped[date | None] = mapped_column(Date)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assets: Mapped[int] = mapped_column(Integer, default=0)
    cells: Mapped[int] = mapped_column(Integer, default=0)
