"""Marshmallow schemas of the hazard API: query arguments and bodies are loaded with them;
responses are built directly and documented with them in OpenAPI."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from assets.schemas import ChecklistItemSchema, PointFeatureSchema
from core.api import PagedSchema, PageQuerySchema
from evidence.models import PhotoStage
from hazards.models import HazardCategory, HazardSeverity, HazardStatus

CATEGORIES = [str(member) for member in HazardCategory]
SEVERITIES = [str(member) for member in HazardSeverity]
STATUSES = [str(member) for member in HazardStatus]


class HazardQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    grid = fields.String(
        metadata={"description": "Grid code; a first-level grid includes its children."}
    )
    overdue = fields.Boolean(
        metadata={"description": "true: only hazards past their deadline and not verified."}
    )
    asset = fields.String(metadata={"description": "Asset code."})


class HazardInputSchema(Schema):
    """The body of POST /hazards. Shapes and types only; the register's rules (deadline not
    before found_on, the district, known names) are checked by ``hazards.services``."""

    category = fields.String(required=True, metadata={"enum": CATEGORIES})
    severity = fields.String(required=True, metadata={"enum": SEVERITIES})
    description = fields.String(required=True, validate=validate.Length(max=2000))
    asset = fields.String(
        allow_none=True,
        metadata={"description": "Asset code; its point is used when no point is given."},
    )
    longitude = fields.Float(allow_none=True, metadata={"minimum": -180, "maximum": 180})
    latitude = fields.Float(allow_none=True, metadata={"minimum": -90, "maximum": 90})
    site = fields.String(allow_none=True, metadata={"description": "Site name"})
    responsible_company = fields.String(
        allow_none=True, metadata={"description": "Property company name"}
    )
    responsible_contractor = fields.String(
        allow_none=True, metadata={"description": "Contractor name (at most one party)"}
    )
    found_on = fields.Date(
        allow_none=True,
        metadata={"description": "Default: today; from 2000-01-01, not in the future."},
    )
    deadline = fields.Date(
        allow_none=True,
        metadata={"description": "Default: found_on + HAZARD_DEADLINE_DAYS[severity]."},
    )


class TransitionSchema(Schema):
    """A forward step (``status`` rectifying, rectified or verified, optional ``note``), a
    return for rework (a rectified hazard to ``status`` rectifying with a ``reason``) or a
    reopening (``status`` open with a ``reason``)."""

    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))
    reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "Required to reopen (status open) or return for rework."},
    )


class TransitionMultipartSchema(TransitionSchema):
    """The multipart form of a transition (documentation only): the same fields, and the
    "after" photos a rectification needs."""

    photos = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        metadata={"description": "JPEG, PNG or WebP images: the rectification's after photos."},
    )


# Response documentation only.


class HazardEventSchema(Schema):
    # OpenAPI 3.0: a nullable enum lists null among its values.
    from_status = fields.String(allow_none=True, metadata={"enum": [*STATUSES, None]})
    to_status = fields.String(metadata={"enum": STATUSES})
    actor = fields.String()
    at = fields.DateTime()
    note = fields.String(allow_none=True)


class HazardPhotoSchema(Schema):
    id = fields.Integer()
    stage = fields.String(metadata={"enum": [str(stage) for stage in PhotoStage]})
    content_type = fields.String()
    url = fields.String()


class HazardPropertiesSchema(Schema):
    code = fields.String(metadata={"example": "HZ-2026-0001"})
    category = fields.String(metadata={"enum": CATEGORIES})
    severity = fields.String(metadata={"enum": SEVERITIES})
    status = fields.String(metadata={"enum": STATUSES})
    description = fields.String(
        metadata={
            "description": "What is wrong, in the request's language: a failed inspection's "
            "failed items by label, then the typed description (the inspector's notes)."
        }
    )
    failed_items = fields.List(
        fields.Nested(ChecklistItemSchema),
        metadata={"description": "The checklist items the inspection failed; else empty."},
    )
    asset = fields.String(allow_none=True)
    grid = fields.String(allow_none=True)
    site = fields.String(allow_none=True)
    found_on = fields.Date()
    deadline = fields.Date()
    overdue = fields.Boolean(metadata={"description": "Past the deadline and not verified."})
    responsible_company = fields.String(allow_none=True)
    responsible_contractor = fields.String(allow_none=True)
    inspection_id = fields.Integer(
        allow_none=True, metadata={"description": "The failed inspection that opened it."}
    )
    status_changed_at = fields.DateTime()


class HazardDetailPropertiesSchema(HazardPropertiesSchema):
    events = fields.List(fields.Nested(HazardEventSchema))
    photos = fields.List(fields.Nested(HazardPhotoSchema))


class HazardFeatureSchema(PointFeatureSchema):
    properties = fields.Nested(HazardPropertiesSchema)


class HazardDetailSchema(HazardFeatureSchema):
    properties = fields.Nested(HazardDetailPropertiesSchema)


class HazardCollectionSchema(PagedSchema):
    type = fields.String(metadata={"enum": ["FeatureCollection"]})
    features = fields.List(fields.Nested(HazardFeatureSchema))
