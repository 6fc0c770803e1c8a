"""The dashboard's snapshot: a large registry's staff dashboard without counting it per request.

What the dashboard counts (``dashboard_counts``) is the same live and in the snapshot: the
assets by kind, status and grid, the inspection and hazard numbers (``dashboard.stats``), what
is overdue where and the lists (``dashboard.overdue``) and the weekly trend
(``dashboard.trend``), for a user and a grid; the page lays them out (``dashboard.views``).

Refresh (``refresh_dashboard_snapshot``; ``flask dashboard snapshot``; the scheduler's
``dashboard.snapshot`` job every ``DASHBOARD_SNAPSHOT_MINUTES``, and at its start, when the
data version or the district's day has moved since the last build): first, reading (and
keeping the on-time and weekly roll-ups it fills, as a page view does), the numbers a user who
sees everything is shown are counted for the whole district (grid "") and for each
first-level grid, and encoded as JSON without the page's language (``encoded``: what lies in
no grid is named at render time); then, in one short writing transaction, the rows of
``dashboard_snapshots`` are replaced by them. The district's row is the state row: it says
for which data version and day the snapshot was built, when, and how many inspections the
registry held. Two refreshes at once: the second waits on the state row (PostgreSQL: ``FOR
UPDATE``; SQLite: its write lock, ``BEGIN IMMEDIATE``), then writes its own whole build or,
if a newer one committed meanwhile, nothing; readers see one whole build or the other.

Read (``snapshot_for``, from the dashboard and ``/dashboard/grids``): only for a user who
sees everything (staff), the whole district or a first-level grid, a snapshot built for the
district's today, and a registry of more than ``DASHBOARD_SNAPSHOT_THRESHOLD`` inspections
(as the snapshot counted them); anything else (a contractor, a second-level grid, a small
registry such as the demo district) is counted live and exact.

Staleness: the data version moves with every committed write, so the snapshot is behind by
up to the refresh interval (plus the refresh's own time); the page then says its numbers are
as of the build's time (``Snapshot.as_of``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click
from apscheduler.triggers.interval import IntervalTrigger
from flask import Blueprint, Flask, current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import defer

from accounts.access import sees_everything
from accounts.scope import ALL_GRIDS
from assets.models import Grid
from assets.services import NO_GRID
from core.clock import district_time, district_today, now_utc
from core.extensions import db
from core.scheduler import ScheduledJob, register_job
from core.spatial import locked_row, writing
from core.versions import build_is_current, current_version
from dashboard import overdue as late
from dashboard import stats
from dashboard import trend as weekly
from dashboard.models import DashboardSnapshot
from inspections.models import Inspection

if TYPE_CHECKING:
    from accounts.models import User

DISTRICT = ""  # the state row's grid: the whole district
DEFAULT_THRESHOLD = 100_000  # inspections: a registry with fewer is always counted live
JOB_SNAPSHOT = "dashboard.snapshot"


def threshold_setting() -> int:
    """``DASHBOARD_SNAPSHOT_THRESHOLD``: past this many inspections the staff dashboard reads
    the snapshot."""
    return int(current_app.config.get("DASHBOARD_SNAPSHOT_THRESHOLD", DEFAULT_THRESHOLD))


# --- What the dashboard counts ----------------------------------------------------------------


def dashboard_counts(user: User | None, grid: str = "") -> dict[str, Any]:
    """Everything the dashboard counts for ``user`` in ``grid`` (see the module docstring),
    before the page lays it out: numbers, dicts and the dataclasses of the counting modules.
    The caller commits (the on-time and weekly roll-ups it fills are a cache)."""
    today = district_today()
    by_kind, by_status, by_grid = stats.asset_counts(grid)
    on_time_by_grid, on_time_by_subgrid = stats.on_time_by_grid_levels(today, user, grid=grid)
    late_days = late.late_days_setting()
    return {
        "by_kind": by_kind,
        "by_status": by_status,
        "by_grid": by_grid,
        "overdue": stats.overdue_count(today, user, grid),
        "due_soon": stats.due_soon_count(today, user, grid),
        "on_time_by_contractor": stats.on_time_by_contractor(today, user, grid=grid),
        "on_time_by_grid": on_time_by_grid,
        "on_time_by_subgrid": on_time_by_subgrid,
        "hazards_by_severity": stats.open_hazards_by_severity(user, grid),
        "hazards_by_age": stats.open_hazards_by_age(today, user, grid),
        "overdue_hazards": stats.overdue_hazard_count(today, user, grid),
        "trend": weekly.overdue_trend(today, user, grid),
        "overdue_by_grid": late.overdue_by_grid(today, user, grid),
        "late_days": late_days,
        "late_inspections": late.overdue_inspections(today, user, grid, late_days),
        "awaiting_verification": late.awaiting_verification(today, user, grid),
        "returned_hazards": late.returned_hazards(today, user, grid),
        "oldest_inspections": late.overdue_inspections(today, user, grid),
        "oldest_hazards": late.overdue_hazards(today, user, grid),
    }


RATES = ("on_time_by_contractor", "on_time_by_grid", "on_time_by_subgrid")
INSPECTION_LISTS = ("late_inspections", "oldest_inspections")
HAZARD_LISTS = ("awaiting_verification", "returned_hazards", "oldest_hazards")
PLAIN = ("by_kind", "by_status", "overdue", "due_soon", "hazards_by_severity")
PLAIN += ("hazards_by_age", "overdue_hazards", "late_days")


def _unnamed(row: dict[str, Any], key: str) -> dict[str, Any]:
    """``row`` without the name of what lies in no grid (it is in the page's language)."""
    return {**row, "name": ""} if row[key] == NO_GRID else row


def _grid_overdue(row: late.GridOverdue) -> dict[str, Any]:
    plain = _unnamed(asdict(row), "code")
    plain["children"] = [_grid_overdue(child) for child in row.children]
    return plain


def encoded(counts: dict[str, Any]) -> dict[str, Any]:
    """``dashboard_counts``' answer as JSON-able values, without the page's language."""
    plain: dict[str, Any] = {name: counts[name] for name in PLAIN}
    plain["by_grid"] = [list(row) for row in counts["by_grid"]]
    for name in RATES:
        plain[name] = [_unnamed(asdict(rate), "key") for rate in counts[name]]
    for name in (*INSPECTION_LISTS, *HAZARD_LISTS, "trend"):
        plain[name] = [
            {key: value.isoformat() if isinstance(value, date) else value for key, value in row}
            for row in (asdict(each).items() for each in counts[name])
        ]
    plain["overdue_by_grid"] = [_grid_overdue(row) for row in counts["overdue_by_grid"]]
    return plain


def _named(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {**row, "name": str(_l("No grid"))} if row[key] == NO_GRID else row


def _grid_overdue_of(row: dict[str, Any]) -> late.GridOverdue:
    children = [_grid_overdue_of(child) for child in row["children"]]
    return late.GridOverdue(**{**_named(row, "code"), "children": children})


def _dated(row: dict[str, Any], name: str) -> dict[str, Any]:
    return {**row, name: date.fromisoformat(row[name])}


def decoded(plain: dict[str, Any]) -> dict[str, Any]:
    """``encoded``'s answer back as ``dashboard_counts`` gives it, in the page's language."""
    counts: dict[str, Any] = {name: plain[name] for name in PLAIN}
    counts["by_grid"] = [tuple(row) for row in plain["by_grid"]]
    for name in RATES:
        counts[name] = [stats.OnTimeRate(**_named(rate, "key")) for rate in plain[name]]
    for name in INSPECTION_LISTS:
        counts[name] = [late.LateInspection(**_dated(row, "due_on")) for row in plain[name]]
    for name in HAZARD_LISTS:
        counts[name] = [late.LateHazard(**_dated(row, "deadline")) for row in plain[name]]
    counts["trend"] = [weekly.WeekPoint(**_dated(row, "day")) for row in plain["trend"]]
    counts["overdue_by_grid"] = [_grid_overdue_of(row) for row in plain["overdue_by_grid"]]
    return counts


# --- Refresh ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotBuild:
    data_version: int
    built_for: date
    built_at: datetime
    inspections: int
    grids: int

    def describe(self) -> str:
        return (
            f"the district and {self.grids} first-level grids, {self.inspections} inspections, "
            f"for {self.built_for} (data version {self.data_version})"
        )


def snapshot_grids() -> list[str]:
    """The grids a snapshot holds: the whole district, then each first-level grid by code."""
    codes = db.session.scalars(select(Grid.code).where(Grid.level == 1).order_by(Grid.code))
    return [DISTRICT, *codes]


def _counted() -> tuple[int, int, dict[str, dict[str, Any]]]:
    """(data version, the registry's inspections, each snapshot grid's encoded numbers),
    counted outside the write lock: the long part never keeps writers waiting (SQLite has one
    writer at a time)."""
    try:
        # Read before the data it labels: a write in between leaves the label older than the
        # data (refreshed again later), never newer.
        version = current_version(db.session)
        inspections = db.session.scalar(select(func.count()).select_from(Inspection)) or 0
        numbers = {grid: encoded(dashboard_counts(None, grid)) for grid in snapshot_grids()}
        db.session.commit()  # keeps the on-time and weekly roll-ups it filled (a cache)
    except Exception:
        db.session.rollback()
        raise
    return version, int(inspections), numbers


def _store(
    state: DashboardSnapshot, build: SnapshotBuild, numbers: dict[str, dict[str, Any]]
) -> None:
    table = DashboardSnapshot.__table__
    db.session.execute(delete(table).where(table.c.grid != DISTRICT))
    stamp = {
        "data_version": build.data_version,
        "built_for": build.built_for,
        "built_at": build.built_at,
        "inspections": build.inspections,
    }
    rows = [{"grid": grid, **stamp, "numbers": plain} for grid, plain in numbers.items()]
    grids = [row for row in rows if row["grid"] != DISTRICT]
    if grids:
        db.session.execute(insert(table), grids)
    for name, value in stamp.items():
        setattr(state, name, value)
    state.numbers = numbers[DISTRICT]


def refresh_dashboard_snapshot(only_if_changed: bool = False) -> SnapshotBuild | None:
    """Count the snapshot again and commit it; with ``only_if_changed``, only when the data
    version or the district's day differs from the last build's (else None). Counting runs in
    transactions of its own; the rows are then replaced in one writing transaction that holds
    the state row. Call it outside a transaction."""
    today = district_today()
    if only_if_changed:
        state = db.session.get(DashboardSnapshot, DISTRICT)
        version = current_version(db.session)
        db.session.rollback()
        if state is not None and build_is_current(state, version, today, only_if_changed):
            return None
    version, inspections, numbers = _counted()
    with writing():
        try:
            state = locked_row(DashboardSnapshot.grid, DISTRICT, inspections=0)
            if build_is_current(state, version, today, only_if_changed):
                db.session.rollback()
                return None
            build = SnapshotBuild(version, today, now_utc(), inspections, len(numbers) - 1)
            _store(state, build, numbers)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    return build


def refresh_when_changed() -> str:
    """The scheduler's job: count again if the data or the day moved since the last build."""
    build = refresh_dashboard_snapshot(only_if_changed=True)
    return "unchanged" if build is None else build.describe()


def register_commands(bp: Blueprint) -> None:
    @bp.cli.command("snapshot")
    @click.option(
        "--if-changed", is_flag=True, help="Only if the data or the day moved since the last."
    )
    def snapshot_command(if_changed: bool) -> None:
        """Count the dashboard's snapshot again (what a large registry's staff dashboard reads)."""
        started = time.perf_counter()
        build = refresh_dashboard_snapshot(only_if_changed=if_changed)
        if build is None:
            click.echo("The dashboard's snapshot is up to date.")
            return
        seconds = time.perf_counter() - started
        click.echo(f"dashboard snapshot: {build.describe()} in {seconds:.1f} s")


def register_jobs(app: Flask) -> None:
    def every_few_minutes(config) -> IntervalTrigger:
        return IntervalTrigger(minutes=config["DASHBOARD_SNAPSHOT_MINUTES"])

    register_job(
        app,
        ScheduledJob(
            JOB_SNAPSHOT, every_few_minutes, refresh_when_changed, at_start=refresh_when_changed
        ),
    )


# --- Read -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The counts of one grid from the snapshot (as ``dashboard_counts`` gives them), and the
    build's time (district time, "HH:MM") when the data has moved since, else None."""

    counts: dict[str, Any]
    as_of: str | None


def snapshot_grid(grid: str) -> str | None:
    """The snapshot row that answers for the grid filter ``grid``, or None (none can)."""
    if not grid or grid.strip().lower() == ALL_GRIDS:
        return DISTRICT
    if grid == NO_GRID:
        return None
    return grid.strip().upper()


def snapshot_for(user: User | None, grid: str) -> Snapshot | None:
    """The dashboard's counts for ``user`` and ``grid`` from the snapshot, or None: count
    them live (see the module docstring)."""
    if not sees_everything(user):
        return None
    key = snapshot_grid(grid)
    if key is None:
        return None
    row = db.session.get(DashboardSnapshot, key, options=[defer(DashboardSnapshot.numbers)])
    if (
        row is None
        or row.built_at is None
        or row.built_for != district_today()
        or row.inspections <= threshold_setting()
    ):
        return None
    counts = decoded_numbers(row)
    if counts is None or counts["late_days"] != late.late_days_setting():
        return None
    stale = row.data_version != current_version(db.session)
    as_of = district_time(row.built_at)[-5:] if stale else None
    return Snapshot(counts, as_of)


_DECODED = "sar_dashboard_snapshot_decoded"
DECODED_KEPT = 64
_decoded_lock = threading.Lock()


def decoded_numbers(row: DashboardSnapshot) -> dict[str, Any] | None:
    """The numbers of ``row``'s build, decoded in the page's language: read and decoded once
    per build and language in this process (per app), not per view. At a province the
    district's row is a megabyte of JSON: reading and decoding it cost more than the rest of
    the page."""
    cache: OrderedDict = current_app.extensions.setdefault(_DECODED, OrderedDict())
    key = (row.grid, row.data_version, row.built_for, row.built_at, str(get_locale()))
    with _decoded_lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    plain = db.session.scalar(
        select(DashboardSnapshot.numbers).where(
            DashboardSnapshot.grid == row.grid, DashboardSnapshot.built_at == row.built_at
        )
    )
    if plain is None:  # none, or a newer build committed since the row was read
        return None
    counts = decoded(plain)
    with _decoded_lock:
        cache[key] = counts
        while len(cache) > DECODED_KEPT:
            cache.popitem(last=False)
    return counts
