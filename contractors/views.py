"""Contractor pages for administrators: companies, their contacts, dates and users.

Officers may look; only administrators change anything; contractor users are refused (403).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, func, select

from accounts.auth import roles_required, staff_required
from accounts.models import Contractor, Role, User
from accounts.services import create_user, deactivate_user, reactivate_user
from contractors.forms import ContractorForm, ContractorUserForm
from core.audit import changed_fields, record_change
from core.errors import Refusal, on_refused
from core.extensions import db
from inspections.models import Inspection, InspectionPlan, InspectionStatus

bp = Blueprint("contractors", __name__, url_prefix="/contractors", template_folder="templates")


@dataclass(frozen=True)
class OpenCount:
    """A company's open (scheduled) inspections, counted up to ``LIST_COUNT_CAP`` as the lists
    are: ``exact`` False means more than ``count``."""

    count: int
    exact: bool

    @classmethod
    def of(cls, counted: int, cap: int) -> OpenCount:
        return cls(cap, False) if counted > cap else cls(counted, True)


def open_inspections_up_to(contractor_id: ColumnElement[int] | int, cap: int) -> Select:
    """Counts the scheduled inspections of ``contractor_id`` (a value, or a column of an outer
    query), one more than ``cap`` at most: it reads that many entries of the contractor's
    index (contractor, status, due date) however many a province's contractor has."""
    open_rows = (
        select(Inspection.id)
        .where(
            Inspection.contractor_id == contractor_id,
            Inspection.status == InspectionStatus.SCHEDULED,
        )
        .limit(cap + 1)
        .correlate(Contractor)
    )
    return select(func.count()).select_from(open_rows.subquery())


@dataclass
class ContractorRow:
    contractor: Contractor
    user_count: int
    open_inspections: OpenCount


def contractor_rows() -> list[ContractorRow]:
    users = (
        select(func.count(User.id))
        .where(User.contractor_id == Contractor.id)
        .correlate(Contractor)
        .scalar_subquery()
    )
    cap = current_app.config["LIST_COUNT_CAP"]
    open_inspections = open_inspections_up_to(Contractor.id, cap).scalar_subquery()
    rows = db.session.execute(
        select(Contractor, users, open_inspections).order_by(func.lower(Contractor.name))
    ).all()
    return [
        ContractorRow(contractor, count, OpenCount.of(open_count, cap))
        for contractor, count, open_count in rows
    ]


def contractor_or_404(contractor_id: int) -> Contractor:
    contractor = db.session.get(Contractor, contractor_id)
    if contractor is None:
        abort(404, description=_("No such contractor."))
    return contractor


def contractor_record(contractor: Contractor) -> dict:
    """The contractor as plain values, for the audit trail."""
    return {
        "name": contractor.name,
        "contact_email": contractor.contact_email,
        "contact_phone": contractor.contact_phone,
        "active_from": contractor.active_from,
        "active_until": contractor.active_until,
    }


@bp.get("/")
@staff_required
def contractor_list():
    return render_template("contractors/list.html", rows=contractor_rows())


def render_detail(contractor: Contractor, user_form: ContractorUserForm, status: int = 200):
    users = db.session.scalars(
        select(User).where(User.contractor_id == contractor.id).order_by(User.email)
    ).all()
    plans = db.session.scalars(
        select(InspectionPlan)
        .where(InspectionPlan.contractor_id == contractor.id)
        .order_by(InspectionPlan.active.desc(), InspectionPlan.name)
    ).all()
    cap = current_app.config["LIST_COUNT_CAP"]
    open_inspections = OpenCount.of(
        db.session.scalar(open_inspections_up_to(contractor.id, cap)) or 0, cap
    )
    page = render_template(
        "contractors/detail.html",
        contractor=contractor,
        users=users,
        plans=plans,
        open_inspections=open_inspections,
        user_form=user_form,
    )
    return page, status


@bp.get("/<int:contractor_id>")
@staff_required
def contractor_detail(contractor_id: int):
    contractor = contractor_or_404(contractor_id)
    return render_detail(contractor, ContractorUserForm(formdata=None))


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def contractor_new():
    form = ContractorForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("contractors/form.html", form=form, contractor=None), status
    contractor = Contractor(**form.contractor_values())
    db.session.add(contractor)
    db.session.flush()
    record_change("create", "contractor", str(contractor.id), None, contractor_record(contractor))
    db.session.commit()
    flash(_("Contractor %(name)s created.", name=contractor.name), "success")
    return redirect(url_for("contractors.contractor_detail", contractor_id=contractor.id))


@bp.route("/<int:contractor_id>/edit", methods=["GET", "POST"])
@roles_required("admin")
def contractor_edit(contractor_id: int):
    contractor = contractor_or_404(contractor_id)
    form = ContractorForm(obj=contractor, contractor=contractor)
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("contractors/form.html", form=form, contractor=contractor), status
    before = contractor_record(contractor)
    for key, value in form.contractor_values().items():
        setattr(contractor, key, value)
    old, new = changed_fields(before, contractor_record(contractor))
    if new:
        record_change("update", "contractor", str(contractor.id), old, new)
    db.session.commit()
    flash(_("Contractor %(name)s saved.", name=contractor.name), "success")
    return redirect(url_for("contractors.contractor_detail", contractor_id=contractor.id))


@bp.post("/<int:contractor_id>/users")
@roles_required("admin")
def contractor_user_add(contractor_id: int):
    contractor = contractor_or_404(contractor_id)
    form = ContractorUserForm()
    if not form.validate_on_submit():
        return render_detail(contractor, form, 400)

    def refused(error: Refusal, status: int):
        """Whatever ``create_user`` refuses is shown under the email address."""
        form.email.errors = [*form.email.errors, str(error)]
        return render_detail(contractor, form, status)

    on_refused(refused)
    user = create_user(
        form.email.data,
        form.password.data,
        Role.CONTRACTOR,
        contractor_name=contractor.name,
        name=(form.name.data or "").strip(),
    )
    db.session.commit()
    flash(_("User %(email)s added.", email=user.email), "success")
    return redirect(url_for("contractors.contractor_detail", contractor_id=contractor.id))


def contractor_user_or_404(contractor: Contractor, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.contractor_id != contractor.id:
        abort(404, description=_("No such user at this contractor."))
    return user


def set_user_active(contractor_id: int, user_id: int, active: bool):
    """The Users pages' deactivation and reactivation (``accounts.services``), from the
    company's page: sessions end and tokens are revoked the same way."""
    contractor = contractor_or_404(contractor_id)
    user = contractor_user_or_404(contractor, user_id)

    def refused(error: Refusal, status: int):
        flash(str(error), "error")
        return render_detail(contractor, ContractorUserForm(formdata=None), status)

    on_refused(refused)
    changed = reactivate_user(user) if active else deactivate_user(user, current_user)
    if changed:
        db.session.commit()
    if active:
        flash(_("User %(email)s can sign in again.", email=user.email), "success")
    else:
        flash(_("User %(email)s deactivated.", email=user.email), "success")
    return redirect(url_for("contractors.contractor_detail", contractor_id=contractor.id))


@bp.post("/<int:contractor_id>/users/<int:user_id>/deactivate")
@roles_required("admin")
def contractor_user_deactivate(contractor_id: int, user_id: int):
    return set_user_active(contractor_id, user_id, False)


@bp.post("/<int:contractor_id>/users/<int:user_id>/reactivate")
@roles_required("admin")
def contractor_user_reactivate(contractor_id: int, user_id: int):
    return set_user_active(contractor_id, user_id, True)
