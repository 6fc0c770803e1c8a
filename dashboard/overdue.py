"""What is overdue, where, for how long, and how that went over the last weeks: the officer's
dashboard panels. Counts are grouped SQL (one query per panel, never a loop over rows); the
lists are short (``limit``) and ordered in SQL.

Every function takes ``today`` (the district's today unless given), the ``user`` asking (a
contractor counts what it may see; staff and ``None`` count everything) and ``grid`` (a grid's
code, ``NO_GRID`` or "" for the whole district), as ``dashboard.stats`` does.

Overdue is the rule of the lists: an inspection scheduled and due before today
(``inspections.services.overdue_clause``), a hazard not verified and past its deadline
(``hazards.services.hazard_overdue_clause``). Days late: today minus the due date (deadline).

The weekly trend is ``dashboard.trend``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased, defer

from accounts.access import visible_clause
from accounts.scope import ALL_GRIDS
from assets.models import Asset, Grid
from assets.services import NO_GRID, grid_clause
from core.clock import district_today
from core.extensions import db
from hazards.models import Hazard, HazardEvent, HazardStatus
from hazards.services import hazard_overdue_clause
from inspections.models import Inspection
from inspections.services import overdue_clause

if TYPE_CHECKING:
    from accounts.models import User

LIST_LIMIT = 10
DEFAULT_LATE_DAYS = 14
DEFAULT_GRID_ROWS = 20


def _today(today: date | None) -> date:
    return district_today() if today is None else today


def late_days_setting() -> int:
    """``DASHBOARD_LATE_DAYS``: the officer's queue lists inspections overdue by more."""
    return int(current_app.config.get("DASHBOARD_LATE_DAYS", DEFAULT_LATE_DAYS))


def _inspections(user: User | None, grid: str) -> Select:
    """Inspections ``user`` may see, of the assets in ``grid``, joined to their asset."""
    return (
        select(Inspection)
        .join(Asset, Asset.id == Inspection.asset_id)
        .where(visible_clause(user, Inspection), grid_clause(Asset.grid_id, grid))
    )


def _hazards(user: User | None, grid: str) -> Select:
    return select(Hazard).where(visible_clause(user, Hazard), grid_clause(Hazard.grid_id, grid))


# --- Per grid -----------------------------------------------------------------------------


@dataclass
class GridOverdue:
    """Overdue inspections and hazards of one grid (a first-level grid: with its children)."""

    code: str  # a grid's code, or NO_GRID
    name: str
    inspections: int = 0
    hazards: int = 0
    children: list[GridOverdue] = field(default_factory=list)


def _counts_by_grid(query: Select, grid_column) -> dict[int | None, int]:
    grouped = query.with_only_columns(grid_column, func.count()).group_by(grid_column)
    return {grid_id: int(count) for grid_id, count in db.session.execute(grouped)}


def overdue_by_grid(
    today: date | None = None, user: User | None = None, grid: str = ""
) -> list[GridOverdue]:
    """First-level grids, each with its second-level grids and their totals; then what lies
    in no grid (only when there is some). With ``grid``, only that grid's part."""
    today = _today(today)
    grid = "" if grid.strip().lower() == ALL_GRIDS else grid
    inspections = _counts_by_grid(
        _inspections(user, grid).where(overdue_clause(today)), Asset.grid_id
    )
    hazards = _counts_by_grid(
        _hazards(user, grid).where(hazard_overdue_clause(today)), Hazard.grid_id
    )
    grids = db.session.scalars(
        select(Grid).options(defer(Grid.boundary)).order_by(Grid.level, Grid.code)
    ).all()
    rows: dict[int, GridOverdue] = {}
    top: list[GridOverdue] = []
    for each in grids:
        row = GridOverdue(
            each.code, each.name, inspections.get(each.id, 0), hazards.get(each.id, 0)
        )
        rows[each.id] = row
        parent = rows.get(each.parent_id) if each.parent_id else None
        if parent is None:
            top.append(row)
        else:
            parent.children.append(row)
            parent.inspections += row.inspections
            parent.hazards += row.hazards
    if grid and grid != NO_GRID:
        code = grid.strip().upper()
        top = [row for row in top if row.code == code or any(c.code == code for c in row.children)]
        for row in top:
            if row.code != code:
                row.children = [c for c in row.children if c.code == code]
                row.inspections = sum(c.inspections for c in row.children)
                row.hazards = sum(c.hazards for c in row.children)
    if grid == NO_GRID:
        top = []
    if inspections.get(None) or hazards.get(None):
        top.append(
            GridOverdue(NO_GRID, str(_l("No grid")), inspections.get(None, 0), hazards.get(None, 0))
        )
    return top


def grid_rows_setting() -> int:
    """``DASHBOARD_GRID_ROWS``: past this many grids the dashboard lists only the worst ones
    (a province has thousands) and links to the full list (``/dashboard/grids``)."""
    return int(current_app.config.get("DASHBOARD_GRID_ROWS", DEFAULT_GRID_ROWS))


@dataclass(frozen=True)
class GridLine:
    """One grid of the flat list: a second-level grid (or a first-level one without children,
    or what lies in no grid) with its first-level grid's code."""

    row: GridOverdue
    parent: str


def grid_lines(rows: list[GridOverdue]) -> list[GridLine]:
    """The grids of ``overdue_by_grid`` that hold assets themselves, by code: the children of
    each first-level grid, a first-level grid without children, then no grid."""
    lines = []
    for row in rows:
        if row.children:
            lines.extend(GridLine(child, row.code) for child in row.children)
        else:
            lines.append(GridLine(row, ""))
    return lines


def worst_first(lines: list[GridLine]) -> list[GridLine]:
    """The most overdue inspections first, then the most overdue hazards, then by code."""
    return sorted(lines, key=lambda line: (-line.row.inspections, -line.row.hazards, line.row.code))


def grid_map_features(grid: str = "") -> dict:
    """The second-level grids' boundaries (first-level ones without children) as a GeoJSON
    FeatureCollection, each feature's ``name`` its code (the ECharts map's region name)."""
    query = select(Grid.code, Grid.name, Grid.level, func.ST_AsGeoJSON(Grid.boundary))
    has_children = select(Grid.parent_id).where(Grid.parent_id.is_not(None))
    query = query.where(or_(Grid.level == 2, Grid.id.not_in(has_children)))
    if grid and grid != NO_GRID and grid.strip().lower() != ALL_GRIDS:
        query = query.where(grid_clause(Grid.id, grid))
    elif grid == NO_GRID:
        return {"type": "FeatureCollection", "features": []}
    features = [
        {
            "type": "Feature",
            "properties": {"name": code, "title": name, "level": level},
            "geometry": json.loads(geometry),
        }
        for code, name, level, geometry in db.session.execute(query.order_by(Grid.code))
        if geometry
    ]
    return {"type": "FeatureCollection", "features": features}


# --- Lists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LateInspection:
    id: int
    asset_code: str
    asset_name: str
    grid_code: str
    due_on: date
    days_late: int


@dataclass(frozen=True)
class LateHazard:
    code: str
    asset_code: str | None
    grid_code: str
    deadline: date
    days_late: int
    status: str
    severity: str


def overdue_inspections(
    today: date | None = None,
    user: User | None = None,
    grid: str = "",
    more_than_days: int = 0,
    limit: int = LIST_LIMIT,
) -> list[LateInspection]:
    """Overdue inspections late by more than ``more_than_days``, the longest late first."""
    today = _today(today)
    query = (
        _inspections(user, grid)
        .outerjoin(Grid, Grid.id == Asset.grid_id)
        .where(overdue_clause(today), Inspection.due_on < today - timedelta(days=more_than_days))
        .with_only_columns(Inspection.id, Asset.code, Asset.name, Grid.code, Inspection.due_on)
        .order_by(Inspection.due_on, Asset.code, Inspection.id)
        .limit(limit)
    )
    return [
        LateInspection(id_, code, name, grid_code or "", due_on, (today - due_on).days)
        for id_, code, name, grid_code, due_on in db.session.execute(query)
    ]


def _hazard_rows(query: Select, today: date, limit: int) -> list[LateHazard]:
    """The first ``limit`` hazards of ``query`` (ordered by hazard columns alone), with their
    asset's and grid's codes. The few ids are picked first and only they are joined: joined
    before the limit, PostgreSQL read the whole assets table to name ten assets."""
    ids = list(db.session.scalars(query.with_only_columns(Hazard.id).limit(limit)))
    if not ids:
        return []
    named = select(
        Hazard.id,
        Hazard.code,
        Asset.code,
        Grid.code,
        Hazard.deadline,
        Hazard.status,
        Hazard.severity,
    )
    named = (
        named.outerjoin(Asset, Asset.id == Hazard.asset_id)
        .outerjoin(Grid, Grid.id == Hazard.grid_id)
        .where(Hazard.id.in_(ids))
    )
    rows = {row[0]: row[1:] for row in db.session.execute(named)}
    return [
        LateHazard(code, asset, grid or "", deadline, max((today - deadline).days, 0), status, sev)
        for code, asset, grid, deadline, status, sev in (rows[id_] for id_ in ids)
    ]


def overdue_hazards(
    today: date | None = None, user: User | None = None, grid: str = "", limit: int = LIST_LIMIT
) -> list[LateHazard]:
    """Overdue hazards, the longest late first."""
    today = _today(today)
    query = (
        _hazards(user, grid)
        .where(hazard_overdue_clause(today))
        .order_by(Hazard.deadline, Hazard.code)
    )
    return _hazard_rows(query, today, limit)


def awaiting_verification(
    today: date | None = None, user: User | None = None, grid: str = "", limit: int = LIST_LIMIT
) -> list[LateHazard]:
    """Hazards rectified and waiting for an officer to verify them, the longest waiting
    first."""
    query = (
        _hazards(user, grid)
        .where(Hazard.status == HazardStatus.RECTIFIED)
        .order_by(Hazard.status_changed_at, Hazard.code)
    )
    return _hazard_rows(query, _today(today), limit)


def returned_hazards(
    today: date | None = None, user: User | None = None, grid: str = "", limit: int = LIST_LIMIT
) -> list[LateHazard]:
    """Hazards returned for rework: open again after an officer reopened them (their latest
    step goes back to open from a later status), the longest returned first."""
    step = aliased(HazardEvent)
    latest = (
        select(func.max(step.id)).where(step.hazard_id == Hazard.id).correlate(Hazard)
    ).scalar_subquery()
    reopened = (
        select(HazardEvent.id)
        .where(
            HazardEvent.id == latest,
            HazardEvent.to_status == HazardStatus.OPEN,
            HazardEvent.from_status.is_not(None),
            HazardEvent.from_status != HazardStatus.OPEN,
        )
        .correlate(Hazard)
        .exists()
    )
    query = (
        _hazards(user, grid)
        .where(Hazard.status == HazardStatus.OPEN, reopened)
        .order_by(Hazard.status_changed_at, Hazard.code)
    )
    return _hazard_rows(query, _today(today), limit)
