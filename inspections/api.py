"""JSON API for inspections: the list with filters, one inspection, and logging a result.

A contractor's token sees only its company's inspections: any other is 404, and filtering by
another contractor's name gives an empty list. Logging a result does exactly what the page's
form does, through ``inspections.results.record_result``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Response, request, url_for
from flask_login import current_user
from flask_smorest import Api, Blueprint, abort
from flask_smorest.error_handler import ErrorSchema
from marshmallow import ValidationError
from sqlalchemy.orm import selectinload

from assets.api import require_known_grid
from core.api import json_response, protect_session_writes, register_token_api
from core.errors import api_fields
from core.extensions import db
from core.paging import (
    api_count_cap,
    api_page_args,
    api_page_members,
    count_rows_up_to,
    page_by_one_more,
)
from core.spatial import reads_only
from hazards.services import hazard_opened_by
from inspections.models import Inspection
from inspections.results import (
    InspectionFilters,
    checklist_for,
    inspection_for,
    inspection_query,
    record_result,
)
from inspections.schemas import (
    InspectionCollectionSchema,
    InspectionDetailSchema,
    InspectionQuerySchema,
    ResultInputSchema,
    ResultMultipartSchema,
)
from inspections.services import derived_status

blp = Blueprint("inspections_api", __name__, url_prefix="/api/v1", description="Inspections")

NOT_FOUND = "No inspection with this id."
KEY_HEADER = "Idempotency-Key"
KEY_PARAMETER = {
    "in": "header",
    "name": KEY_HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": 64, "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
    "description": "Made by the client once per result (a UUID). Sent again, it answers the "
    "original result (200) instead of a conflict; also accepted as the idempotency_key field.",
}
RESULT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": ResultInputSchema},
        "multipart/form-data": {"schema": ResultMultipartSchema},
    },
}


def register_api(api: Api) -> None:
    register_token_api(api, blp)


blp.before_request(protect_session_writes)


# Reading


def inspection_item(inspection: Inspection, today: date | None = None) -> dict[str, Any]:
    position = None
    if inspection.stood_longitude is not None:
        position = {
            "longitude": inspection.stood_longitude,
            "latitude": inspection.stood_latitude,
            "accuracy_m": inspection.stood_accuracy_m,
        }
    return {
        "id": inspection.id,
        "asset": inspection.asset.code,
        "kind": inspection.asset.kind,
        "contractor": inspection.contractor.name,
        "plan_id": inspection.plan_id,
        "due_on": inspection.due_on,
        "status": inspection.status,
        "derived_status": derived_status(inspection, today),
        "completed_at": inspection.completed_at,
        "logged_at": inspection.logged_at,
        "result": inspection.result,
        "answers": inspection.answers,
        "notes": inspection.notes,
        "position": position,
        "distance_m": inspection.distance_m,
        "flagged": inspection.flagged,
        "cancelled_reason": inspection.cancelled_reason,
        "photos": [
            url_for("inspections.inspection_photo", photo_id=photo.id, _external=True)
            for photo in inspection.photos
        ],
    }


def inspection_detail(inspection: Inspection) -> dict[str, Any]:
    """One inspection as ``inspection_item``, with the checklist in force (keys and labels in
    the request's language: what a program must answer) and the hazard its failure opened."""
    hazard = hazard_opened_by(inspection.id, current_user)
    return {
        **inspection_item(inspection),
        "checklist": [
            {"key": item.key, "label": str(item.label)} for item in checklist_for(inspection)
        ],
        "hazard": hazard.code if hazard is not None else None,
    }


LOAD_RELATED = (
    selectinload(Inspection.asset),
    selectinload(Inspection.contractor),
    selectinload(Inspection.photos),
)


@blp.get("/inspections")
@blp.arguments(InspectionQuerySchema, location="query", as_kwargs=True)
@blp.response(200, InspectionCollectionSchema)
@reads_only
def list_inspections(**args: Any) -> Response:
    """Inspections ordered by due date, filtered and paginated.

    A contractor's user sees only its company's inspections.
    """
    page, per_page = api_page_args(args)
    if "grid" in args:
        require_known_grid(args["grid"])
    filters = InspectionFilters(**args)
    query = inspection_query(current_user, filters)
    listed = page_by_one_more(
        lambda limit, offset: db.session.scalars(
            query.options(*LOAD_RELATED).limit(limit).offset(offset)
        ).all(),
        lambda limit: count_rows_up_to(query.with_only_columns(Inspection.id), limit),
        page,
        per_page,
        api_count_cap(),
    )
    body = {
        "items": [inspection_item(inspection) for inspection in listed.items],
        **api_page_members(page, per_page, listed),
    }
    return json_response(body)


def visible_or_404(inspection_id: int) -> Inspection:
    inspection = inspection_for(inspection_id, current_user)
    if inspection is None:
        abort(404, message=NOT_FOUND)
    return inspection


@blp.get("/inspections/<int:id>")
@blp.response(200, InspectionDetailSchema)
@blp.alt_response(404, schema=ErrorSchema, description=NOT_FOUND)
@reads_only
def get_inspection(id: int) -> Response:
    """One inspection with its answers, position and photo URLs, the checklist in force (each
    item's key and label, in the language of Accept-Language, else the user's) and the
    hazard a failure opened."""
    return json_response(inspection_detail(visible_or_404(id)))


# Logging a result


def result_input() -> tuple[dict[str, Any], list, str]:
    """The body's values, its photos and the error location ("json" or "form")."""
    if request.mimetype == "multipart/form-data":
        values: dict[str, Any] = {
            key: value for key, value in request.form.items() if value.strip() != ""
        }
        if "answers" in values:
            try:
                values["answers"] = json.loads(values["answers"])
            except ValueError:
                abort(422, errors={"form": {"answers": ["Not valid JSON."]}})
        photos = request.files.getlist("photos")
        unexpected = sorted(set(request.files) - {"photos"})
        if unexpected:
            abort(422, errors={"files": {name: ["Unknown field."] for name in unexpected}})
        location = "form"
    else:
        values = request.get_json(silent=True)
        if not isinstance(values, dict):
            abort(422, errors={"json": {"_schema": ["Send a JSON object (application/json)."]}})
        photos = []
        location = "json"
    try:
        values = ResultInputSchema().load(values)
    except ValidationError as error:
        abort(422, errors={location: error.messages})
    header_key = request.headers.get(KEY_HEADER, "").strip()
    if header_key:
        if values.get("idempotency_key") not in (None, header_key):
            message = f"Differs from the {KEY_HEADER} header."
            abort(422, errors={location: {"idempotency_key": [message]}})
        values["idempotency_key"] = header_key
    return values, photos, location


@blp.post("/inspections/<int:id>/result")
@blp.doc(requestBody=RESULT_BODY, parameters=[KEY_PARAMETER])
@blp.response(201, InspectionDetailSchema)
@blp.alt_response(200, schema=InspectionDetailSchema, description="A replay: the original result")
@blp.alt_response(404, schema=ErrorSchema, description=NOT_FOUND)
@blp.alt_response(409, schema=ErrorSchema, description="Already completed, or cancelled")
@blp.alt_response(422, schema=ErrorSchema, description="Bad input, by field")
def post_result(id: int) -> Response:
    """Log the result of an inspection (JSON, or multipart/form-data with photos).

    Every checklist item must be answered; a failed item makes the result fail, which marks
    the asset faulty and opens a hazard. Over INSPECTION_FLAG_DISTANCE_M from the asset, the
    record is flagged for review. With the idempotency key of the recorded result, the
    original result is answered again (200, ``Idempotent-Replayed: true``) and nothing is
    written; a completed inspection answers any other request 409.
    """
    inspection = visible_or_404(id)
    values, photos, location = result_input()
    api_fields(location=location, files={"photos"})
    recorded = record_result(inspection, current_user._get_current_object(), values, photos)
    db.session.commit()
    headers = {"Location": url_for(".get_inspection", id=inspection.id, _external=True)}
    if recorded.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(inspection_detail(inspection), 200 if recorded.replayed else 201, headers)
