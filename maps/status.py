"""Map status of assets, computed for all of them in one SQL query.

red = overdue inspection, faulty, or an open major hazard; orange = an inspection due soon or
an open general hazard; green = in order; grey = retired (retired wins over everything).
Overdue, due soon and open come from their one definition in ``inspections``.

A contractor user sees only the assets of its own company's inspections, and their status is
judged on what it may see: its own inspections and hazards (``accounts.access``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select

from accounts.access import acting_contractor_id, visible_clause
from accounts.scope import scope_grid_code
from assets.models import Asset, AssetStatus
from assets.services import NO_GRID, in_grid, text_search
from core.clock import district_today
from core.spatial import BBox, bbox_filter, latitude_of, longitude_of
from hazards.models import Hazard, HazardSeverity
from hazards.services import open_hazard_clause
from inspections.models import Inspection, InspectionStatus
from inspections.services import due_soon_clause, overdue_clause

if TYPE_CHECKING:
    from accounts.models import User

RED, ORANGE, GREEN, GREY = "red", "orange", "green", "grey"
MAP_STATUSES = (RED, ORANGE, GREEN, GREY)
MAP_STATUS_LABELS = {
    RED: _l("Overdue, faulty or major hazard"),
    ORANGE: _l("Due soon or general hazard"),
    GREEN: _l("In order"),
    GREY: _l("Retired"),
}
# The symbol drawn inside a marker, its legend swatch and its popup chip: status is never
# told by colour alone.
MAP_STATUS_SYMBOLS = {RED: "!", ORANGE: "\u25f7", GREEN: "\u2713", GREY: "\u00d7"}


@dataclass(frozen=True)
class MapFilters:
    """What the map shows; every field empty means everything the user may see."""

    kind: str = ""
    status: str = ""
    grid: str = ""
    contractor: int | None = None
    q: str = ""

    def as_args(self) -> dict[str, Any]:
        """The non-empty filters as query parameters (a shareable URL)."""
        values = {
            "kind": self.kind,
            "status": self.status,
            "grid": self.grid,
            "contractor": self.contractor,
            "q": self.q,
        }
        return {key: value for key, value in values.items() if value not in ("", None)}


@dataclass(frozen=True)
class Scope:
    """What a user may see of inspections, hazards and assets, as SQL conditions."""

    inspections: ColumnElement[bool]
    hazards: ColumnElement[bool]
    assets: ColumnElement[bool]


def scope_of(user: User | None) -> Scope:
    """The access policy's conditions (``accounts.access``) for ``user``."""
    return Scope(
        visible_clause(user, Inspection),
        visible_clause(user, Hazard),
        visible_clause(user, Asset),
    )


def scope_key(user: User | None) -> tuple:
    """What of its asker a map answer depends on (``scope_of``): role, contractor, grid scope."""
    return (str(getattr(user, "role", "")), acting_contractor_id(user), scope_grid_code(user))


def _has_a_row(query: Select, per_asset: bool) -> ColumnElement[bool]:
    """Whether ``query`` (correlated to ``assets`` only) has a row for the outer asset.

    ``per_asset``: a scalar subquery with LIMIT 1, asked for each asset through the index.
    Not EXISTS, which PostgreSQL may plan as a hashed set of every matching row of the whole
    table (a "hashed SubPlan"), read once per query: it did for a dense street of 5,000
    assets, reading 212,000 overdue or due-soon inspections (180 ms warm, 1.2 s cold) where
    the 2,001 points' probes read a few thousand index entries. Otherwise EXISTS, the
    planner's choice: for the live clusters of a whole 1M-asset district the hashed sets
    took 2.3 s where probing each asset took 3.0."""
    query = query.correlate(Asset)
    if not per_asset:
        return query.exists()
    return query.with_only_columns(literal(1)).limit(1).scalar_subquery().is_not(None)


def _inspection_exists(per_asset: bool, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """An inspection of the outer query's asset."""
    return _has_a_row(
        select(Inspection.id).where(Inspection.asset_id == Asset.id, *conditions), per_asset
    )


def _hazard_exists(per_asset: bool, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """An open hazard of the outer query's asset."""
    return _has_a_row(
        select(Hazard.id).where(Hazard.asset_id == Asset.id, open_hazard_clause(), *conditions),
        per_asset,
    )


def map_status_expression(scope: Scope, today: date, per_asset: bool = True) -> ColumnElement[str]:
    """The map status of the outer query's asset: correlated questions, each asset probed by
    index (``per_asset``; else the planner may hash, see ``_has_a_row``).

    Most assets are green, so the first question is the one that settles green: an inspection
    overdue or due soon, or any open hazard (two probes). Only an asset with either is probed
    again, for red (overdue, a major hazard); what is left is orange. The four questions of
    the definition, asked in their order, took four probes for a green asset: a street of a
    province (2,000 points) read 8,000 index entries for its statuses."""
    overdue = _inspection_exists(per_asset, scope.inspections, overdue_clause(today))
    overdue_or_due_soon = _inspection_exists(
        per_asset, scope.inspections, or_(overdue_clause(today), due_soon_clause(today))
    )
    major = _hazard_exists(per_asset, scope.hazards, Hazard.severity == HazardSeverity.MAJOR)
    return case(
        (Asset.status == AssetStatus.RETIRED, GREY),
        (Asset.status == AssetStatus.FAULTY, RED),
        (and_(~overdue_or_due_soon, ~_hazard_exists(per_asset, scope.hazards)), GREEN),
        (or_(overdue, major), RED),
        else_=ORANGE,
    )


def _asset_ids_of_inspections(*conditions: ColumnElement[bool]) -> Select:
    return select(Inspection.asset_id).where(*conditions)


def _asset_ids_of_open_hazards(*conditions: ColumnElement[bool]) -> Select:
    return select(Hazard.asset_id).where(
        Hazard.asset_id.is_not(None), open_hazard_clause(), *conditions
    )


def setwise_status_expression(scope: Scope, today: date) -> ColumnElement[str]:
    """``map_status_expression``'s status on the same definitions, computed set-wise for
    many assets at once: the few assets with an overdue or due-soon inspection or an open
    hazard are read once each from their indexes (uncorrelated ``IN`` subqueries: a hashed
    set on PostgreSQL, a temporary index on SQLite) instead of probed once per asset."""
    red = or_(
        Asset.status == AssetStatus.FAULTY,
        Asset.id.in_(_asset_ids_of_inspections(scope.inspections, overdue_clause(today))),
        Asset.id.in_(
            _asset_ids_of_open_hazards(scope.hazards, Hazard.severity == HazardSeverity.MAJOR)
        ),
    )
    orange = or_(
        Asset.id.in_(_asset_ids_of_inspections(scope.inspections, due_soon_clause(today))),
        Asset.id.in_(
            _asset_ids_of_open_hazards(scope.hazards, Hazard.severity == HazardSeverity.GENERAL)
        ),
    )
    return case(
        (Asset.status == AssetStatus.RETIRED, GREY),
        (red, RED),
        (orange, ORANGE),
        else_=GREEN,
    )


def asset_filter_clauses(filters: MapFilters, scope: Scope) -> list[ColumnElement[bool]]:
    """The WHERE clauses of everything but the status filter."""
    clauses: list[ColumnElement[bool]] = []
    clauses.append(scope.assets)
    if filters.kind:
        clauses.append(Asset.kind == filters.kind)
    if filters.grid == NO_GRID:
        clauses.append(Asset.grid_id.is_(None))
    elif filters.grid:
        clauses.append(in_grid(Asset.grid_id, filters.grid))
    if filters.contractor is not None:
        clauses.append(
            Asset.id.in_(_asset_ids_of_inspections(Inspection.contractor_id == filters.contractor))
        )
    if filters.q:
        clauses.append(text_search(filters.q))
    return clauses


def map_assets_query(
    filters: MapFilters, user: User | None = None, today: date | None = None
) -> Select:
    """(code, kind, longitude, latitude, map_status) of every asset to draw, one query."""
    today = district_today() if today is None else today
    scope = scope_of(user)
    status = map_status_expression(scope, today).label("map_status")
    inner = (
        select(
            Asset.id,
            Asset.code,
            Asset.kind,
            longitude_of(Asset.location).label("longitude"),
            latitude_of(Asset.location).label("latitude"),
            status,
        )
        .where(*asset_filter_clauses(filters, scope))
        .subquery("drawn")
    )
    query = select(
        inner.c.code, inner.c.kind, inner.c.longitude, inner.c.latitude, inner.c.map_status
    )
    if filters.status:
        query = query.where(inner.c.map_status == filters.status)
    return query.order_by(inner.c.id)


def overdue_by_grid_query(
    filters: MapFilters, user: User | None = None, today: date | None = None
) -> Select:
    """(grid id, overdue inspections) per second-level grid among the filtered assets."""
    today = district_today() if today is None else today
    scope = scope_of(user)
    return (
        select(Asset.grid_id, func.count(Inspection.id))
        .join(Inspection, Inspection.asset_id == Asset.id)
        .where(
            Asset.grid_id.is_not(None),
            scope.inspections,
            overdue_clause(today),
            *asset_filter_clauses(filters, scope),
        )
        .group_by(Asset.grid_id)
    )


def asset_popup_facts_query(code: str, user: User | None, today: date | None = None) -> Select:
    """One asset's popup facts if ``user`` may see it on the map: the asset, its map status,
    its next due date (scheduled, visible inspections) and its open visible hazards."""
    today = district_today() if today is None else today
    scope = scope_of(user)
    next_due = (
        select(func.min(Inspection.due_on))
        .where(
            Inspection.asset_id == Asset.id,
            Inspection.status == InspectionStatus.SCHEDULED,
            scope.inspections,
        )
        .scalar_subquery()
    )
    open_hazards = (
        select(func.count(Hazard.id))
        .where(Hazard.asset_id == Asset.id, open_hazard_clause(), scope.hazards)
        .scalar_subquery()
    )
    clauses = [Asset.code == code.strip().upper()]
    clauses.append(scope.assets)
    return select(
        Asset,
        map_status_expression(scope, today).label("map_status"),
        next_due.label("next_due"),
        open_hazards.label("open_hazards"),
        *reason_columns(scope, today),
    ).where(and_(*clauses))


def _first_due(scope: Scope, clause: ColumnElement[bool]):
    return (
        select(func.min(Inspection.due_on))
        .where(Inspection.asset_id == Asset.id, scope.inspections, clause)
        .scalar_subquery()
    )


def _first_hazard(scope: Scope, severity: str):
    return (
        select(func.min(Hazard.code))
        .where(
            Hazard.asset_id == Asset.id,
            open_hazard_clause(),
            scope.hazards,
            Hazard.severity == severity,
        )
        .scalar_subquery()
    )


def reason_columns(scope: Scope, today: date) -> list[ColumnElement[Any]]:
    """The facts behind the outer query's asset's map status, on the same conditions as
    ``map_status_expression``: its oldest overdue due date, its first open major hazard,
    its first due-soon date and its first open general hazard (see ``StatusReasons``)."""
    return [
        _first_due(scope, overdue_clause(today)).label("oldest_overdue"),
        _first_hazard(scope, HazardSeverity.MAJOR).label("major_hazard"),
        _first_due(scope, due_soon_clause(today)).label("first_due_soon"),
        _first_hazard(scope, HazardSeverity.GENERAL).label("general_hazard"),
    ]


@dataclass(frozen=True)
class StatusReasons:
    """Why an asset has its map status, in words: what ``reason_columns`` found."""

    map_status: str
    faulty: bool
    oldest_overdue: date | None
    major_hazard: str | None
    first_due_soon: date | None
    general_hazard: str | None

    def words(self, today: date) -> list[str]:
        """ "Overdue 14 days", "Faulty", "Major hazard HZ-…" (red); "Due in 3 days",
        "General hazard HZ-…" (orange); "In order"; "Retired". Plain text: escape it."""
        if self.map_status == GREY:
            return [_("Retired")]
        if self.map_status == GREEN:
            return [_("In order")]
        if self.map_status == RED:
            words = []
            if self.oldest_overdue is not None:
                days = (today - self.oldest_overdue).days
                words.append(ngettext("Overdue %(num)d day", "Overdue %(num)d days", days))
            if self.faulty:
                words.append(_("Faulty"))
            if self.major_hazard:
                words.append(_("Major hazard %(code)s", code=self.major_hazard))
            return words
        words = []
        if self.first_due_soon is not None:
            days = (self.first_due_soon - today).days
            if days <= 0:
                words.append(_("Due today"))
            else:
                words.append(ngettext("Due in %(num)d day", "Due in %(num)d days", days))
        if self.general_hazard:
            words.append(_("General hazard %(code)s", code=self.general_hazard))
        return words


METRES_PER_DEGREE_LATITUDE = 111_320.0
NEIGHBOUR_RADIUS_M = 300
NEIGHBOUR_LIMIT = 40


def box_around(longitude: float, latitude: float, radius_m: float) -> BBox:
    """The box of ``radius_m`` metres each way around a WGS-84 point."""
    dlat = radius_m / METRES_PER_DEGREE_LATITUDE
    dlon = radius_m / (METRES_PER_DEGREE_LATITUDE * max(math.cos(math.radians(latitude)), 0.01))
    return BBox(longitude - dlon, latitude - dlat, longitude + dlon, latitude + dlat)


def neighbour_assets_query(
    bind,
    longitude: float,
    latitude: float,
    user: User | None,
    radius_m: float = NEIGHBOUR_RADIUS_M,
    limit: int = NEIGHBOUR_LIMIT,
    today: date | None = None,
) -> Select:
    """(asset, map status) of the assets the user may see within ``radius_m`` of a point
    (a box, through the spatial index), nearest first, at most ``limit``."""
    today = district_today() if today is None else today
    scope = scope_of(user)
    box = box_around(longitude, latitude, radius_m)
    clauses = [bbox_filter(bind, "assets", Asset.id, Asset.location, box)]
    clauses.append(scope.assets)
    longitude_gap = (longitude_of(Asset.location) - longitude) * math.cos(math.radians(latitude))
    latitude_gap = latitude_of(Asset.location) - latitude
    return (
        select(Asset, map_status_expression(scope, today).label("map_status"))
        .where(*clauses)
        .order_by(longitude_gap * longitude_gap + latitude_gap * latitude_gap, Asset.id)
        .limit(limit)
    )
