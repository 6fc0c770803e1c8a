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
    def from_database(cls) -> GridLocator:
        rows = db.session.execute(select(Grid.id, Grid.code, Grid.level, Grid.boundary)).all()
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
