"""The map's view as JSON: what the district map's script fetches for each view (issue 14).

``GET /api/v1/map/assets`` answers points or clusters for a box and zoom (``maps.viewport``),
with the map page's filters and their validation (``maps.views.filters_from_request``) and the
same access scope (a contractor: its own assets, judged on its own inspections and hazards).
``GET /api/v1/map/hazards`` answers the open hazards, major first, at most a bounded number.
``GET /api/v1/map/grids`` answers the grids of the box (a province's map embeds none).

Both are revalidated by ETag: a hash of the map's data version (``core.versions``: moved by
every committed write to assets, inspections, hazards or grids), the district's today (an
inspection turns overdue at midnight), the user's scope, the tile datum, the roll-up's build
time (``maps.rollup``: a new build answers anew), the language and the query. A
matching ``If-None-Match`` is a 304 before any map query runs; ``Cache-Control: private,
no-cache`` makes the browser ask each time. Session cookies and bearer tokens both work.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, request
from flask_babel import get_locale
from flask_login import current_user
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate

from assets.kinds import KINDS
from assets.schemas import BBoxField
from core.api import QuerySchema, json_response, register_token_api
from core.clock import district_today
from core.extensions import db
from core.inputs import MAX_ID
from core.spatial import reads_only
from core.versions import current_version
from maps import build
from maps.rollup import rollup_stamp
from maps.status import MAP_STATUSES, scope_key
from maps.viewport import MAX_ZOOM, View, viewport_assets, viewport_grids, viewport_hazards
from maps.views import MAX_TEXT_LENGTH, filters_from_request

blp = Blueprint(
    "maps_api", __name__, url_prefix="/api/v1", description="The map's view (points or clusters)"
)
CACHE_CONTROL = "private, no-cache"
BBOX_DESCRIPTION = "minLon,minLat,maxLon,maxLat (WGS-84); absent: everywhere"


def register_api(api: Api) -> None:
    register_token_api(api, blp)


class ViewQuerySchema(QuerySchema):
    bbox = BBoxField(
        metadata={
            "description": BBOX_DESCRIPTION,
            "type": "string",
            "example": "119.10,36.70,119.20,36.73",
        }
    )


class MapFiltersQuerySchema(ViewQuerySchema):
    kind = fields.String(validate=validate.OneOf(list(KINDS)))
    status = fields.String(
        validate=validate.OneOf(list(MAP_STATUSES)), metadata={"description": "Map status."}
    )
    grid = fields.String(
        validate=validate.Length(max=MAX_TEXT_LENGTH),
        metadata={"description": "Grid code (a first-level grid includes its children)."},
    )
    contractor = fields.Integer(
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "Contractor id (staff only; ignored for a contractor)."},
    )
    q = fields.String(
        validate=validate.Length(max=MAX_TEXT_LENGTH),
        metadata={"description": "Text search in code, name and address."},
    )


class MapGridsQuerySchema(MapFiltersQuerySchema):
    choropleth = fields.Boolean(
        load_default=True,
        metadata={"description": "Count the overdue inspections of each grid (its fill)."},
    )


class MapAssetsQuerySchema(MapFiltersQuerySchema):
    zoom = fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=MAX_ZOOM),
        metadata={"description": "The map's zoom level (Web Mercator)."},
    )


class PointColumnsSchema(Schema):
    lat = fields.List(fields.Float())
    lon = fields.List(fields.Float())
    code = fields.List(fields.String())
    status = fields.List(fields.String(metadata={"enum": list(MAP_STATUSES)}))
    kind = fields.List(fields.String())


class StatusCountsSchema(Schema):
    red = fields.Integer()
    orange = fields.Integer()
    green = fields.Integer()
    grey = fields.Integer()


class ClusterSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()
    count = fields.Integer()
    worst = fields.String(metadata={"enum": list(MAP_STATUSES)})
    counts = fields.Nested(StatusCountsSchema)
    bounds = fields.List(
        fields.List(fields.Float()), metadata={"description": "[[south, west], [north, east]]"}
    )


class MapAssetsSchema(Schema):
    mode = fields.String(required=True, metadata={"enum": ["points", "clusters"]})
    complete = fields.Boolean(
        metadata={"description": "Points: every matching asset, wherever it is."}
    )
    truncated = fields.Boolean(metadata={"description": "Points: more matched in the box."})
    points = fields.Nested(PointColumnsSchema)
    clusters = fields.List(fields.Nested(ClusterSchema))
    as_of = fields.String(
        metadata={
            "description": "Clusters from the map's roll-up: when it was built (ISO 8601, UTC)."
        }
    )
    as_of_local = fields.String(
        metadata={"description": "The same time on the district's clock (YYYY-MM-DD HH:MM)."}
    )
    stale = fields.Boolean(
        metadata={"description": "Clusters from the roll-up: the data changed since it was built."}
    )


class GridFeaturesSchema(Schema):
    type = fields.String(metadata={"enum": ["FeatureCollection"]})
    features = fields.List(fields.Dict())


class MapGridsSchema(Schema):
    level1 = fields.Nested(GridFeaturesSchema)
    level2 = fields.Nested(
        GridFeaturesSchema,
        metadata={"description": "With the choropleth's fill and its overdue line."},
    )
    truncated = fields.List(
        fields.Integer(),
        metadata={"description": "The levels with more grids in the box than one answer holds."},
    )


class HazardColumnsSchema(Schema):
    lat = fields.List(fields.Float())
    lon = fields.List(fields.Float())
    code = fields.List(fields.String())
    severity = fields.List(fields.String())


class MapHazardsSchema(Schema):
    complete = fields.Boolean(metadata={"description": "Every open hazard, wherever it is."})
    truncated = fields.Boolean(metadata={"description": "More open hazards are in the box."})
    hazards = fields.Nested(HazardColumnsSchema)


def view_etag() -> str:
    """The answer's ETag (see the module's docstring); read before the data it tags, so a
    write in between can only make the tag older than the data, never newer."""
    user = current_user
    parts = [
        str(current_version(db.session)),
        district_today().isoformat(),
        *map(str, scope_key(user)),
        build.tile_setting(),
        rollup_stamp(),
        str(get_locale()),  # the grids' tooltips are in the asker's language
        request.path,
        request.query_string.decode("latin-1"),
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def not_modified(etag: str) -> Response | None:
    if request.if_none_match.contains_weak(etag.strip('"')):
        return current_app.response_class(
            status=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL}
        )
    return None


def cacheable(body: dict[str, Any], etag: str) -> Response:
    return json_response(body, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})


@blp.get("/map/assets")
@blp.arguments(MapAssetsQuerySchema, location="query", as_kwargs=True)
@blp.response(200, MapAssetsSchema)
@blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
@reads_only
def map_assets(zoom: int, bbox=None, **_filters: Any) -> Response:
    """The matching assets in a view: points (few, or at street zoom) or clusters by cell."""
    filters = filters_from_request()
    etag = view_etag()
    unchanged = not_modified(etag)
    if unchanged is not None:
        return unchanged
    projector = build.Projector(build.tile_setting())
    body = viewport_assets(filters, current_user, district_today(), View(bbox, zoom), projector)
    return cacheable(body, etag)


@blp.get("/map/hazards")
@blp.arguments(ViewQuerySchema, location="query", as_kwargs=True)
@blp.response(200, MapHazardsSchema)
@blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
@reads_only
def map_hazards(bbox=None) -> Response:
    """The open hazards the user may see, major first, at most a bounded number."""
    etag = view_etag()
    unchanged = not_modified(etag)
    if unchanged is not None:
        return unchanged
    projector = build.Projector(build.tile_setting())
    return cacheable(viewport_hazards(current_user, bbox, projector), etag)


@blp.get("/map/grids")
@blp.arguments(MapGridsQuerySchema, location="query", as_kwargs=True)
@blp.response(200, MapGridsSchema)
@blp.alt_response(304, description="Not modified since the ETag in If-None-Match")
@reads_only
def map_grids(bbox=None, choropleth: bool = True, **_filters: Any) -> Response:
    """The grids of a view (both levels, the second with the overdue choropleth's fill), for
    a map with more grids than its page embeds; at most a bounded number a level."""
    filters = filters_from_request()
    etag = view_etag()
    unchanged = not_modified(etag)
    if unchanged is not None:
        return unchanged
    projector = build.Projector(build.tile_setting())
    today = district_today()
    body = viewport_grids(filters, current_user, today, bbox, projector, choropleth=choropleth)
    return cacheable(body, etag)
