"""The JSON API for assets and grids (GeoJSON), documented in OpenAPI by flask-smorest.

Lists are read with plain-column selects (coordinates by ST_X/ST_Y in SQL) and serialised
directly: no ORM objects, no shapely, no marshmallow on the way out. The schemas in
``assets.schemas`` still document every response.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import orjson
from flask import Response, request, url_for
from flask_login import current_user
from flask_smorest import Api, Blueprint, abort
from flask_smorest.error_handler import ErrorSchema
from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.orm import aliased

from accounts.access import visible_clause
from assets.models import Asset, Grid, Site
from assets.schemas import (
    AssetChangesSchema,
    AssetCollectionSchema,
    AssetFeatureSchema,
    AssetInputSchema,
    AssetQuerySchema,
    GridCollectionSchema,
    GridQuerySchema,
)
from assets.services import (
    asset_by_code,
    create_asset,
    in_code_order,
    in_grid,
    text_search,
    update_asset,
)
from core.api import (
    GEOJSON,
    READ_METHODS,
    geojson_response,
    protect_session_writes,
    register_token_api,
)
from core.errors import conflict_on_integrity_error
from core.extensions import db
from core.paging import (
    api_count_cap,
    api_page_args,
    api_page_members,
    count_rows_up_to,
    page_by_one_more,
)
from core.spatial import (
    BBox,
    bbox_filter,
    embedded_json,
    json_array,
    json_object,
    json_text,
    latitude_of,
    longitude_of,
    reads_only,
)

blp = Blueprint("assets_api", __name__, url_prefix="/api/v1", description="Assets and grids")

STAFF_ROLES = ("admin", "officer")
STAFF_ONLY = "Only administrators and safety officers may change assets."


def register_api(api: Api) -> None:
    register_token_api(api, blp)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options.setdefault("security", [{"bearerAuth": []}])


@blp.before_request
def writes_need_staff() -> None:
    """Runs after the app's login check (401): writes are for admins and officers only."""
    if request.method in READ_METHODS:
        return
    protect_session_writes()
    if not current_user.has_role(*STAFF_ROLES):
        abort(403, message=STAFF_ONLY)


# Reading


@functools.cache
def asset_select() -> Select:
    """One column per asset: its GeoJSON Feature as text, built by the database. Built once
    (a statement is immutable: ``where`` and ``limit`` make new ones), not per request."""
    properties = {
        "code": Asset.code,
        "kind": Asset.kind,
        "name": Asset.name,
        "status": Asset.status,
        "grid": Grid.code,
        "site": Site.name,
        "address": Asset.address,
        "installed_on": Asset.installed_on,
        "manufacturer": Asset.manufacturer,
        "model": Asset.model,
        "serial_number": Asset.serial_number,
        "attributes": embedded_json(Asset.attributes),
    }
    feature = json_object(
        type=literal_column("'Feature'"),
        id=Asset.code,
        geometry=json_object(
            type=literal_column("'Point'"),
            coordinates=json_array(longitude_of(Asset.location), latitude_of(Asset.location)),
        ),
        properties=json_object(**properties),
    )
    return (
        select(json_text(feature).label("feature"))
        .select_from(Asset)
        .outerjoin(Grid, Asset.grid_id == Grid.id)
        .outerjoin(Site, Asset.site_id == Site.id)
    )


def feature_collection_members(rows: list) -> orjson.Fragment:
    """The JSON array of the features of ``asset_select()`` rows, embedded without parsing."""
    return orjson.Fragment("[" + ",".join(row[0] for row in rows) + "]")


def require_known_grid(code: str) -> None:
    """A 422 naming the ``grid`` filter when no grid has ``code``."""
    if db.session.scalar(select(Grid.id).where(Grid.code == code.strip().upper())) is None:
        abort(422, errors={"query": {"grid": [f"Unknown grid: {code}."]}})


def asset_conditions(args: dict[str, Any]) -> list:
    """The list's filters, after the access policy (a contractor: the assets it inspects)."""
    conditions = [visible_clause(current_user, Asset)]
    if "kind" in args:
        conditions.append(Asset.kind == args["kind"])
    if "status" in args:
        conditions.append(Asset.status == args["status"])
    if "grid" in args:
        require_known_grid(args["grid"])
        conditions.append(in_grid(Asset.grid_id, args["grid"]))
    if "q" in args and args["q"].strip():
        conditions.append(text_search(args["q"].strip()))
    if "bbox" in args:
        bbox: BBox = args["bbox"]
        bind = db.session.get_bind()
        conditions.append(bbox_filter(bind, "assets", Asset.id, Asset.location, bbox))
    return conditions


@blp.get("/assets")
@blp.arguments(AssetQuerySchema, location="query", as_kwargs=True)
@blp.response(200, AssetCollectionSchema, content_type=GEOJSON)
@reads_only
def list_assets(**args: Any) -> Response:
    """Assets as a GeoJSON FeatureCollection, filtered, ordered by code and paginated."""
    page, per_page = api_page_args(args)
    conditions = asset_conditions(args)
    # Core execution on the session's connection: plain tuples, no ORM row processing.
    connection = db.session.connection()
    listed = page_by_one_more(
        lambda limit, offset: connection.execute(
            in_code_order(asset_select().where(*conditions), current_user)
            .limit(limit)
            .offset(offset)
        ).all(),
        # In any order, as /assets/ counts (assets.views.asset_list).
        lambda limit: count_rows_up_to(select(Asset.id).where(*conditions), limit),
        page,
        per_page,
        api_count_cap(),
    )
    body = {
        "type": "FeatureCollection",
        "features": feature_collection_members(listed.items),
        **api_page_members(page, per_page, listed),
    }
    return geojson_response(body)


def feature_of(code: str) -> orjson.Fragment:
    """One asset's Feature, if the user may see it (else 404, as for an unknown code)."""
    row = db.session.execute(
        asset_select().where(
            Asset.code == code.strip().upper(), visible_clause(current_user, Asset)
        )
    ).first()
    if row is None:
        abort(404, message=f"No asset with code {code}.")
    return orjson.Fragment(row[0])


@blp.get("/assets/<code>")
@blp.response(200, AssetFeatureSchema, content_type=GEOJSON)
@blp.alt_response(404, schema=ErrorSchema, description="No asset with this code")
@reads_only
def get_asset(code: str) -> Response:
    """One asset as a GeoJSON Feature."""
    return geojson_response(feature_of(code))


# Writing


def save(change) -> str:
    """Run ``change`` (returns the asset's code), commit once. A refused change writes
    nothing: ``core.errors`` rolls back and answers 422 naming the fields, or 409."""
    with conflict_on_integrity_error("The change conflicts with another asset (duplicate code)."):
        code = change()
        db.session.commit()
    return code


@blp.post("/assets")
@blp.arguments(AssetInputSchema)
@blp.response(201, AssetFeatureSchema, content_type=GEOJSON)
@blp.alt_response(409, schema=ErrorSchema, description="The code exists already")
@blp.alt_response(403, schema=ErrorSchema, description=STAFF_ONLY)
def create_asset_view(data: dict[str, Any]) -> Response:
    """Register an asset; its grid is derived from the point."""
    code = save(lambda: create_asset(data).code)
    location = url_for("assets_api.get_asset", code=code, _external=True)
    return geojson_response(feature_of(code), 201, {"Location": location})


@blp.patch("/assets/<code>")
@blp.arguments(AssetChangesSchema(partial=True))
@blp.response(200, AssetFeatureSchema, content_type=GEOJSON)
@blp.alt_response(404, schema=ErrorSchema, description="No asset with this code")
@blp.alt_response(403, schema=ErrorSchema, description=STAFF_ONLY)
def update_asset_view(changes: dict[str, Any], code: str) -> Response:
    """Change some fields of an asset; moving the point moves it to the grid there."""
    asset = asset_by_code(code)
    if asset is None:
        abort(404, message=f"No asset with code {code}.")
    saved = save(lambda: update_asset(asset, changes).code)
    return geojson_response(feature_of(saved))


# Grids


def grid_features(rows: Iterable) -> list[dict[str, Any]]:
    return [
        {
            "type": "Feature",
            "id": row.code,
            "geometry": orjson.Fragment(row.geometry),
            "properties": {
                "code": row.code,
                "name": row.name,
                "level": row.level,
                "parent": row.parent,
                "leader_name": row.leader_name,
                "leader_phone": row.leader_phone,
            },
        }
        for row in rows
    ]


@blp.get("/grids")
@blp.arguments(GridQuerySchema, location="query", as_kwargs=True)
@blp.response(200, GridCollectionSchema, content_type=GEOJSON)
@reads_only
def list_grids(level: int | None = None) -> Response:
    """Grid boundaries as a GeoJSON FeatureCollection (optionally one level)."""
    parent = aliased(Grid)
    query = (
        select(
            Grid.code,
            Grid.name,
            Grid.level,
            parent.code.label("parent"),
            Grid.leader_name,
            Grid.leader_phone,
            func.ST_AsGeoJSON(Grid.boundary).label("geometry"),
        )
        .outerjoin(parent, Grid.parent_id == parent.id)
        .order_by(Grid.code)
    )
    if level is not None:
        query = query.where(Grid.level == level)
    features = grid_features(db.session.execute(query))
    return geojson_response({"type": "FeatureCollection", "features": features})
