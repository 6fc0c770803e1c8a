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

from accounts.access import acting_contractor_id, is_staff, sees_everything
from accounts.scope import requested_grid
from assets.services import NO_GRID, GridChoices, grid_choices
from core.clock import district_today
from core.extensions import db
from core.paging import DEFAULT_PER_PAGE, page_args
from core.versions import cached_by_version
from dashboard import overdue as late
from dashboard import stats
from dashboard.snapshot import dashboard_counts, snapshot_for
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
    the request names one: ``accounts.scope``): from the snapshot when it can answer
    (``dashboard.snapshot``), else counted (and kept while the data stays:
    ``core.versions``)."""
    grid = requested_grid()
    snapshot = snapshot_for(current_user, grid)
    if snapshot is None:
        key = numbers_key(current_user, grid)
        counts = cached_by_version(("counts", *key), lambda: dashboard_counts(current_user, grid))
        db.session.commit()  # keeps the on-time totals rolled up for past days (a cache)
    else:
        counts = snapshot.counts
    return render_template(
        "dashboard/index.html",
        numbers_as_of=snapshot.as_of if snapshot is not None else None,
        **dashboard_page(counts, grid),
    )


def dashboard_page(counts: dict[str, Any], grid: str) -> dict[str, Any]:
    """The dashboard page's values from what it counts (``dashboard.snapshot``'s
    ``dashboard_counts``): past ``DASHBOARD_GRID_ROWS`` grids only the largest and the worst,
    the links' filters and the charts' data."""
    by_kind, by_grid = counts["by_kind"], counts["by_grid"]
    total = sum(by_kind.values())
    limit = late.grid_rows_setting()
    return {
        "total": total,
        "by_kind": by_kind,
        "by_status": counts["by_status"],
        "by_grid": by_grid if len(by_grid) <= limit else largest(by_grid, limit),
        "grids_bounded": len(by_grid) > limit,
        "without_grid": total - sum(count for _code, _name, count in by_grid),
        "grid": grid,
        "grid_args": {"grid": grid} if grid else {},
        "grids": filter_grids(grid),
        **inspection_panels(counts, grid),
    }


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
    snapshot = snapshot_for(current_user, grid)
    if snapshot is None:
        lines = cached_by_version(
            ("grid lines", *key),
            lambda: late.grid_lines(late.overdue_by_grid(today, current_user, grid)),
        )
    else:
        lines = late.grid_lines(snapshot.counts["overdue_by_grid"])
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
        numbers_as_of=snapshot.as_of if snapshot is not None else None,
    )


def inspection_panels(counts: dict[str, Any], grid: str = "") -> dict[str, Any]:
    """The inspection and hazard panels of the dashboard from what it counts."""
    today = district_today()
    limit = late.grid_rows_setting()
    by_subgrid = counts["on_time_by_subgrid"]
    by_grid = counts["overdue_by_grid"]
    lines = late.grid_lines(by_grid)
    bounded = len(lines) > limit
    return {
        "today": today,
        "overdue": counts["overdue"],
        "due_soon": counts["due_soon"],
        "on_time_days": stats.ON_TIME_WINDOW_DAYS,
        "on_time_by_contractor": counts["on_time_by_contractor"],
        "on_time_by_grid": counts["on_time_by_grid"],
        "on_time_by_subgrid": lowest_rates(by_subgrid, limit),
        "subgrids_bounded": len(by_subgrid) > limit,
        "hazards_by_severity": counts["hazards_by_severity"],
        "hazards_by_age": counts["hazards_by_age"],
        "age_buckets": stats.AGE_BUCKETS,
        "age_filters": age_filters(today),
        "overdue_hazards": counts["overdue_hazards"],
        "severity_labels": SEVERITY_LABELS,
        "NO_GRID_STATS": stats.NO_GRID,
        # what is overdue per grid (and its map), the officer's queue, the oldest overdue
        # items and the weekly trend (``dashboard.overdue``, ``dashboard.trend``)
        "overdue_by_grid": by_grid,
        # past the limit only the worst grids, and a link to the full list
        "worst_grids": late.worst_first(lines)[:limit] if bounded else None,
        "grid_count": len(lines),
        "late_days": counts["late_days"],
        "late_inspections": counts["late_inspections"],
        "awaiting_verification": counts["awaiting_verification"],
        "returned_hazards": counts["returned_hazards"],
        "oldest_inspections": counts["oldest_inspections"],
        "oldest_hazards": counts["oldest_hazards"],
        "trend": counts["trend"],
        "chart_data": chart_data(
            counts["trend"], [] if bounded else by_grid, grid, drawn=not bounded
        ),
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
        "grids": cached_by_version(("grid map", grid), lambda: late.grid_map_features(grid))
        if drawn
        else None,
        "counts": counts,
        "inspections_url": url_for("inspections.inspection_list"),
        "labels": {
            "inspections": _("Overdue inspections"),
            "hazards": _("Overdue hazards"),
        },
    }


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
