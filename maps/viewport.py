"""What the district map's current view needs, whatever the registry's size.

The map page embeds no assets and no hazards; its script asks ``/api/v1/map/assets`` and
``/api/v1/map/hazards`` for the view (``maps.api``), and each answer is bounded:

- **points** (code, kind, map status, drawn position of each asset) when the assets the
  filters match number at most ``POINT_LIMIT``: all of them, whatever the box, with
  ``complete`` true (a district: the browser clusters them and never asks again), or those
  in the box, found with ``LIMIT POINT_LIMIT + 1`` (which stops early);
- **clusters** otherwise, aggregated in SQL per cell of about ``CLUSTER_PIXELS`` screen
  pixels at the zoom (at most ``MAX_CELLS`` a side in the box): the count, the count per
  map status, the worst status, the average position and the bounds of each cell;
- clusters of a large registry's zoomed-out views come from the roll-up instead
  (``maps.rollup``: for staff, filters among kind, status and grid, more than its
  ``THRESHOLD`` assets in the box), as of its last build (``as_of``);
- at street zoom (``STREET_ZOOM``) always points (houses stacked on one spot cannot be
  split by zooming), at most ``POINT_LIMIT``, with ``truncated`` saying if more matched.

Map status: ``maps.status.map_status_expression``, the same definitions as every other map
status, probed per asset (``drawn_assets_query`` says why). Coordinates are stored WGS-84;
answers carry the drawn datum (GCJ-02 over Gaode tiles, ``build.Projector``), and the box the
browser sends is WGS-84.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Select, case, func, select

from assets.models import Asset, Grid
from core.extensions import db
from core.spatial import (
    BBox,
    floor_of,
    latitude_of,
    longitude_of,
    points_in_box,
    shapes_in_box,
)
from hazards.models import Hazard, HazardSeverity
from hazards.services import open_hazard_clause
from maps.build import Projector, grid_features
from maps.rollup import rollup_clusters
from maps.status import (
    MAP_STATUSES,
    MapFilters,
    asset_filter_clauses,
    map_status_expression,
    overdue_by_grid_query,
    scope_of,
)

if TYPE_CHECKING:
    from accounts.models import User

POINT_LIMIT = 2000
STREET_ZOOM = 17
MAX_ZOOM = 19
CLUSTER_PIXELS = 80
MAX_CELLS = 40  # a side: at most (MAX_CELLS + 1)² clusters, whatever box is asked for
HAZARD_LIMIT = 1000
GRID_LIMIT = 300  # a level's grids in one answer: ~100 KB of rectangles, before gzip
TILE_PIXELS = 256
DIGITS = 6


@dataclass(frozen=True)
class View:
    """What the browser shows: a WGS-84 box (None: everywhere) at a zoom level."""

    bbox: BBox | None
    zoom: int


def drawn_assets_query(
    filters: MapFilters, user: User | None, today: date, bbox: BBox | None, per_asset: bool = True
) -> Select:
    """(id, code, kind, longitude, latitude, map_status) of the matching assets that have a
    point (inside ``bbox`` when given, through the spatial index), by id.

    Each asset's status is probed from its own index entries (``map_status_expression``),
    not computed set-wise: a view reads at most a city's assets, and a province's sets of
    overdue inspections and open hazards (10^5-10^6 rows) do not fit PostgreSQL's work_mem as
    hash tables, whereupon it scans them once per asset (8,628 assets of 1M: 57 s set-wise,
    78 ms probed). The whole registry's statuses are ``maps.rollup``'s, set-wise. Clusters
    (``per_asset`` false) leave the choice to the planner (``maps.status._has_a_row``)."""
    scope = scope_of(user)
    clauses = [*asset_filter_clauses(filters, scope), Asset.location.is_not(None)]
    if bbox is not None:
        bind = db.session.connection()
        clauses.append(points_in_box(bind, "assets", Asset.id, Asset.location, bbox))
    inner = (
        select(
            Asset.id,
            Asset.code,
            Asset.kind,
            longitude_of(Asset.location).label("longitude"),
            latitude_of(Asset.location).label("latitude"),
            map_status_expression(scope, today, per_asset).label("map_status"),
        )
        .where(*clauses)
        .subquery("drawn")
    )
    query = select(*inner.c)
    if filters.status:
        query = query.where(inner.c.map_status == filters.status)
    return query


def _limited(query: Select, limit: int) -> list:
    ordered = query.order_by(query.selected_columns.id).limit(limit)
    return db.session.connection().execute(ordered).all()


def _matches_at_most(query: Select, limit: int) -> int:
    """How many rows ``query`` has, counted up to ``limit + 1`` (the scan stops there)."""
    ids = query.with_only_columns(query.selected_columns.id).limit(limit + 1).subquery()
    return db.session.connection().execute(select(func.count()).select_from(ids)).scalar_one()


def points_answer(rows: list, projector: Projector, complete: bool, truncated: bool) -> dict:
    """The rows as columns (no object per asset), in the drawn datum."""
    longitudes = np.array([row.longitude for row in rows], dtype=float)
    latitudes = np.array([row.latitude for row in rows], dtype=float)
    longitudes, latitudes = projector.arrays(longitudes, latitudes)
    return {
        "mode": "points",
        "complete": complete,
        "truncated": truncated,
        "points": {
            "lat": np.round(latitudes, DIGITS).tolist(),
            "lon": np.round(longitudes, DIGITS).tolist(),
            "code": [row.code for row in rows],
            "status": [row.map_status for row in rows],
            "kind": [row.kind for row in rows],
        },
    }


def cell_size(view: View) -> tuple[float, float]:
    """(longitude, latitude) degrees of a cluster cell: ``CLUSTER_PIXELS`` at the zoom (Web
    Mercator: a latitude degree is longer on screen by 1 / cos(latitude)), never smaller
    than a ``MAX_CELLS``-th of the box a side."""
    width = CLUSTER_PIXELS * 360.0 / (TILE_PIXELS * 2**view.zoom)
    box = view.bbox or BBox(-180.0, -90.0, 180.0, 90.0)
    middle = (box.min_lat + box.max_lat) / 2
    height = width * max(math.cos(math.radians(middle)), 0.05)
    width = max(width, (box.max_lon - box.min_lon) / MAX_CELLS)
    height = max(height, (box.max_lat - box.min_lat) / MAX_CELLS)
    return width, height


def clusters_query(assets: Select, view: View) -> Select:
    """One row per cell: cell, count, average and extreme positions, count per status."""
    width, height = cell_size(view)
    # Computed once per asset: inlined, each of the status's and coordinates' several uses
    # would compute it again (both databases inline a plain subquery).
    drawn = assets.cte("matching").prefix_with("MATERIALIZED")
    # Shifted to non-negative numbers: ``floor_of`` needs them (core.spatial).
    column = floor_of((drawn.c.longitude + 180.0) / width).label("column")
    row = floor_of((drawn.c.latitude + 90.0) / height).label("row")
    per_status = [
        func.sum(case((drawn.c.map_status == status, 1), else_=0)).label(status)
        for status in MAP_STATUSES
    ]
    return select(
        column,
        row,
        func.count().label("count"),
        func.avg(drawn.c.longitude).label("longitude"),
        func.avg(drawn.c.latitude).label("latitude"),
        func.min(drawn.c.longitude).label("west"),
        func.min(drawn.c.latitude).label("south"),
        func.max(drawn.c.longitude).label("east"),
        func.max(drawn.c.latitude).label("north"),
        *per_status,
    ).group_by(column, row)


def clusters_answer(rows: list, projector: Projector) -> dict:
    clusters = []
    for row in rows:
        counts = {status: int(getattr(row, status) or 0) for status in MAP_STATUSES}
        worst = next(status for status in MAP_STATUSES if counts[status])
        lon, lat = projector.point(float(row.longitude), float(row.latitude))
        west, south = projector.point(float(row.west), float(row.south))
        east, north = projector.point(float(row.east), float(row.north))
        clusters.append(
            {
                "lat": round(lat, DIGITS),
                "lon": round(lon, DIGITS),
                "count": int(row.count),
                "worst": worst,
                "counts": counts,
                "bounds": [
                    [round(south, DIGITS), round(west, DIGITS)],
                    [round(north, DIGITS), round(east, DIGITS)],
                ],
            }
        )
    clusters.sort(key=lambda cluster: (cluster["lat"], cluster["lon"]))
    return {"mode": "clusters", "clusters": clusters}


def viewport_assets(
    filters: MapFilters, user: User | None, today: date, view: View, projector: Projector
) -> dict[str, Any]:
    """The assets answer for ``view`` (the module docstring says which mode when)."""
    everywhere = drawn_assets_query(filters, user, today, None)
    in_box = drawn_assets_query(filters, user, today, view.bbox)
    if _matches_at_most(everywhere, POINT_LIMIT) <= POINT_LIMIT:
        return points_answer(_limited(everywhere, POINT_LIMIT), projector, True, False)
    if view.zoom < STREET_ZOOM:
        # Asked before the box is counted: it answers only boxes holding far more than
        # POINT_LIMIT by its own count, and spares that count (50 ms of a city's 100k).
        rolled_up = rollup_clusters(filters, user, today, view, projector)
        if rolled_up is not None:
            return rolled_up
    if view.zoom >= STREET_ZOOM:  # points whatever their number: one more says there are more
        rows = _limited(in_box, POINT_LIMIT + 1)
        return points_answer(rows[:POINT_LIMIT], projector, False, len(rows) > POINT_LIMIT)
    if _matches_at_most(in_box, POINT_LIMIT) <= POINT_LIMIT:
        return points_answer(_limited(in_box, POINT_LIMIT), projector, False, False)
    to_cluster = drawn_assets_query(filters, user, today, view.bbox, per_asset=False)
    clustered = db.session.connection().execute(clusters_query(to_cluster, view)).all()
    return clusters_answer(clustered, projector)


# --- Hazards -----------------------------------------------------------------------------------


def open_hazard_points_query(user: User | None, bbox: BBox | None) -> Select:
    """(code, severity, longitude, latitude) of the open hazards ``user`` may see (inside
    ``bbox`` when given), major first."""
    clauses = [open_hazard_clause(), scope_of(user).hazards]
    if bbox is not None:
        bind = db.session.connection()
        clauses.append(points_in_box(bind, "hazards", Hazard.id, Hazard.location, bbox))
    major_first = case((Hazard.severity == HazardSeverity.MAJOR, 0), else_=1)
    return (
        select(
            Hazard.code,
            Hazard.severity,
            longitude_of(Hazard.location).label("longitude"),
            latitude_of(Hazard.location).label("latitude"),
        )
        .where(*clauses)
        .order_by(major_first, Hazard.id)
    )


def viewport_hazards(user: User | None, bbox: BBox | None, projector: Projector) -> dict:
    """At most ``HAZARD_LIMIT`` open hazards, major first: all of them (``complete``) when
    there are no more, else those in the box, ``truncated`` when the box holds more."""
    connection = db.session.connection()
    rows = connection.execute(open_hazard_points_query(user, None).limit(HAZARD_LIMIT + 1)).all()
    complete = len(rows) <= HAZARD_LIMIT
    if not complete and bbox is not None:
        query = open_hazard_points_query(user, bbox).limit(HAZARD_LIMIT + 1)
        rows = connection.execute(query).all()
    truncated = len(rows) > HAZARD_LIMIT
    rows = rows[:HAZARD_LIMIT]
    longitudes, latitudes = projector.arrays(
        np.array([row.longitude for row in rows], dtype=float),
        np.array([row.latitude for row in rows], dtype=float),
    )
    return {
        "complete": complete,
        "truncated": truncated,
        "hazards": {
            "lat": np.round(latitudes, DIGITS).tolist(),
            "lon": np.round(longitudes, DIGITS).tolist(),
            "code": [row.code for row in rows],
            "severity": [row.severity for row in rows],
        },
    }


# --- Grids -------------------------------------------------------------------------------------


def grids_in_box(level: int, bbox: BBox | None, limit: int) -> list[Grid]:
    """The grids of ``level`` that intersect ``bbox`` (everywhere when None), by code, at most
    ``limit + 1`` (one more says there were too many)."""
    query = select(Grid).where(Grid.level == level)
    if bbox is not None:
        bind = db.session.connection()
        query = query.where(shapes_in_box(bind, "grids", Grid.id, Grid.boundary, bbox))
    return list(db.session.scalars(query.order_by(Grid.code).limit(limit + 1)))


def viewport_grids(
    filters: MapFilters,
    user: User | None,
    today: date,
    bbox: BBox | None,
    projector: Projector,
    limit: int = GRID_LIMIT,
    choropleth: bool = True,
) -> dict[str, Any]:
    """The grids of a view, for a map whose page embeds none (``maps.views``): the
    first-level grids that intersect the box, and its second-level ones with the overdue
    inspections of each (the choropleth: the filtered assets', counted for these grids only;
    without ``choropleth``, while the map hides it, not counted: every fill the lowest).
    At most ``limit`` a level: past it that level's list is empty and ``truncated`` says so
    (zoom in)."""
    level1 = grids_in_box(1, bbox, limit)
    level2 = grids_in_box(2, bbox, limit)
    truncated = {1: len(level1) > limit, 2: len(level2) > limit}
    level1 = [] if truncated[1] else level1
    level2 = [] if truncated[2] else level2
    overdue: dict[int, int] = {}
    if level2 and choropleth:
        query = overdue_by_grid_query(filters, user, today).where(
            Asset.grid_id.in_([grid.id for grid in level2])
        )
        overdue = {grid_id: int(count) for grid_id, count in db.session.execute(query)}
    return {
        "level1": grid_features(level1, projector, None),
        "level2": grid_features(level2, projector, overdue),
        "truncated": [level for level, more in truncated.items() if more],
    }
