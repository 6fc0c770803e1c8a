"""Marshmallow schemas of the plans API: the body is shape-checked with ``PlanInputSchema``
(the rules live in ``inspections.plans.services``); responses are built directly but
documented here."""

from __future__ import annotations

from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, fields

from assets.kinds import KINDS
from core.api import PagedSchema
from inspections.cadence import UNITS


class PlanInputSchema(Schema):
    """The body of POST (name, contractor_id, cadence_unit and start_on required) and PATCH
    (any subset, loaded with ``partial=True``): the plan form's fields, with ids and codes."""

    name = fields.String(required=True, metadata={"maxLength": 200})
    contractor_id = fields.Integer(
        required=True, metadata={"description": "The id of the contractor who inspects."}
    )
    asset_kind = fields.String(
        allow_none=True,
        metadata={"enum": [*KINDS, None], "description": "Only assets of this kind; null: any."},
    )
    grid = fields.String(
        allow_none=True,
        metadata={
            "description": "Grid code; a first-level grid includes its children. Null: all.",
            "example": "G1-01",
        },
    )
    asset_codes = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "Only these assets (codes); null or empty: no code filter."},
    )
    cadence_unit = fields.String(required=True, metadata={"enum": list(UNITS)})
    cadence_every = fields.Integer(
        load_default=1, metadata={"minimum": 1, "maximum": 999, "description": "Default 1."}
    )
    start_on = fields.Date(required=True)
    end_on = fields.Date(allow_none=True)
    checklist = fields.List(
        fields.String(),
        allow_none=True,
        metadata={
            "description": "Checklist item keys of asset_kind to inspect; null: all of them."
        },
    )
    active = fields.Boolean(metadata={"description": "Default true."})
    allow_overlap = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Save although another active plan covers some of the same assets "
            "(the overlap is audited); otherwise such a change is refused with 409."
        },
    )


# Response documentation only.


class PlanSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    contractor_id = fields.Integer()
    contractor = fields.String(metadata={"description": "Contractor name"})
    asset_kind = fields.String(allow_none=True, metadata={"enum": [*KINDS, None]})
    grid = fields.String(allow_none=True, metadata={"description": "Grid code"})
    asset_codes = fields.List(fields.String(), allow_none=True)
    cadence_unit = fields.String(metadata={"enum": list(UNITS)})
    cadence_every = fields.Integer()
    start_on = fields.Date()
    end_on = fields.Date(allow_none=True)
    checklist = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "The plan's item keys; null: the kind's whole checklist."},
    )
    active = fields.Boolean()
    scope = fields.String(metadata={"description": "Which assets, in words"})
    cadence = fields.String(metadata={"description": "The schedule, in words"})
    asset_count = fields.Integer(metadata={"description": "Assets the plan covers now"})
    next_due_on = fields.Date(allow_none=True)


class PlanDetailSchema(PlanSchema):
    """One plan (GET /plans/<id>, and the answer to creating or changing one)."""

    due_dates = fields.List(fields.Date(), metadata={"description": "The next due dates"})
    inspections_created = fields.Integer(
        metadata={"description": "Only in the answer to a write: inspections it scheduled."}
    )
    inspections_removed = fields.Integer(
        metadata={"description": "Only in the answer to a write: future inspections removed."}
    )


class PlanCollectionSchema(PagedSchema):
    items = fields.List(fields.Nested(PlanSchema))


class PlanOverlapSchema(Schema):
    plan_id = fields.Integer()
    plan = fields.String(metadata={"description": "The other plan's name"})
    contractor = fields.String()
    count = fields.Integer(metadata={"description": "How many assets both plans cover"})
    codes = fields.List(fields.String(), metadata={"description": "The first of those codes"})


class PlanOverlapErrorSchema(ErrorSchema):
    overlaps = fields.List(fields.Nested(PlanOverlapSchema))


class PlanChangesSchema(PlanInputSchema):
    """The body of PATCH: any subset of the fields (loaded with ``partial=True``); the others
    keep their values. A new ``asset_kind`` without ``checklist`` takes its whole checklist."""
