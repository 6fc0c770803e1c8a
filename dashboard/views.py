"""The home page: a contractor's work for today and the coming days; for staff (and at
``/dashboard`` for everyone) the dashboard: the registry's numbers, and what is overdue, due
soon and late."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from accounts.access import acting_contractor_id, is_staff, sees_everything
from accounts.scope import requested_grid
from assets.models import Asset, Grid
from assets.services import NO_GRID, GridChoices, grid_choices, grid_clause
from core.clock import district_today
from core.extensions import db
from core.paging import DEFAULT_PER_PAGE, page_args
from core.versions import cached_by_version
from dashboard import overdue as late
from dashboard import stats
from dashboard import trend as weekly
from dashboard.work import open_work
from hazards.services import SEVERITY_LABELS

bp = Blueprint("dashboard", __name__, template_folder="templates")


@bp.get("/")
def index():
    """Staff land on the dashboard; a contractor's user on its work."""
    if is_staff(current_user):
        return dashboard()
    return render_template("dashboard/home.html", work=open_work(current_user))


@bp.get("/dashboard")
def dashboard():
    """The numbers of the district, or of one grid (``grid``; an officer's own grid unless
    the request names one: ``accounts.scope``)."""
    grid = requested_grid()
    key = numbers_key(current_user, grid)
    by_kind, by_status, by_grid = cached_by_version(("assets", *key), lambda: asset_counts(grid))
    total = sum(by_kind.values())
    numbers = cached_by_version(("numbers", *key), lambda: inspection_numbers(current_user, grid))
    db.session.commit()  # keeps the on-time totals rolled up for past days (a cache)
    limit = late.grid_rows_setting()
    return render_template(
        "dashboard/index.html",
        total=total,
        by_kind=by_kind,
        by_status=by_status,
        by_grid=by_grid if len(by_grid) <= limit else largest(by_grid, limit),
        grids_bounded=len(by_grid) > limit,
        without_grid=total - sum(count for _code, _name, count in by_grid),
        grid=grid,
        grid_args={"grid": grid} if grid else {},
        grids=filter_grids(grid),
        **numbers,
    )


def lowest_rates(rates: list, limit: int) -> list:
    """``rates`` as they are, or past ``limit`` the ``limit`` lowest on-time rates (lowest
    first; grids where nothing counted last)."""
    if len(rates) <= limit:
        return rates
    return sorted(rates, key=lambda rate: (rate.rate is None, rate.rate or 0.0, rate.key))[:limit]


def numbers_key(user, grid: str) -> tuple:
    """What the dashboard's numbers depend on besides the data (``core.versions``): the
    district's day, whose records the asker sees, the grid and the page's language."""
    return (
        district_today(),
        sees_everything(user),
        acting_contractor_id(user),
        grid,
        str(get_locale()),
    )


def largest(by_grid: list[tuple[str, str, int]], limit: int) -> list[tuple[str, str, int]]:
    """The ``limit`` grids holding the most assets, most first (then by code)."""
    return sorted(by_grid, key=lambda row: (-row[2], row[0]))[:limit]


def filter_grids(current: str) -> GridChoices:
    """The grid filter's choices (``assets.services.grid_choices``), "no grid" among them."""
    return grid_choices(current, NO_GRID)


GRID_SORTS = ("worst", "code")


@bp.get("/dashboard/grids")
def grid_list():
    """Every grid's overdue inspections and hazards (the dashboard lists the worst few), the
    worst first or by code, a page at a time; ``grid``: a first-level grid's children."""
    grid = requested_grid()
    sort = request.args.get("sort", "worst")
    if sort not in GRID_SORTS:
        abort(400, description=_("Unknown order: %(sort)s.", sort=sort))
    page, per_page = page_args()
    today = district_today()
    key = numbers_key(current_user, grid)
    lines = cached_by_version(
        ("grid lines", *key),
        lambda: late.grid_lines(late.overdue_by_grid(today, current_user, grid)),
    )
    if sort == "worst":
        lines = late.worst_first(lines)
    pages = max(1, -(-len(lines) // per_page))
    kept = {"grid": grid or None, "sort": None if sort == "worst" else sort}
    if per_page != DEFAULT_PER_PAGE:
        kept["per_page"] = per_page

    def list_url(**changes: Any) -> str:
        return url_for("dashboard.grid_list", **{**kept, **changes})

    return render_template(
        "dashboard/grids.html",
        lines=lines[(page - 1) * per_page : page * per_page],
        total=len(lines),
        page=page,
        pages=pages,
        per_page=per_page,
        sort=sort,
        grid=grid,
        grids=filter_grids(grid),
        NO_GRID_STATS=stats.NO_GRID,
        list_url=list_url,
    )


def inspection_numbers(user, grid: str = "") -> dict[str, Any]:
    """The inspection and hazard panels of the dashboard, scoped to what ``user`` may see
    (and to ``grid``, when given)."""
    today = district_today()
    by_grid, by_subgrid = stats.on_time_by_grid_levels(today, user, grid=grid)
    return {
        "today": today,
        "overdue": stats.overdue_count(today, user, grid),
        "due_soon": stats.due_soon_count(today, user, grid),
        "on_time_days": stats.ON_TIME_WINDOW_DAYS,
        "on_time_by_contractor": stats.on_time_by_contractor(today, user, grid=grid),
        "on_time_by_grid": by_grid,
        "on_time_by_subgrid": lowest_rates(by_subgrid, late.grid_rows_setting()),
        "subgrids_bounded": len(by_subgrid) > late.grid_rows_setting(),
        "hazards_by_severity": stats.open_hazards_by_severity(user, grid),
        "hazards_by_age": stats.open_hazards_by_age(today, user, grid),
        "age_buckets": stats.AGE_BUCKETS,
        "age_filters": age_filters(today),
        "overdue_hazards": stats.overdue_hazard_count(today, user, grid),
        "severity_labels": SEVERITY_LABELS,
        "NO_GRID_STATS": stats.NO_GRID,
        **overdue_panels(today, user, grid),
    }


def overdue_panels(today: date, user, grid: str = "") -> dict[str, Any]:
    """What is overdue per grid (and its map), the officer's queue, the oldest overdue items
    and the weekly trend (``dashboard.overdue``)."""
    late_days = late.late_days_setting()
    trend = weekly.overdue_trend(today, user, grid)
    by_grid = late.overdue_by_grid(today, user, grid)
    lines = late.grid_lines(by_grid)
    limit = late.grid_rows_setting()
    bounded = len(lines) > limit
    return {
        "overdue_by_grid": by_grid,
        # past the limit only the worst grids, and a link to the full list
        "worst_grids": late.worst_first(lines)[:limit] if bounded else None,
        "grid_count": len(lines),
        "late_days": late_days,
        "late_inspections": late.overdue_inspections(today, user, grid, late_days),
        "awaiting_verification": late.awaiting_verification(today, user, grid),
        "returned_hazards": late.returned_hazards(today, user, grid),
        "oldest_inspections": late.overdue_inspections(today, user, grid),
        "oldest_hazards": late.overdue_hazards(today, user, grid),
        "trend": trend,
        "chart_data": chart_data(trend, [] if bounded else by_grid, grid, drawn=not bounded),
    }


def chart_data(trend, by_grid, grid: str, drawn: bool = True) -> dict[str, Any]:
    """What static/js/dashboard.js draws: the trend and the grid map (its GeoJSON and the
    counts of each region; none past ``DASHBOARD_GRID_ROWS``: the table lists the worst),
    with the labels in the page's language."""
    counts = {}
    for row in by_grid:
        for each in [row, *row.children]:
            counts[each.code] = {"inspections": each.inspections, "hazards": each.hazards}
    return {
        "weeks": [point.week for point in trend],
        "inspections": [point.inspections for point in trend],
        "hazards": [point.hazards for point in trend],
        "grids": late.grid_map_features(grid) if drawn else None,
        "counts": counts,
        "inspections_url": url_for("inspections.inspection_list"),
        "labels": {
            "inspections": _("Overdue inspections"),
            "hazards": _("Overdue hazards"),
        },
    }


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


def age_filters(today: date) -> dict[str, dict[str, str]]:
    """The hazard list's found_from/found_to filters matching each age bucket."""
    filters, youngest = {}, 0
    for key, _label, oldest in stats.AGE_BUCKETS:
        bounds = {"found_to": (today - timedelta(days=youngest)).isoformat()}
        if oldest is not None:
            bounds["found_from"] = (today - timedelta(days=oldest)).isoformat()
            youngest = oldest + 1
        filters[key] = bounds
    return filters
