"""Which grid a point lies in: derived by spatial containment, never typed in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import to_shape
from shapely import STRtree
from shapely.geometry import Point
from shapely.prepared import prep
from sqlalchemy import select

from assets.models import Grid
from core.extensions import db
from core.spatial import BBox, shapes_in_box

# Half the side (degrees) of the box a point's grid candidates are read for: a box, not a
# point, so that SpatiaLite's R*Tree (32-bit boxes) and both backends' tests keep a grid whose
# edge the point lies on; the exact test is the locator's.
POINT_MARGIN = 1e-7


@dataclass(frozen=True)
class GridArea:
    id: int
    code: str
    level: int
    polygon: object


class GridLocator:
    """Finds the most specific grid covering a point (second level before first).

    Built once from the database and reused for every point of an import.
    """

    def __init__(self, areas: list[GridArea]):
        self.areas = sorted(areas, key=lambda area: (-area.level, area.code))
        self._prepared = [prep(area.polygon) for area in self.areas]
        self._tree = STRtree([area.polygon for area in self.areas]) if self.areas else None

    @classmethod
    def from_database(cls, bbox: BBox | None = None) -> GridLocator:
        """Every grid, or with ``bbox`` those whose boundary meets it (through the spatial
        index): enough for the points inside it."""
        query = select(Grid.id, Grid.code, Grid.level, Grid.boundary)
        if bbox is not None:
            bind = db.session.get_bind()
            query = query.where(shapes_in_box(bind, "grids", Grid.id, Grid.boundary, bbox))
        rows = db.session.execute(query).all()
        return cls([GridArea(r.id, r.code, r.level, to_shape(r.boundary)) for r in rows])

    @property
    def is_empty(self) -> bool:
        return not self.areas

    def grid_for(self, longitude: float, latitude: float) -> GridArea | None:
        if self._tree is None:
            return None
        point = Point(longitude, latitude)
        candidates = sorted(int(index) for index in self._tree.query(point))
        for index in candidates:
            if self._prepared[index].covers(point):
                return self.areas[index]
        return None


class PointGridLocator:
    """``GridLocator.grid_for`` for one record at a time (a form, an API write): each point
    reads only the grids around it through the spatial index, where building a locator
    reads every grid's boundary (a province's thousands, for one asset)."""

    def grid_for(self, longitude: float, latitude: float) -> GridArea | None:
        box = BBox(
            longitude - POINT_MARGIN,
            latitude - POINT_MARGIN,
            longitude + POINT_MARGIN,
            latitude + POINT_MARGIN,
        )
        return GridLocator.from_database(box).grid_for(longitude, latitude)


@dataclass(frozen=True)
class LocatedRecords:
    """A kind of record whose grid is derived from its point: assets, and what the parts
    above register (hazards), so that redrawn grids move them all (``assets.grid_import``)."""

    entity_type: str  # as the audit trail names it: "asset", "hazard"
    model: Any  # a model with id, grid_id, location, updated_at and ``key``
    key: str = "code"
    # A record left outside every grid is worth a warning (assets: strict mode refuses them).
    warn_outside: bool = False


_LOCATED: dict[str, LocatedRecords] = {}


def register_located(records: LocatedRecords) -> None:
    _LOCATED[records.entity_type] = records


def located_records() -> list[LocatedRecords]:
    return list(_LOCATED.values())
