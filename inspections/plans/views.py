"""Inspection plan pages for administrators: list, create, edit (which regenerates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts.auth import roles_required, staff_required
from assets.kinds import KINDS
from core.clock import district_today
from core.errors import on_refused
from core.extensions import db
from inspections.models import InspectionPlan
from inspections.plans.forms import PlanForm, form_data_for
from inspections.plans.services import (
    PlanSaved,
    cadence_words,
    covered_asset_count,
    create_plan,
    next_due_dates,
    plan_checklist,
    plan_or_none,
    scope_words,
    set_plan_active,
    update_plan,
)

bp = Blueprint("plans", __name__, url_prefix="/plans", template_folder="templates")

SHOWN_DUE_DATES = 6


@dataclass
class PlanRow:
    plan: InspectionPlan
    scope: str
    cadence: str
    next_due: date | None
    asset_count: int


def plan_row(plan: InspectionPlan, today: date) -> PlanRow:
    upcoming = next_due_dates(plan, 1, today)
    return PlanRow(
        plan=plan,
        scope=scope_words(plan),
        cadence=cadence_words(plan),
        next_due=upcoming[0] if upcoming else None,
        asset_count=covered_asset_count(plan),
    )


def plan_or_404(plan_id: int) -> InspectionPlan:
    plan = plan_or_none(plan_id)
    if plan is None:
        abort(404, description=_("No such inspection plan."))
    return plan


def flash_generation(saved: PlanSaved) -> None:
    if saved.removed:
        flash(
            ngettext(
                "%(num)s future inspection removed.",
                "%(num)s future inspections removed.",
                saved.removed,
            ),
            "success",
        )
    if saved.created or not saved.removed:
        flash(
            ngettext(
                "%(num)s inspection scheduled.", "%(num)s inspections scheduled.", saved.created
            ),
            "success",
        )


@bp.get("/")
@staff_required
def plan_list():
    plans = db.session.scalars(
        select(InspectionPlan)
        .options(selectinload(InspectionPlan.contractor), selectinload(InspectionPlan.grid))
        .order_by(InspectionPlan.active.desc(), InspectionPlan.name, InspectionPlan.id)
    ).all()
    today = district_today()
    return render_template("plans/list.html", rows=[plan_row(plan, today) for plan in plans])


@bp.get("/<int:plan_id>")
@staff_required
def plan_detail(plan_id: int):
    plan = plan_or_404(plan_id)
    today = district_today()
    return render_template(
        "plans/detail.html",
        row=plan_row(plan, today),
        checklist=plan_checklist(plan),
        due_dates=next_due_dates(plan, SHOWN_DUE_DATES, today),
        kind=KINDS.get(plan.asset_kind or ""),
    )


def render_form(form: PlanForm, errors: dict[str, list[str]], status: int, plan=None):
    return render_template("plans/form.html", form=form, errors=errors, plan=plan), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def plan_new():
    form = PlanForm()
    if not form.validate_on_submit():
        return render_form(form, {}, 400 if form.is_submitted() else 200)
    on_refused(lambda error, status: render_form(form, error.messages(), status))
    saved = create_plan(form.plan_values(), allow_overlap=form.allow_overlap.data)
    db.session.commit()
    flash(_("Plan %(name)s created.", name=saved.plan.name), "success")
    flash_generation(saved)
    return redirect(url_for("plans.plan_detail", plan_id=saved.plan.id))


@bp.route("/<int:plan_id>/edit", methods=["GET", "POST"])
@roles_required("admin")
def plan_edit(plan_id: int):
    plan = plan_or_404(plan_id)
    form = PlanForm(data=form_data_for(plan))
    if not form.validate_on_submit():
        return render_form(form, {}, 400 if form.is_submitted() else 200, plan)
    on_refused(lambda error, status: render_form(form, error.messages(), status, plan))
    saved = update_plan(plan, form.plan_values(), allow_overlap=form.allow_overlap.data)
    db.session.commit()
    if not saved.changed:
        flash(_("Nothing changed."), "info")
    else:
        flash(_("Plan %(name)s saved.", name=plan.name), "success")
        if saved.created or saved.removed:
            flash_generation(saved)
    return redirect(url_for("plans.plan_detail", plan_id=plan.id))


@bp.post("/<int:plan_id>/deactivate")
@roles_required("admin")
def plan_deactivate(plan_id: int):
    return switch_plan(plan_id, active=False)


@bp.post("/<int:plan_id>/activate")
@roles_required("admin")
def plan_activate(plan_id: int):
    return switch_plan(plan_id, active=True)


def switch_plan(plan_id: int, active: bool):
    """Activate or deactivate a plan; its due inspections are generated or removed."""
    plan = plan_or_404(plan_id)
    saved = set_plan_active(plan, active)
    db.session.commit()
    if active:
        flash(_("Plan %(name)s activated.", name=plan.name), "success")
    else:
        flash(_("Plan %(name)s deactivated.", name=plan.name), "success")
    if saved.changed if active else saved.removed:
        flash_generation(saved)
    return redirect(url_for("plans.plan_detail", plan_id=plan.id))
