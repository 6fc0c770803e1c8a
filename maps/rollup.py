"""The map's roll-up: zoomed-out views of a large registry without reading every asset.

Refresh (``refresh_map_rollup``; ``flask maps rollup``; the scheduler's ``maps.rollup`` job
every ``MAP_ROLLUP_MINUTES``, when the data version or the district's day has moved since the
last build): first, reading only, each asset's map status is computed once (``maps.status``,
set-wise, for staff) and the assets are counted per cell of the finest level, per kind, grid
and status, with the sums of their coordinates and their bounds; then, in one writing
transaction, ``map_cells`` is replaced by those rows, the same cells for all grids together,
and each coarser level from the next finer (a cell of level k is exactly four of level
k + 1). The state row (``map_rollups``) says for which data version and day it was built,
and when. Two refreshes at once: the second waits on the state row (PostgreSQL: ``FOR
UPDATE``; SQLite: its write lock, ``BEGIN IMMEDIATE``), then writes its own whole build or,
if a newer one committed meanwhile, nothing; readers see one whole build or the other. The
write lock is held for the short part only (SQLite's other writers wait for it).

Read (``rollup_clusters``, from ``maps.viewport``): only for a user who sees everything
(staff), filters among kind, status and grid only, a roll-up built for the district's today,
and a box holding more than ``THRESHOLD`` assets (and ``viewport.POINT_LIMIT``) by the
roll-up's own count (of the whole clusters that meet the box); anything else
(a contractor, text search, a contractor filter, a small view, the demo district) is
answered live and exact. The view's cluster cell is snapped to a whole number of cells of
the coarsest level at most half its size, so every roll-up cell lies in one cluster and the
clusters (count, count per status, worst status, average position, bounds) are exact for
the data the roll-up was built on; the clusters are 1 to 1.5 times the live cell's size.

Staleness: the data version moves with every committed write, so the roll-up is behind by up
to the refresh interval (plus the refresh's own time). Such answers carry ``as_of`` (the
build's time) and ``stale`` (written to since); the map says its counts are as of then.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click
from apscheduler.triggers.interval import IntervalTrigger
from flask import Blueprint, Flask
from sqlalchemy import Select, case, delete, func, insert, literal, literal_column, select, text

from accounts.access import sees_everything
from accounts.scope import ALL_GRIDS
from assets.kinds import KINDS
from assets.models import Asset
from assets.services import NO_GRID, in_grid
from core.clock import district_time, district_today, now_utc
from core.extensions import db
from core.scheduler import ScheduledJob, register_job
from core.spatial import (
    BBox,
    bulk_insert,
    floor_of,
    is_sqlite,
    latitude_of,
    locked_row,
    longitude_of,
    writing,
)
from core.versions import build_is_current, current_version
from maps.models import ALL_GRIDS_KEY, NO_GRID_KEY, MapCell, MapRollup
from maps.status import MAP_STATUSES, MapFilters, scope_of, setwise_status_expression

if TYPE_CHECKING:
    from accounts.models import User
    from maps.build import Projector
    from maps.viewport import View

STATE = "map"
# Cells of 360 / 2**k degrees: 1.4° (a province), 0.35°, 0.088°, 0.022° (a district), 0.0055°
# (about 600 m), 0.0014° (about 150 m, a compound): a cluster cell (80 px) is 2 to 8 of them
# a side at zooms 3 to 15.
LEVELS = (8, 10, 12, 14, 16, 18)
ROLLUP_WORK_MEM = "256MB"
# Assets in the box: fewer are clustered live (exact and current). At 1M assets a mid-zoom
# view of 5k-20k assets took 130-250 ms live (each asset's status probed) and kept pans and
# zooms over 300 ms at p95 in Chromium (318 ms; 203 ms with 5,000: bench_map_browser.py).
THRESHOLD = 5_000
JOB_ROLLUP = "maps.rollup"


def _integer(value: int):
    """A whole number written into the statement (a constant of the code): dividing an
    integer column by it is integer division on both databases (bound, psycopg may send it
    as a numeric)."""
    return literal_column(str(int(value)))


def cell_degrees(level: int) -> float:
    return 360.0 / 2**level


@dataclass(frozen=True)
class RollupBuild:
    data_version: int
    built_for: date
    built_at: datetime
    assets: int
    cells: int

    def describe(self) -> str:
        return (
            f"{self.assets} assets in {self.cells} cells for {self.built_for} "
            f"(data version {self.data_version})"
        )


# --- Refresh --------------------------------------------------------------------------------


def _finest_cells(today: date) -> Select:
    """(level, kind, grid_key, status, column, row, count, sums, bounds) of the finest level,
    from the assets, each one's status computed once."""
    level = LEVELS[-1]
    scale = 2**level / 360.0
    drawn = (
        select(
            Asset.kind,
            func.coalesce(Asset.grid_id, NO_GRID_KEY).label("grid_key"),
            setwise_status_expression(scope_of(None), today).label("status"),
            longitude_of(Asset.location).label("lon"),
            latitude_of(Asset.location).label("lat"),
        )
        .where(Asset.location.is_not(None))
        .cte("drawn")
        .prefix_with("MATERIALIZED")
    )
    column = floor_of((drawn.c.lon + 180.0) * scale)
    row = floor_of((drawn.c.lat + 90.0) * scale)
    return select(
        literal(level),
        drawn.c.kind,
        drawn.c.grid_key,
        drawn.c.status,
        column,
        row,
        func.count(),
        func.sum(drawn.c.lon),
        func.sum(drawn.c.lat),
        func.min(drawn.c.lon),
        func.min(drawn.c.lat),
        func.max(drawn.c.lon),
        func.max(drawn.c.lat),
    ).group_by(drawn.c.kind, drawn.c.grid_key, drawn.c.status, column, row)


def _merged_cells(source_level: int, level: int, all_grids: bool) -> Select:
    """Level ``level``'s cells from ``source_level``'s (each grid, or all grids together)."""
    step = 2 ** (source_level - level)
    # Integer division on both databases (non-negative integers): the coarser cell's index.
    column = MapCell.column.op("/")(_integer(step))
    row = MapCell.row.op("/")(_integer(step))
    grid_key = literal(ALL_GRIDS_KEY) if all_grids else MapCell.grid_key
    source = select(
        literal(level),
        MapCell.kind,
        grid_key,
        MapCell.status,
        column,
        row,
        func.sum(MapCell.count),
        func.sum(MapCell.sum_lon),
        func.sum(MapCell.sum_lat),
        func.min(MapCell.west),
        func.min(MapCell.south),
        func.max(MapCell.east),
        func.max(MapCell.north),
    ).where(MapCell.level == source_level)
    if all_grids:
        return source.where(MapCell.grid_key != ALL_GRIDS_KEY).group_by(
            MapCell.kind, MapCell.status, column, row
        )
    return source.group_by(MapCell.kind, grid_key, MapCell.status, column, row)


CELL_COLUMNS = [
    "level", "kind", "grid_key", "status", "column", "row", "count",
    "sum_lon", "sum_lat", "west", "south", "east", "north",
]  # fmt: skip


INSERT_BATCH = 10_000


def _fill(source: Select) -> None:
    db.session.execute(insert(MapCell.__table__).from_select(CELL_COLUMNS, source))


def _counted(today: date) -> tuple[int, list]:
    """(data version, the finest level's rows), read outside the write lock: the long part
    (every asset's status) never keeps writers waiting (SQLite has one writer at a time)."""
    try:
        # Read before the data it labels: a write in between leaves the label older than
        # the data (refreshed again later), never newer.
        version = current_version(db.session)
        if not is_sqlite(db.session.connection()):
            # Room for the sets of overdue inspections and open hazards as hash tables (a
            # province has ~10^5-10^6 overdue): past work_mem, PostgreSQL scans them once
            # per asset instead (57 s for 8,628 assets of 1M). SQLite indexes them anyway.
            db.session.execute(text(f"SET LOCAL work_mem = '{ROLLUP_WORK_MEM}'"))
        rows = db.session.execute(_finest_cells(today)).all()
    finally:
        db.session.rollback()
    return version, rows


def _build(state: MapRollup, version: int, today: date, finest_rows: list) -> RollupBuild:
    table = MapCell.__table__
    db.session.execute(delete(table))
    for start in range(0, len(finest_rows), INSERT_BATCH):
        batch = finest_rows[start : start + INSERT_BATCH]
        bulk_insert(db.session, table, [dict(zip(CELL_COLUMNS, row, strict=True)) for row in batch])
    finest = LEVELS[-1]
    _fill(_merged_cells(finest, finest, all_grids=True))
    for finer, level in zip(LEVELS[::-1], LEVELS[-2::-1], strict=False):
        _fill(_merged_cells(finer, level, all_grids=False))
    assets = db.session.scalar(
        select(func.sum(MapCell.count)).where(
            MapCell.level == finest, MapCell.grid_key == ALL_GRIDS_KEY
        )
    )
    cells = db.session.scalar(select(func.count()).select_from(MapCell))
    build = RollupBuild(version, today, now_utc(), int(assets or 0), int(cells or 0))
    state.data_version = build.data_version
    state.built_for = build.built_for
    state.built_at = build.built_at
    state.assets = build.assets
    state.cells = build.cells
    return build


def refresh_map_rollup(only_if_changed: bool = False) -> RollupBuild | None:
    """Rebuild the roll-up and commit it; with ``only_if_changed``, only when the data
    version or the district's day differs from the last build's (else None). Counting reads
    in a transaction of its own; the cells are then replaced in one writing transaction that
    holds the state row. Call it outside a transaction."""
    today = district_today()
    if only_if_changed:
        state = current_build()
        version = current_version(db.session)
        db.session.rollback()
        if state is not None and build_is_current(state, version, today, only_if_changed):
            return None
    version, finest_rows = _counted(today)
    with writing():
        try:
            state = locked_row(MapRollup.name, STATE, assets=0, cells=0)
            if build_is_current(state, version, today, only_if_changed):
                db.session.rollback()
                return None
            build = _build(state, version, today, finest_rows)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    return build


def refresh_when_changed() -> str:
    """The scheduler's job: rebuild if the data or the day moved since the last build."""
    build = refresh_map_rollup(only_if_changed=True)
    return "unchanged" if build is None else build.describe()


def register_commands(bp: Blueprint) -> None:
    @bp.cli.command("rollup")
    @click.option(
        "--if-changed", is_flag=True, help="Only if the data or the day moved since the last."
    )
    def rollup_command(if_changed: bool) -> None:
        """Rebuild the map's roll-up (what zoomed-out views of a large registry read)."""
        started = time.perf_counter()
        build = refresh_map_rollup(only_if_changed=if_changed)
        if build is None:
            click.echo("The map's roll-up is up to date.")
            return
        click.echo(f"map roll-up: {build.describe()} in {time.perf_counter() - started:.1f} s")


def register_jobs(app: Flask) -> None:
    def every_few_minutes(config) -> IntervalTrigger:
        return IntervalTrigger(minutes=config["MAP_ROLLUP_MINUTES"])

    register_job(
        app,
        ScheduledJob(
            JOB_ROLLUP, every_few_minutes, refresh_when_changed, at_start=refresh_when_changed
        ),
    )


# --- Read -----------------------------------------------------------------------------------


def current_build() -> MapRollup | None:
    return db.session.scalar(select(MapRollup).where(MapRollup.name == STATE))


def rollup_stamp() -> str:
    """What the map's ETag needs to know of the roll-up: which build it is."""
    build = db.session.execute(
        select(MapRollup.data_version, MapRollup.built_at).where(MapRollup.name == STATE)
    ).first()
    if build is None or build.built_at is None:
        return ""
    return f"{build.data_version}@{build.built_at.isoformat()}"


def may_use_rollup(filters: MapFilters, user: User | None) -> bool:
    """Whether the roll-up can answer for ``user`` and ``filters`` at all (see the docstring)."""
    return sees_everything(user) and filters.contractor is None and not filters.q


def _level_for(width: float, height: float) -> int | None:
    """The coarsest level whose cells are at most half the cluster cell both ways."""
    for level in LEVELS:
        if cell_degrees(level) <= min(width, height) / 2:
            return level
    return None


def _whole_cells(degrees: float, size: float) -> int:
    return max(1, math.ceil(degrees / size - 1e-9))


def _grid_clause(grid: str):
    if not grid or grid.strip().lower() == ALL_GRIDS:
        return MapCell.grid_key == ALL_GRIDS_KEY
    if grid == NO_GRID:
        return MapCell.grid_key == NO_GRID_KEY
    return in_grid(MapCell.grid_key, grid)


def _span(low: float, high: float, origin: float, size: float, cells: int) -> tuple[int, int]:
    """The fine cells' indexes of the whole clusters (``cells`` fine cells each) that meet
    [low, high]."""
    first = math.floor((low + origin) / size) // cells
    last = math.floor((high + origin) / size) // cells
    return first * cells, (last + 1) * cells - 1


def rollup_clusters_query(filters: MapFilters, view: View) -> Select | None:
    """One row per cluster from the roll-up (the columns of ``viewport.clusters_query``), or
    None when no level is fine enough for the view's cluster cell."""
    from maps.viewport import cell_size  # maps.viewport calls this module

    width, height = cell_size(view)
    level = _level_for(width, height)
    if level is None:
        return None
    size = cell_degrees(level)
    # Never smaller than the view's cell (so never more clusters than a live answer has), at
    # most half as large again (a roll-up cell is at most half of it).
    across, down = _whole_cells(width, size), _whole_cells(height, size)
    box = view.bbox or BBox(-180.0, -90.0, 180.0, 90.0)
    first_column, last_column = _span(box.min_lon, box.max_lon, 180.0, size, across)
    first_row, last_row = _span(box.min_lat, box.max_lat, 90.0, size, down)
    column = MapCell.column.op("/")(_integer(across)).label("column")
    row = MapCell.row.op("/")(_integer(down)).label("row")
    kinds = [filters.kind] if filters.kind else list(KINDS)
    clauses = [
        MapCell.level == level,
        MapCell.kind.in_(kinds),
        _grid_clause(filters.grid),
        MapCell.column.between(first_column, last_column),
        MapCell.row.between(first_row, last_row),
    ]
    if filters.status:
        clauses.append(MapCell.status == filters.status)
    total = func.sum(MapCell.count)
    per_status = [
        func.sum(case((MapCell.status == status, MapCell.count), else_=0)).label(status)
        for status in MAP_STATUSES
    ]
    return (
        select(
            column,
            row,
            total.label("count"),
            (func.sum(MapCell.sum_lon) / total).label("longitude"),
            (func.sum(MapCell.sum_lat) / total).label("latitude"),
            func.min(MapCell.west).label("west"),
            func.min(MapCell.south).label("south"),
            func.max(MapCell.east).label("east"),
            func.max(MapCell.north).label("north"),
            *per_status,
        )
        .where(*clauses)
        .group_by(column, row)
    )


def rollup_clusters(
    filters: MapFilters, user: User | None, today: date, view: View, projector: Projector
) -> dict[str, Any] | None:
    """The clusters answer from the roll-up, or None: answer live (see the docstring)."""
    from maps import viewport  # maps.viewport calls this module

    if not may_use_rollup(filters, user):
        return None
    build = current_build()
    if build is None or build.built_at is None or build.built_for != today:
        return None
    query = rollup_clusters_query(filters, view)
    if query is None:
        return None
    rows = db.session.connection().execute(query).all()
    if sum(int(row.count) for row in rows) <= max(THRESHOLD, viewport.POINT_LIMIT):
        return None
    answer = viewport.clusters_answer(rows, projector)
    answer["as_of"] = build.built_at.isoformat()
    answer["as_of_local"] = district_time(build.built_at)
    answer["stale"] = build.data_version != current_version(db.session)
    return answer
