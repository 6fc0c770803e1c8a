"""JSON API for inspection plans: the list, one plan, creating and changing one.

Access matches the plan pages: administrators and safety officers read plans (a contractor's
token is 403, as the pages are), only administrators create or change them (403 otherwise).
A write does exactly what the plan form does, through ``create_plan`` / ``update_plan``: 422
naming the fields for bad input, and 409 with the overlap (which plan, its contractor, how
many assets, the first codes) when another active plan already covers some of the same
assets, unless ``allow_overlap`` is true (then the plan is saved and the overlap audited).
Nothing is written on a refusal.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, request, url_for
from flask_login import current_user
from flask_smorest import Api, Blueprint, abort
from flask_smorest.error_handler import ErrorSchema
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.api import (
    READ_METHODS,
    PageQuerySchema,
    json_response,
    protect_session_writes,
    register_token_api,
)
from core.clock import district_today
from core.extensions import db
from core.paging import (
    api_count_cap,
    api_page_args,
    api_page_members,
    count_rows_up_to,
    page_by_one_more,
)
from core.spatial import reads_only
from inspections.models import InspectionPlan
from inspections.plans.schemas import (
    PlanChangesSchema,
    PlanCollectionSchema,
    PlanDetailSchema,
    PlanInputSchema,
    PlanOverlapErrorSchema,
)
from inspections.plans.services import (
    PlanOverlapError,
    PlanSaved,
    cadence_words,
    covered_asset_count,
    create_plan,
    next_due_dates,
    plan_or_none,
    scope_words,
    update_plan,
)

blp = Blueprint("plans_api", __name__, url_prefix="/api/v1", description="Inspection plans")

STAFF_ONLY = "Only administrators and safety officers may see inspection plans."
ADMIN_ONLY = "Only administrators may create or change inspection plans."
NOT_FOUND = "No inspection plan with this id."
OVERLAP = "Another active plan covers some of the same assets (send allow_overlap to save)."
SHOWN_DUE_DATES = 6


def register_api(api: Api) -> None:
    register_token_api(api, blp)


@blp.before_request
def plans_need_staff() -> None:
    """Runs after the app's login check (401): reading is for staff, writing for admins."""
    protect_session_writes()
    if not current_user.has_role("admin", "officer"):
        abort(403, message=STAFF_ONLY)
    if request.method not in READ_METHODS and not current_user.has_role("admin"):
        abort(403, message=ADMIN_ONLY)


@blp.errorhandler(PlanOverlapError)
def overlap_refused(error: PlanOverlapError) -> Response:
    """409 with the overlap itself, so a program can show it and resend with allow_overlap."""
    db.session.rollback()
    body = {
        "code": 409,
        "status": "Conflict",
        "message": str(error),
        "overlaps": [
            {
                "plan_id": overlap.plan_id,
                "plan": overlap.plan_name,
                "contractor": overlap.contractor,
                "count": overlap.count,
                "codes": overlap.codes,
            }
            for overlap in error.overlaps
        ],
    }
    return json_response(body, 409)


# Reading


def plan_item(plan: InspectionPlan, today: date) -> dict[str, Any]:
    upcoming = next_due_dates(plan, 1, today)
    return {
        "id": plan.id,
        "name": plan.name,
        "contractor_id": plan.contractor_id,
        "contractor": plan.contractor.name,
        "asset_kind": plan.asset_kind,
        "grid": plan.grid.code if plan.grid is not None else None,
        "asset_codes": list(plan.asset_codes) if plan.asset_codes is not None else None,
        "cadence_unit": plan.cadence_unit,
        "cadence_every": plan.cadence_every,
        "start_on": plan.start_on,
        "end_on": plan.end_on,
        "checklist": list(plan.checklist) if plan.checklist is not None else None,
        "active": plan.active,
        "scope": scope_words(plan),
        "cadence": cadence_words(plan),
        "asset_count": covered_asset_count(plan),
        "next_due_on": upcoming[0] if upcoming else None,
    }


def plan_detail(plan: InspectionPlan, saved: PlanSaved | None = None) -> dict[str, Any]:
    today = district_today()
    body = {**plan_item(plan, today), "due_dates": next_due_dates(plan, SHOWN_DUE_DATES, today)}
    if saved is not None:
        body["inspections_created"] = saved.created
        body["inspections_removed"] = saved.removed
    return body


@blp.get("/plans")
@blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
@blp.response(200, PlanCollectionSchema)
@blp.alt_response(403, schema=ErrorSchema, description=STAFF_ONLY)
@reads_only
def list_plans(**args: Any) -> Response:
    """Inspection plans as the plans page lists them: active first, then by name."""
    page, per_page = api_page_args(args)
    query = select(InspectionPlan).order_by(
        InspectionPlan.active.desc(), InspectionPlan.name, InspectionPlan.id
    )
    listed = page_by_one_more(
        lambda limit, offset: db.session.scalars(
            query.options(
                selectinload(InspectionPlan.contractor), selectinload(InspectionPlan.grid)
            )
            .limit(limit)
            .offset(offset)
        ).all(),
        lambda limit: count_rows_up_to(query.with_only_columns(InspectionPlan.id), limit),
        page,
        per_page,
        api_count_cap(),
    )
    today = district_today()
    body = {
        "items": [plan_item(plan, today) for plan in listed.items],
        **api_page_members(page, per_page, listed),
    }
    return json_response(body)


def plan_or_404(plan_id: int) -> InspectionPlan:
    plan = plan_or_none(plan_id)
    if plan is None:
        abort(404, message=NOT_FOUND)
    return plan


@blp.get("/plans/<int:id>")
@blp.response(200, PlanDetailSchema)
@blp.alt_response(403, schema=ErrorSchema, description=STAFF_ONLY)
@blp.alt_response(404, schema=ErrorSchema, description=NOT_FOUND)
@reads_only
def get_plan(id: int) -> Response:
    """One plan with its scope and cadence in words and its next due dates."""
    return json_response(plan_detail(plan_or_404(id)))


# Writing


def current_values(plan: InspectionPlan) -> dict[str, Any]:
    """The plan's values as the services read them, for a PATCH to change some of."""
    return {
        "name": plan.name,
        "contractor_id": plan.contractor_id,
        "asset_kind": plan.asset_kind,
        "grid": plan.grid.code if plan.grid is not None else None,
        "asset_codes": plan.asset_codes,
        "cadence_unit": plan.cadence_unit,
        "cadence_every": plan.cadence_every,
        "start_on": plan.start_on,
        "end_on": plan.end_on,
        "checklist": plan.checklist,
        "active": plan.active,
    }


@blp.post("/plans")
@blp.arguments(PlanInputSchema)
@blp.response(201, PlanDetailSchema)
@blp.alt_response(403, schema=ErrorSchema, description=ADMIN_ONLY)
@blp.alt_response(409, schema=PlanOverlapErrorSchema, description=OVERLAP)
@blp.alt_response(422, schema=ErrorSchema, description="Bad input, by field")
def create_plan_view(data: dict[str, Any]) -> Response:
    """Create a plan and schedule its inspections over the horizon (as the plan form does)."""
    allow_overlap = data.pop("allow_overlap", False)
    saved = create_plan(data, allow_overlap=allow_overlap)
    db.session.commit()
    location = url_for(".get_plan", id=saved.plan.id, _external=True)
    return json_response(plan_detail(saved.plan, saved), 201, {"Location": location})


@blp.patch("/plans/<int:id>")
@blp.arguments(PlanChangesSchema(partial=True))
@blp.response(200, PlanDetailSchema)
@blp.alt_response(403, schema=ErrorSchema, description=ADMIN_ONLY)
@blp.alt_response(404, schema=ErrorSchema, description=NOT_FOUND)
@blp.alt_response(409, schema=PlanOverlapErrorSchema, description=OVERLAP)
@blp.alt_response(422, schema=ErrorSchema, description="Bad input, by field")
def update_plan_view(changes: dict[str, Any], id: int) -> Response:
    """Change some fields of a plan; a new schedule regenerates its future inspections.

    A new ``asset_kind`` without a ``checklist`` takes the new kind's whole checklist."""
    plan = plan_or_404(id)
    allow_overlap = changes.pop("allow_overlap", False)
    values = current_values(plan)
    if "asset_kind" in changes and changes["asset_kind"] != plan.asset_kind:
        values["checklist"] = None
    values.update(changes)
    saved = update_plan(plan, values, allow_overlap=allow_overlap)
    db.session.commit()
    return json_response(plan_detail(plan, saved))
