"""The dashboard's numbers: each one aggregate SQL query (GROUP BY), never a loop over rows.

Every function takes ``today`` (default: the district's today) and optionally the ``user``
asking: a contractor user counts only its own company's inspections and the hazards it may
see; staff (and ``None``, for the command line and benchmarks) count everything. ``grid``
(a grid's code, ``NO_GRID``, or "" for the whole district) counts only what lies there: the
inspections and on-time totals of its assets, its hazards.

On-time completion rate (the definition the dashboard page repeats): among the inspections
due in the last ``days`` days (default 90; due dates from ``today - days`` up to yesterday)
that are completed or overdue, the share completed on or before their due date, a date in
the district's time zone. Cancelled inspections do not count; an inspection due today does not
count yet, as it cannot be late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Select,
    case,
    func,
    select,
)
from sqlalchemy.orm import defer

from accounts.access import visible, visible_clause
from accounts.models import Contractor
from assets.models import Asset, Grid
from assets.services import NO_GRID, grid_clause
from core.clock import district_today
from core.extensions import db
from hazards.models import Hazard, HazardSeverity
from hazards.services import hazard_overdue_clause, open_hazard_clause
from inspections.models import Inspection, OnTimeTotal
from inspections.on_time import on_time_window, roll_up_on_time
from inspections.services import due_soon_clause, overdue_clause

if TYPE_CHECKING:
    from accounts.models import User

ON_TIME_WINDOW_DAYS = 90
# Age buckets of open hazards, in days since found_on: (key, label, oldest age in the bucket).
AGE_BUCKETS = (
    ("0-7", _l("0–7 days"), 7),
    ("8-30", _l("8–30 days"), 30),
    ("31-90", _l("31–90 days"), 90),
    ("90+", _l("Over 90 days"), None),
)


@dataclass(frozen=True)
class OnTimeRate:
    """On-time completions among the counted inspections of one contractor or grid."""

    key: str  # contractor id, grid code, or NO_GRID
    name: str
    on_time: int
    counted: int

    @property
    def rate(self) -> float | None:
        """Share completed on time, 0.0–1.0; None when nothing counted."""
        return self.on_time / self.counted if self.counted else None

    @property
    def percent(self) -> str:
        return "—" if self.rate is None else f"{self.rate * 100:.0f}%"


def _today(today: date | None) -> date:
    return district_today() if today is None else today


def _scoped(query: Select, user: User | None, grid: str = "") -> Select:
    """``query`` over inspections, limited to those ``user`` may count, of ``grid``."""
    query = query.where(visible_clause(user, Inspection))
    if grid:
        assets = select(Asset.id).where(grid_clause(Asset.grid_id, grid))
        query = query.where(Inspection.asset_id.in_(assets))
    return query


def _count(query: Select) -> int:
    return int(db.session.scalar(query) or 0)


# --- Overdue and due soon ---------------------------------------------------------------


def overdue_count(today: date | None = None, user: User | None = None, grid: str = "") -> int:
    """Scheduled inspections due before today (``inspections.services.overdue_clause``)."""
    query = select(func.count()).select_from(Inspection).where(overdue_clause(_today(today)))
    return _count(_scoped(query, user, grid))


def due_soon_count(today: date | None = None, user: User | None = None, grid: str = "") -> int:
    """Scheduled inspections due today up to 7 days ahead (``due_soon_clause``)."""
    query = select(func.count()).select_from(Inspection).where(due_soon_clause(_today(today)))
    return _count(_scoped(query, user, grid))


# --- On-time completion -----------------------------------------------------------------


def _on_time_totals(today: date, user: User | None, days: int, grid: str, *group_by) -> Select:
    """Sums of the rolled-up totals of the window, grouped by ``group_by``."""
    first, last = on_time_window(today, days)
    roll_up_on_time(today, first, last)
    query = (
        select(*group_by, func.sum(OnTimeTotal.on_time), func.sum(OnTimeTotal.counted))
        .where(OnTimeTotal.due_on.between(first, last), grid_clause(OnTimeTotal.grid_id, grid))
        .group_by(*group_by)
    )
    return query.where(visible_clause(user, OnTimeTotal))


def on_time_by_contractor(
    today: date | None = None,
    user: User | None = None,
    days: int = ON_TIME_WINDOW_DAYS,
    grid: str = "",
) -> list[OnTimeRate]:
    """On-time completion rate per contractor (see the module docstring), by name."""
    query = _on_time_totals(_today(today), user, days, grid, OnTimeTotal.contractor_id)
    sums = {
        contractor_id: (int(on_time), int(counted))
        for contractor_id, on_time, counted in db.session.execute(query)
    }
    names = dict(
        db.session.execute(
            select(Contractor.id, Contractor.name).where(Contractor.id.in_(list(sums)))
        ).all()
    )
    rates = [
        OnTimeRate(str(contractor_id), names[contractor_id], on_time, counted)
        for contractor_id, (on_time, counted) in sums.items()
    ]
    return sorted(rates, key=lambda rate: rate.name)


def on_time_by_grid(
    today: date | None = None, user: User | None = None, days: int = ON_TIME_WINDOW_DAYS
) -> list[OnTimeRate]:
    """On-time completion rate per first-level grid: an asset in a second-level grid counts
    for its parent. Assets outside every grid come last, under ``NO_GRID``."""
    return on_time_by_grid_levels(today, user, days)[0]


def on_time_by_subgrid(
    today: date | None = None, user: User | None = None, days: int = ON_TIME_WINDOW_DAYS
) -> list[OnTimeRate]:
    """On-time completion rate per grid an asset lies in (the second-level grids)."""
    return on_time_by_grid_levels(today, user, days)[1]


def on_time_by_grid_levels(
    today: date | None = None,
    user: User | None = None,
    days: int = ON_TIME_WINDOW_DAYS,
    grid: str = "",
) -> tuple[list[OnTimeRate], list[OnTimeRate]]:
    """(first-level, second-level) on-time rates from the rolled-up totals grouped by the
    assets' grid; the first level is the sum of its second-level grids (a couple of dozen
    aggregate rows added up here, never the inspections themselves)."""
    query = _on_time_totals(_today(today), user, days, grid, OnTimeTotal.grid_id)
    counts = {
        grid_id: (int(on_time or 0), int(counted))
        for grid_id, on_time, counted in db.session.execute(query)
    }
    grids = {
        grid.id: grid for grid in db.session.scalars(select(Grid).options(defer(Grid.boundary)))
    }
    subgrids: list[OnTimeRate] = []
    top: dict[int | None, list[int]] = {}
    for grid_id, (on_time, counted) in counts.items():
        grid = grids.get(grid_id)
        subgrids.append(_grid_rate(grid, on_time, counted))
        parent = grids.get(grid.parent_id or grid.id) if grid is not None else None
        totals = top.setdefault(parent.id if parent is not None else None, [0, 0])
        totals[0] += on_time
        totals[1] += counted
    first_level = [
        _grid_rate(grids.get(grid_id), on_time, counted)
        for grid_id, (on_time, counted) in top.items()
    ]
    return _sorted_rates(first_level), _sorted_rates(subgrids)


def _grid_rate(grid: Grid | None, on_time: int, counted: int) -> OnTimeRate:
    if grid is None:
        return OnTimeRate(NO_GRID, str(_l("No grid")), on_time, counted)
    return OnTimeRate(grid.code, grid.name, on_time, counted)


def _sorted_rates(rates: list[OnTimeRate]) -> list[OnTimeRate]:
    return sorted(rates, key=lambda rate: (rate.key == NO_GRID, rate.key))


# --- Hazards ----------------------------------------------------------------------------


def _visible_hazard_count(user: User | None, grid: str = "") -> Select:
    return (
        visible(user, Hazard)
        .with_only_columns(func.count(), maintain_column_froms=True)
        .where(grid_clause(Hazard.grid_id, grid))
    )


def open_hazards_by_severity(user: User | None = None, grid: str = "") -> dict[str, int]:
    """Hazards not yet verified, per severity (every severity present, 0 if none)."""
    query = (
        _visible_hazard_count(user, grid)
        .add_columns(Hazard.severity)
        .where(open_hazard_clause())
        .group_by(Hazard.severity)
    )
    counts = {str(severity): 0 for severity in HazardSeverity}
    for count, severity in db.session.execute(query):
        counts[severity] = int(count)
    return counts


def open_hazards_by_age(
    today: date | None = None, user: User | None = None, grid: str = ""
) -> dict[str, int]:
    """Hazards not yet verified, per age bucket (days since found_on: 0–7, 8–30, 31–90, >90);
    keys are those of ``AGE_BUCKETS``, every bucket present."""
    today = _today(today)
    whens = [
        (Hazard.found_on >= today - timedelta(days=oldest), key)
        for key, _label, oldest in AGE_BUCKETS
        if oldest is not None
    ]
    bucket = case(*whens, else_=AGE_BUCKETS[-1][0])
    query = (
        _visible_hazard_count(user, grid)
        .add_columns(bucket)
        .where(open_hazard_clause())
        .group_by(bucket)
    )
    counts = {key: 0 for key, _label, _oldest in AGE_BUCKETS}
    for count, key in db.session.execute(query):
        counts[key] = int(count)
    return counts


def overdue_hazard_count(
    today: date | None = None, user: User | None = None, grid: str = ""
) -> int:
    """Hazards past their rectification deadline and not verified."""
    return _count(_visible_hazard_count(user, grid).where(hazard_overdue_clause(_today(today))))


# --- Assets -----------------------------------------------------------------------------


def asset_counts(grid: str = "") -> tuple[dict[str, int], dict[str, int], list]:
    """The assets (of ``grid``, when given) counted by kind, by status and by grid, from one
    grouped read (an index-only scan of ``ix_assets_grid_kind_status`` on PostgreSQL) rather
    than a read of the whole table for each. By grid: (code, name, count) for every
    second-level grid and any other grid holding assets, by code; with ``grid``, only that
    grid and its children (none for ``NO_GRID``)."""
    grouped = db.session.execute(
        select(Asset.grid_id, Asset.kind, Asset.status, func.count())
        .where(grid_clause(Asset.grid_id, grid))
        .group_by(Asset.grid_id, Asset.kind, Asset.status)
    ).all()
    by_kind: dict[str, int] = {}
    by_status: dict[str, int] = {}
    in_grid: dict[int | None, int] = {}
    for grid_id, kind, status, count in grouped:
        by_kind[kind] = by_kind.get(kind, 0) + count
        by_status[status] = by_status.get(status, 0) + count
        in_grid[grid_id] = in_grid.get(grid_id, 0) + count
    return by_kind, by_status, asset_counts_by_grid(grid, in_grid)


def asset_counts_by_grid(grid: str, counts: dict[int | None, int]) -> list[tuple[str, str, int]]:
    """(code, name, count) of the grids ``asset_counts`` lists, from its counts per grid id."""
    if grid == NO_GRID:
        return []
    query = select(Grid.id, Grid.code, Grid.name, Grid.level).order_by(Grid.code)
    if grid:
        query = query.where(grid_clause(Grid.id, grid))
    return [
        (code, name, counts.get(grid_id, 0))
        for grid_id, code, name, level in db.session.execute(query)
        if level == 2 or counts.get(grid_id)
    ]
