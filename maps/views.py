"""The district map page and the popups its markers fetch."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from accounts.access import is_staff
from accounts.models import Contractor, Role
from accounts.scope import requested_grid
from assets.kinds import KINDS
from assets.models import Asset, AssetStatus, Grid
from core.clock import district_today
from core.extensions import db
from core.inputs import id_or_none
from core.spatial import extent_columns
from core.versions import cached_by_version
from hazards.models import Hazard
from maps import build
from maps.status import (
    MAP_STATUS_LABELS,
    MAP_STATUS_SYMBOLS,
    MAP_STATUSES,
    NO_GRID,
    MapFilters,
    StatusReasons,
    asset_popup_facts_query,
    overdue_by_grid_query,
    scope_key,
    scope_of,
)

bp = Blueprint(
    "maps",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/map/static",
)

MAX_TEXT_LENGTH = 200


def filters_from_request() -> MapFilters:
    """The filters of the query string; a value that cannot be one is a 400."""
    args = request.args
    kind = args.get("kind", "").strip()
    status = args.get("status", "").strip().lower()
    grid = requested_grid()
    text = args.get("q", "").strip()
    raw_contractor = args.get("contractor", "").strip()
    if kind and kind not in KINDS:
        abort(400, description=_("Unknown asset kind: %(kind)s.", kind=kind))
    if status and status not in MAP_STATUSES:
        abort(400, description=_("Unknown map status: %(status)s.", status=status))
    if len(text) > MAX_TEXT_LENGTH or len(grid) > MAX_TEXT_LENGTH:
        abort(400, description=_("The search text is too long."))
    contractor = None
    if raw_contractor:
        contractor = id_or_none(raw_contractor)
        if contractor is None:
            abort(400, description=_("The contractor must be given by its number."))
    if not is_staff(current_user):
        contractor = None  # a contractor sees its own assets only, whatever it asks
    return MapFilters(kind=kind, status=status, grid=grid, contractor=contractor, q=text)


@dataclass
class Legend:
    statuses: dict[str, str]
    symbols: dict[str, str]
    shapes: list[tuple[str, str]]
    severities: dict[str, str]
    choropleth: list[tuple[str, str]]


def legend() -> Legend:
    from hazards.services import SEVERITY_LABELS

    return Legend(
        statuses={status: str(MAP_STATUS_LABELS[status]) for status in MAP_STATUSES},
        symbols=MAP_STATUS_SYMBOLS,
        shapes=[(build.kind_shape(name), str(kind.label)) for name, kind in KINDS.items()],
        severities={
            severity: str(SEVERITY_LABELS[severity]) for severity in build.SEVERITY_COLOURS
        },
        choropleth=[(colour, label) for _lowest, colour, label in build.CHOROPLETH_CLASSES],
    )


DEFAULT_GRID_EMBED_LIMIT = 100


def grid_embed_limit() -> int:
    """``MAP_GRID_EMBED_LIMIT``: up to this many grids the map page embeds them all (each
    once); past it the page embeds none and the map fetches the grids of its view."""
    return int(current_app.config.get("MAP_GRID_EMBED_LIMIT", DEFAULT_GRID_EMBED_LIMIT))


def district_map_data(filters: MapFilters, user) -> build.DistrictMapData:
    """What the page embeds, in a few queries whatever the number of assets: the grids and
    the overdue inspections per grid (a district), or only the grids' extent (more grids than
    ``grid_embed_limit``: a province; the view's grids are fetched from ``maps.api``). Assets
    and hazards are always fetched by the view (``maps.api``)."""
    kinds = [filters.kind] if filters.kind else list(KINDS)
    data = build.DistrictMapData(
        kinds=kinds,
        filters=filters.as_args(),
        grids=[],
        overdue_by_grid={},
        setting=build.tile_setting(),
    )
    if db.session.scalar(select(func.count()).select_from(Grid)) > grid_embed_limit():
        bind = db.session.connection()
        extent = db.session.execute(select(*extent_columns(bind, Grid.boundary))).one()
        first = db.session.execute(
            select(*extent_columns(bind, Grid.boundary)).where(Grid.level == 1)
        ).one()
        data.grids_fetched = True
        data.extent = tuple(extent) if extent[0] is not None else None
        data.first_level_extent = tuple(first) if first[0] is not None else None
        return data
    today = district_today()
    data.grids = list(db.session.scalars(select(Grid).order_by(Grid.level, Grid.code)))
    # Counted over every overdue inspection of the filters (80,000 of a district grown to 1M
    # assets: 230 ms on SpatiaLite), so kept while the data, the day and the asker's scope
    # stay what they were (core.versions).
    key = ("map overdue by grid", today, *scope_key(user), *sorted(filters.as_args().items()))
    data.overdue_by_grid = cached_by_version(
        key, lambda: dict(db.session.execute(overdue_by_grid_query(filters, user, today)).all())
    )
    return data


def filter_grids(data: build.DistrictMapData, current: str) -> list[Grid]:
    """The grids the page's grid filter offers: every grid, or past the embed limit the
    first-level grids and the one asked for (a second-level grid is named in the link)."""
    if not data.grids_fetched:
        return data.grids
    query = select(Grid).where(Grid.level == 1)
    if current:
        query = select(Grid).where((Grid.level == 1) | (Grid.code == current.strip().upper()))
    return list(db.session.scalars(query.order_by(Grid.level, Grid.code)))


@bp.get("/map")
def district():
    filters = filters_from_request()
    data = district_map_data(filters, current_user)
    parts = build.district_map(data)
    contractors = []
    if is_staff(current_user):
        contractors = db.session.scalars(select(Contractor).order_by(Contractor.name)).all()
    return render_template(
        "maps/district.html",
        parts=parts,
        filters=filters,
        grids=filter_grids(data, filters.grid),
        contractors=contractors,
        kinds=KINDS,
        map_statuses=MAP_STATUS_LABELS,
        no_grid=NO_GRID,
        legend=legend(),
        share_url=url_for("maps.district", _external=False, **filters.as_args()),
    )


@bp.get("/map/popup/<code>")
def asset_popup(code: str):
    """The popup of one asset the user may see on the map (HTML, every value escaped)."""
    today = district_today()
    row = db.session.execute(asset_popup_facts_query(code, current_user, today)).first()
    if row is None:
        abort(404, description=_("No asset has the code %(code)s.", code=code))
    asset, map_status, next_due, open_hazards, *facts = row
    reasons = StatusReasons(map_status, asset.status == AssetStatus.FAULTY, *facts)
    html = build.asset_popup_html(
        asset,
        map_status,
        next_due,
        open_hazards or 0,
        logging_link=current_user.has_role(Role.CONTRACTOR),
        reasons=reasons.words(today),
    )
    return html, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


@bp.get("/map/hazard-popup/<code>")
def hazard_popup(code: str):
    """The popup of one hazard the user may see (HTML, every value escaped)."""
    hazard = db.session.scalars(
        select(Hazard)
        .where(Hazard.code == code.strip().upper(), scope_of(current_user).hazards)
        .options(joinedload(Hazard.asset).load_only(Asset.kind))
    ).first()
    if hazard is None:
        abort(404, description=_("No hazard has the code %(code)s.", code=code))
    html = build.HazardPopups().html(hazard)
    return html, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
