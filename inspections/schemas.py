"""Marshmallow schemas of the inspections API: query arguments are loaded with them; the
result body is shape-checked with ``ResultInputSchema`` (the rules live in
``inspections.results``); responses are built directly but documented here."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from assets.kinds import KINDS
from assets.schemas import ChecklistItemSchema
from core.api import PagedSchema, PageQuerySchema
from inspections.results import ANSWERS, RESULTS, STATUS_FILTERS

STORED_STATUSES = ["scheduled", "completed", "cancelled"]


class InspectionQuerySchema(PageQuerySchema):
    status = fields.String(
        validate=validate.OneOf(STATUS_FILTERS),
        metadata={"description": "A stored status, or the derived overdue / due_soon."},
    )
    contractor = fields.String(metadata={"description": "Contractor name."})
    asset = fields.String(metadata={"description": "Asset code.", "example": "CS-001"})
    kind = fields.String(validate=validate.OneOf(list(KINDS)))
    grid = fields.String(
        metadata={"description": "Grid code; a first-level grid includes its children."}
    )
    due_from = fields.Date(metadata={"description": "Due on or after (YYYY-MM-DD)."})
    due_to = fields.Date(metadata={"description": "Due on or before (YYYY-MM-DD)."})
    flagged = fields.Boolean(
        metadata={"description": "Logged more than the flag distance away from the asset."}
    )


class ResultInputSchema(Schema):
    """The body of POST /inspections/<id>/result, as JSON or as multipart/form-data fields
    (then ``answers`` is a JSON text field and the images are ``photos`` file parts)."""

    answers = fields.Dict(
        keys=fields.String(),
        values=fields.String(metadata={"enum": list(ANSWERS)}),
        required=True,
        metadata={
            "description": "Every item of the checklist in force: pass, fail or na.",
            "example": {"cutoff_when_full": "pass", "camera_working": "fail"},
        },
    )
    result = fields.String(required=True, metadata={"enum": list(RESULTS)})
    notes = fields.String(allow_none=True)
    completed_at = fields.String(
        allow_none=True,
        metadata={
            "format": "date-time",
            "description": "ISO 8601; without an offset, district time. Default: now.",
        },
    )
    longitude = fields.Float(allow_none=True, metadata={"minimum": -180, "maximum": 180})
    latitude = fields.Float(allow_none=True, metadata={"minimum": -90, "maximum": 90})
    accuracy = fields.Float(allow_none=True, metadata={"minimum": 0})
    idempotency_key = fields.String(
        allow_none=True,
        metadata={
            "maxLength": 64,
            "description": "The client's key of this result (or the Idempotency-Key header).",
        },
    )


class ResultMultipartSchema(ResultInputSchema):
    """The multipart form of the body (documentation only)."""

    answers = fields.String(
        required=True, metadata={"description": "The answers object as JSON text."}
    )
    photos = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        metadata={"description": "JPEG, PNG or WebP images."},
    )


# Response documentation only.


class PositionSchema(Schema):
    longitude = fields.Float()
    latitude = fields.Float()
    accuracy_m = fields.Float(allow_none=True)


class InspectionSchema(Schema):
    id = fields.Integer()
    asset = fields.String(metadata={"description": "Asset code"})
    kind = fields.String()
    contractor = fields.String(metadata={"description": "Contractor name"})
    plan_id = fields.Integer(allow_none=True)
    due_on = fields.Date()
    status = fields.String(metadata={"enum": STORED_STATUSES})
    derived_status = fields.String(metadata={"enum": list(STATUS_FILTERS)})
    completed_at = fields.DateTime(allow_none=True)
    logged_at = fields.DateTime(allow_none=True)
    # OpenAPI 3.0: a nullable enum lists null among its values.
    result = fields.String(allow_none=True, metadata={"enum": [*RESULTS, None]})
    answers = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    notes = fields.String(allow_none=True)
    position = fields.Nested(PositionSchema, allow_none=True)
    distance_m = fields.Float(allow_none=True)
    flagged = fields.Boolean()
    cancelled_reason = fields.String(allow_none=True)
    photos = fields.List(fields.String(), metadata={"description": "Photo URLs"})


class InspectionDetailSchema(InspectionSchema):
    """One inspection (GET /inspections/<id>, and the answer to logging its result)."""

    checklist = fields.List(
        fields.Nested(ChecklistItemSchema),
        metadata={
            "description": "The checklist in force (the plan's items of the asset kind's "
            "checklist, or all of them): answer each key with pass, fail or na."
        },
    )
    hazard = fields.String(
        allow_none=True,
        metadata={
            "description": "The code of the hazard this inspection's failure opened, if any.",
            "example": "HZ-2026-0001",
        },
    )


class InspectionCollectionSchema(PagedSchema):
    items = fields.List(fields.Nested(InspectionSchema))
