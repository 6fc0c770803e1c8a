"""JSON API for the hazard register: GeoJSON like /api/v1/assets, documented by flask-smorest.

Any signed-in user reads the hazards ``accounts.access`` lets it see (a contractor: those its
company reported or is responsible for; any other code is 404) and may report one. Status
steps follow the machine in ``hazards.services``: 409 for a step it does not allow, 403
for a step the user's role may not make (a contractor verifying or reopening), 422 naming
the fields for bad input. A rectification needs at least one "after" photo: the transition
takes multipart/form-data with ``photos`` files (JSON for the other steps). Session clients send
a CSRF token with writes; bearer clients not.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_login import current_user
from flask_smorest import Api, Blueprint, abort
from flask_smorest.error_handler import ErrorSchema
from marshmallow import ValidationError as SchemaError
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from accounts.access import visible
from accounts.models import Contractor
from assets.api import require_known_grid
from assets.models import Asset, PropertyCompany, Site
from assets.services import in_grid
from core.api import GEOJSON, geojson_response, protect_session_writes, register_token_api
from core.clock import district_today
from core.errors import api_fields
from core.extensions import db
from core.paging import api_count_cap, api_page_args, api_page_members, page_of_parts
from core.spatial import latitude_of, longitude_of, reads_only
from hazards.models import Hazard, HazardStatus
from hazards.schemas import (
    HazardCollectionSchema,
    HazardDetailSchema,
    HazardInputSchema,
    HazardQuerySchema,
    TransitionMultipartSchema,
    TransitionSchema,
)
from hazards.services import (
    change_hazard_status,
    create_hazard,
    failed_item_labels,
    hazard_by_code,
    hazard_description,
    hazard_overdue_clause,
    is_hazard_overdue,
    overdue_first_parts,
    reopen_hazard,
    return_for_rework,
)

blp = Blueprint("hazards_api", __name__, url_prefix="/api/v1", description="Hazards")

# Service error keys -> the API's field names.
FIELD_NAMES = {
    "asset_code": "asset",
    "site_id": "site",
    "responsible_company_id": "responsible_company",
    "responsible_contractor_id": "responsible_contractor",
}
FORBIDDEN_STEP = "A contractor may not verify, return for rework or reopen a hazard."
TRANSITION_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": TransitionSchema},
        "multipart/form-data": {"schema": TransitionMultipartSchema},
    },
}


def register_api(api: Api) -> None:
    register_token_api(api, blp)


blp.before_request(protect_session_writes)


# Reading


def feature_loads() -> tuple:
    """What a hazard's feature names besides the hazard itself. Built when asked, not at
    import: a loader option configures every mapper, before the app has imported them all."""
    return (
        selectinload(Hazard.asset),
        selectinload(Hazard.grid),
        selectinload(Hazard.site),
        selectinload(Hazard.responsible_company),
        selectinload(Hazard.responsible_contractor),
    )


def with_point(query: Select) -> Select:
    return query.add_columns(longitude_of(Hazard.location), latitude_of(Hazard.location)).options(
        *feature_loads()
    )


def points_of(hazards: list[Hazard]) -> dict[int, tuple[float, float]]:
    """Each hazard's (longitude, latitude) by id."""
    if not hazards:
        return {}
    query = select(Hazard.id, longitude_of(Hazard.location), latitude_of(Hazard.location))
    rows = db.session.execute(query.where(Hazard.id.in_([hazard.id for hazard in hazards])))
    return {hazard_id: (longitude, latitude) for hazard_id, longitude, latitude in rows}


def hazard_properties(hazard: Hazard, today) -> dict[str, Any]:
    return {
        "code": hazard.code,
        "category": hazard.category,
        "severity": hazard.severity,
        "status": hazard.status,
        "description": hazard_description(hazard),
        "failed_items": [{"key": key, "label": label} for key, label in failed_item_labels(hazard)],
        "asset": hazard.asset.code if hazard.asset else None,
        "grid": hazard.grid.code if hazard.grid else None,
        "site": hazard.site.name if hazard.site else None,
        "found_on": hazard.found_on,
        "deadline": hazard.deadline,
        "overdue": is_hazard_overdue(hazard, today),
        "responsible_company": (
            hazard.responsible_company.name if hazard.responsible_company else None
        ),
        "responsible_contractor": (
            hazard.responsible_contractor.name if hazard.responsible_contractor else None
        ),
        "inspection_id": hazard.inspection_id,
        "status_changed_at": hazard.status_changed_at,
    }


def hazard_feature(hazard: Hazard, longitude: float, latitude: float, today) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": hazard.code,
        "geometry": {"type": "Point", "coordinates": [longitude, latitude]},
        "properties": hazard_properties(hazard, today),
    }


def hazard_conditions(args: dict[str, Any], today) -> list:
    conditions = []
    for name in ("status", "severity", "category"):
        if name in args:
            conditions.append(getattr(Hazard, name) == args[name])
    if "grid" in args:
        require_known_grid(args["grid"])
        conditions.append(in_grid(Hazard.grid_id, args["grid"]))
    if args.get("overdue") is True:
        conditions.append(hazard_overdue_clause(today))
    elif args.get("overdue") is False:
        conditions.append(~hazard_overdue_clause(today))
    if "asset" in args:
        code = args["asset"].strip().upper()
        conditions.append(
            Hazard.asset_id == select(Asset.id).where(Asset.code == code).scalar_subquery()
        )
    return conditions


@blp.get("/hazards")
@blp.arguments(HazardQuerySchema, location="query", as_kwargs=True)
@blp.response(200, HazardCollectionSchema, content_type=GEOJSON)
@reads_only
def list_hazards(**args: Any):
    """Hazards as a GeoJSON FeatureCollection: overdue first, then the other unverified ones,
    then verified; each by deadline and code.

    A contractor sees only the hazards its company reported or is responsible for.
    """
    page, per_page = api_page_args(args)
    today = district_today()
    query = visible(current_user, Hazard).where(*hazard_conditions(args, today))
    # Read in parts, each from its index in order, as the hazard list page reads them: one
    # ORDER BY over the three would sort every matching hazard for each page.
    listed = page_of_parts(
        overdue_first_parts(query, today),
        Hazard.id,
        page,
        per_page,
        options=feature_loads(),
        count_up_to=api_count_cap(),
    )
    points = points_of(listed.items)
    features = [hazard_feature(hazard, *points[hazard.id], today) for hazard in listed.items]
    body = {
        "type": "FeatureCollection",
        "features": features,
        **api_page_members(page, per_page, listed),
    }
    return geojson_response(body)


def visible_or_404(code: str) -> Hazard:
    hazard = hazard_by_code(code, current_user)
    if hazard is None:
        abort(404, message=f"No hazard with code {code}.")
    return hazard


def detail_of(code: str) -> dict[str, Any]:
    row = db.session.execute(
        with_point(visible(current_user, Hazard)).where(Hazard.code == code)
    ).first()
    if row is None:
        abort(404, message=f"No hazard with code {code}.")
    hazard, longitude, latitude = row
    feature = hazard_feature(hazard, longitude, latitude, district_today())
    feature["properties"]["events"] = [
        {
            "from_status": event.from_status,
            "to_status": event.to_status,
            "actor": event.actor,
            "at": event.at,
            "note": event.note,
        }
        for event in hazard.events
    ]
    feature["properties"]["photos"] = [
        {
            "id": photo.id,
            "stage": photo.stage,
            "content_type": photo.content_type,
            "url": url_for("hazards.hazard_photo", photo_id=photo.id, _external=True),
        }
        for photo in hazard.photos
    ]
    return feature


@blp.get("/hazards/<code>")
@blp.response(200, HazardDetailSchema, content_type=GEOJSON)
@blp.alt_response(404, schema=ErrorSchema, description="No hazard with this code (or not yours)")
@reads_only
def get_hazard(code: str):
    """One hazard as a GeoJSON Feature, with its status timeline and photos."""
    return geojson_response(detail_of(visible_or_404(code).code))


# Writing


def id_by_name(model, name: str | None, **where: Any) -> int | None:
    """The id of the row called ``name``; 0 (which the service reports as unknown) if none."""
    if name is None or not str(name).strip():
        return None
    query = select(model.id).where(model.name == str(name).strip())
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return db.session.scalar(query) or 0


def service_values(data: dict[str, Any]) -> dict[str, Any]:
    values = {
        key: data.get(key)
        for key in (
            "category",
            "severity",
            "description",
            "longitude",
            "latitude",
            "found_on",
            "deadline",
        )
    }
    values["asset_code"] = data.get("asset")
    values["site_id"] = id_by_name(Site, data.get("site"))
    values["responsible_company_id"] = id_by_name(PropertyCompany, data.get("responsible_company"))
    values["responsible_contractor_id"] = id_by_name(Contractor, data.get("responsible_contractor"))
    return values


@blp.post("/hazards")
@blp.arguments(HazardInputSchema)
@blp.response(201, HazardDetailSchema, content_type=GEOJSON)
def create_hazard_view(data: dict[str, Any]):
    """Report a hazard (any signed-in user). The grid is derived from the point, the point
    defaults to the asset's, the deadline to found_on plus the days for its severity."""
    api_fields(names=FIELD_NAMES)
    hazard = create_hazard(service_values(data), found_by=current_user)
    code = hazard.code
    db.session.commit()
    location = url_for("hazards_api.get_hazard", code=code, _external=True)
    return geojson_response(detail_of(code), 201, {"Location": location})


def transition_input() -> tuple[dict[str, Any], list, str]:
    """The body's values, its photos and the error location ("json" or "form")."""
    if request.mimetype == "multipart/form-data":
        values: dict[str, Any] = {
            key: value for key, value in request.form.items() if value.strip() != ""
        }
        unexpected = sorted(set(request.files) - {"photos"})
        if unexpected:
            abort(422, errors={"files": {name: ["Unknown field."] for name in unexpected}})
        photos, location = request.files.getlist("photos"), "form"
    else:
        values = request.get_json(silent=True)
        if not isinstance(values, dict):
            abort(422, errors={"json": {"_schema": ["Send a JSON object (application/json)."]}})
        photos, location = [], "json"
    try:
        return TransitionSchema().load(values), photos, location
    except SchemaError as error:
        abort(422, errors={location: error.messages})


@blp.post("/hazards/<code>/transitions")
@blp.doc(requestBody=TRANSITION_BODY)
@blp.response(200, HazardDetailSchema, content_type=GEOJSON)
@blp.alt_response(404, schema=ErrorSchema, description="No hazard with this code (or not yours)")
@blp.alt_response(409, schema=ErrorSchema, description="The status machine does not allow it")
@blp.alt_response(403, schema=ErrorSchema, description=FORBIDDEN_STEP)
@blp.alt_response(422, schema=ErrorSchema, description="Bad input, by field")
def transition_hazard(code: str):
    """Move a hazard: ``{"status": "rectifying"|"rectified"|"verified", "note": …}`` one step
    forward; ``{"status": "rectifying", "reason": …}`` on a rectified hazard returns it for
    rework; ``{"status": "open", "reason": …}`` reopens it.

    Rectified needs at least one "after" photo: send multipart/form-data with ``status``,
    ``note`` and one or more ``photos`` files (JPEG, PNG or WebP), unless "after" photos were
    added since the hazard's status last changed; without one the answer is 422 naming
    ``photos`` and nothing is written. Only officers and administrators verify, return for
    rework or reopen (403 for a contractor); a step the machine does not allow (e.g. open to
    verified) is 409; a return for rework or a reopening without a reason is 422."""
    hazard = visible_or_404(code)
    data, photos, location = transition_input()
    api_fields(location=location, files={"photos"})
    if data["status"] == HazardStatus.OPEN:
        reopen_hazard(hazard, current_user, data.get("reason") or "")
    elif data["status"] == HazardStatus.RECTIFYING and hazard.status == HazardStatus.RECTIFIED:
        return_for_rework(hazard, current_user, data.get("reason") or "")
    else:
        change_hazard_status(hazard, data["status"], current_user, data.get("note"), photos)
    db.session.commit()
    return geojson_response(detail_of(hazard.code))
