"""Hazard register pages: list, detail, report, status steps, edit and photos.

A contractor user sees only the hazards ``accounts.access`` lets it see; any other code or photo
answers 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from geoalchemy2.shape import to_shape
from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import selectinload

from accounts.access import visible
from accounts.auth import staff_required
from accounts.models import Contractor
from accounts.scope import requested_grid
from assets.models import Asset, Grid, PropertyCompany
from assets.services import grid_choices, in_grid, named_choices
from core.args import date_arg
from core.clock import district_today
from core.errors import Refusal, on_refused
from core.export import Column, export_response, local_time_text, refuse_too_many_rows_for_xlsx
from core.extensions import db
from core.inputs import id_or_none
from core.paging import DEFAULT_PER_PAGE, page_args, page_of_parts
from evidence.models import PhotoStage
from evidence.photos import PhotoError, photo_path
from hazards.forms import (
    COMPANY_PREFIX,
    CONTRACTOR_PREFIX,
    STAGE_LABELS,
    HazardEditForm,
    HazardPhotoForm,
    HazardReopenForm,
    HazardReportForm,
    HazardReworkForm,
    HazardStatusForm,
    responsible_choices,
    responsible_value,
    responsible_values,
)
from hazards.models import Hazard, HazardStatus
from hazards.services import (
    CATEGORY_LABELS,
    HAZARD_STATUS_LABELS,
    SEVERITY_LABELS,
    add_hazard_photos,
    allowed_steps,
    change_hazard_status,
    create_hazard,
    days_overdue,
    failed_item_labels,
    hazard_age_days,
    hazard_by_code,
    hazard_overdue_clause,
    hazard_photo_for,
    is_hazard_overdue,
    may_reopen,
    may_return_for_rework,
    overdue_first_parts,
    reopen_hazard,
    responsible_party_named,
    return_for_rework,
    update_hazard,
)

bp = Blueprint("hazards", __name__, url_prefix="/hazards", template_folder="templates")

UNVERIFIED = "unverified"


@bp.app_context_processor
def hazard_labels() -> dict[str, Any]:
    return {
        "hazard_category_labels": CATEGORY_LABELS,
        "hazard_severity_labels": SEVERITY_LABELS,
        "hazard_status_labels": HAZARD_STATUS_LABELS,
    }


# The list


@dataclass
class HazardListQuery:
    status: str = ""
    severity: str = ""
    category: str = ""
    grid: str = ""
    overdue: str = ""
    asset: str = ""
    responsible: str = ""
    found_from: str = ""
    found_to: str = ""
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def filters(self, **changes: Any) -> dict[str, Any]:
        """The non-empty filters (page and default page size left out), for links."""
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        values.update(page=None)
        if values["per_page"] == DEFAULT_PER_PAGE:
            values["per_page"] = None
        values.update(changes)
        return {key: value for key, value in values.items() if value}


def list_query_from_request() -> HazardListQuery:
    text = {name: request.args.get(name, "").strip() for name in HazardListQuery.__annotations__}
    page, per_page = page_args()
    return HazardListQuery(
        status=text["status"],
        severity=text["severity"],
        category=text["category"],
        grid=requested_grid().upper(),
        overdue="1" if text["overdue"] in ("1", "true", "on", "yes") else "",
        asset=text["asset"].upper(),
        responsible=text["responsible"],
        found_from=text["found_from"],
        found_to=text["found_to"],
        page=page,
        per_page=per_page,
    )


def hazard_conditions(query: HazardListQuery, today: date) -> list:
    """Every filter but ``overdue`` (so the overdue count can be taken within the others)."""
    conditions = []
    if query.status == UNVERIFIED:
        conditions.append(Hazard.status != HazardStatus.VERIFIED)
    elif query.status:
        conditions.append(Hazard.status == query.status)
    if query.severity:
        conditions.append(Hazard.severity == query.severity)
    if query.category:
        conditions.append(Hazard.category == query.category)
    if query.grid:
        conditions.append(in_grid(Hazard.grid_id, query.grid))
    if query.asset:
        asset_id = select(Asset.id).where(Asset.code == query.asset).scalar_subquery()
        conditions.append(Hazard.asset_id == asset_id)
    if query.responsible:
        conditions.append(responsible_condition(query.responsible))
    found_from, found_to = date_arg("found_from"), date_arg("found_to")
    if found_from is not None:
        conditions.append(Hazard.found_on >= found_from)
    if found_to is not None:
        conditions.append(Hazard.found_on <= found_to)
    return conditions


def responsible_condition(raw: str) -> ColumnElement[bool]:
    """The list's responsible filter: a select's ``company:<id>`` or ``contractor:<id>``, or
    a party's name (typed past ``FORM_SELECT_LIMIT`` companies; one the user may not name
    matches nothing)."""
    if raw.startswith((COMPANY_PREFIX, CONTRACTOR_PREFIX)):
        party = responsible_values(raw)
        company_id = party["responsible_company_id"]
        if company_id is not None:
            return Hazard.responsible_company_id == int_or_none(company_id)
        return Hazard.responsible_contractor_id == int_or_none(party["responsible_contractor_id"])
    named = responsible_party_named(raw, current_user)
    if isinstance(named, PropertyCompany):
        return Hazard.responsible_company_id == named.id
    if isinstance(named, Contractor):
        return Hazard.responsible_contractor_id == named.id
    return false()


def unknown_party(raw: str) -> str | None:
    """``raw`` when it names no party the user may name (the page says so)."""
    if not raw or raw.startswith((COMPANY_PREFIX, CONTRACTOR_PREFIX)):
        return None
    return raw if responsible_party_named(raw, current_user) is None else None


def int_or_none(raw: Any) -> int | None:
    number = id_or_none(raw)
    return -1 if number is None else number  # -1 matches nothing


def filtered_hazards(query: HazardListQuery, today: date, overdue: bool | None = None):
    """The list's query, for the page and its export: the hazards the user may see matching
    the filters (``overdue`` True/False overrides the query's own overdue filter)."""
    base = visible(current_user, Hazard).where(*hazard_conditions(query, today))
    if overdue if overdue is not None else query.overdue:
        return base.where(hazard_overdue_clause(today))
    return base


@bp.get("/")
def hazard_list():
    query = list_query_from_request()
    today = district_today()
    overdue_count = db.session.scalar(
        select(func.count()).select_from(filtered_hazards(query, today, overdue=True).subquery())
    )
    listed = page_of_parts(
        overdue_first_parts(filtered_hazards(query, today), today),
        Hazard.id,
        query.page,
        query.per_page,
        options=(
            selectinload(Hazard.grid),
            selectinload(Hazard.asset),
            selectinload(Hazard.responsible_company),
            selectinload(Hazard.responsible_contractor),
        ),
        count_up_to=current_app.config["LIST_COUNT_CAP"],
    )

    def list_url(**changes: Any) -> str:
        return url_for("hazards.hazard_list", **query.filters(**changes))

    companies = named_choices(PropertyCompany)

    return render_template(
        "hazards/list.html",
        hazards=listed.items,
        query=query,
        total=listed.total,
        exact=listed.exact,
        overdue_count=overdue_count,
        pages=listed.pages,
        list_url=list_url,
        today=today,
        is_overdue=is_hazard_overdue,
        days_overdue=days_overdue,
        age_days=hazard_age_days,
        grids=grid_choices(query.grid),
        responsible_groups=responsible_choices(current_user, companies.choices),
        responsible_typed=companies.typed,
        responsible_unknown=unknown_party(query.responsible),
        UNVERIFIED=UNVERIFIED,
    )


# The export: the whole filtered list in its order, as CSV or a workbook

EXPORT_BATCH = 500
EXPORT_COLUMNS = (
    Column("code", _l("Code"), 14),
    Column("category", _l("Category"), 18),
    Column("severity", _l("Severity"), 10),
    Column("status", _l("Status"), 12),
    Column("description", _l("Description"), 40),
    Column("asset", _l("Asset code"), 12),
    Column("grid", _l("Grid"), 10),
    Column("found_on", _l("Found on"), 12),
    Column("deadline", _l("Rectification deadline"), 12),
    Column("overdue", _l("Overdue"), 8),
    Column("responsible", _l("Responsible party"), 20),
    Column("status_changed_at", _l("Status changed at"), 17),
)


def export_rows(query: HazardListQuery, today: date):
    """The rows of the whole filtered list, in its order, read in batches as they are
    written: only the columns the file shows, joined in the query (loading each batch's
    hazards with their grids, boundaries included, cost 0.3 ms a row), a part of the list's
    order at a time (``overdue_first_parts``)."""
    for part in overdue_first_parts(filtered_hazards(query, today), today):
        yield from export_part_rows(part, today)


def export_part_rows(part, today: date):
    stmt = (
        part.with_only_columns(
            Hazard.code,
            Hazard.category,
            Hazard.severity,
            Hazard.status,
            Hazard.description,
            Asset.code,
            Grid.code,
            Hazard.found_on,
            Hazard.deadline,
            PropertyCompany.name,
            Contractor.name,
            Hazard.status_changed_at,
            maintain_column_froms=True,
        )
        .outerjoin(Asset, Asset.id == Hazard.asset_id)
        .outerjoin(Grid, Grid.id == Hazard.grid_id)
        .outerjoin(PropertyCompany, PropertyCompany.id == Hazard.responsible_company_id)
        .outerjoin(Contractor, Contractor.id == Hazard.responsible_contractor_id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    yes, no = _("Yes"), _("No")
    # Labels in the user's language, translated once per file rather than once per row.
    categories = {key: str(label) for key, label in CATEGORY_LABELS.items()}
    severities = {key: str(label) for key, label in SEVERITY_LABELS.items()}
    statuses = {key: str(label) for key, label in HAZARD_STATUS_LABELS.items()}
    for row in db.session.execute(stmt):
        (code, category, severity, status, description, asset, grid) = row[:7]
        found_on, deadline, company, contractor, changed_at = row[7:]
        yield [
            code,
            categories.get(category, category),
            severities.get(severity, severity),
            statuses.get(status, status),
            description,
            asset,
            grid,
            found_on,
            deadline,
            yes if is_hazard_overdue(row, today) else no,  # the row's status and deadline
            company if company is not None else contractor,
            local_time_text(changed_at),
        ]


@bp.get("/export.csv", defaults={"fmt": "csv"})
@bp.get("/export.xlsx", defaults={"fmt": "xlsx"})
def hazard_export(fmt: str):
    query = list_query_from_request()
    today = district_today()
    if fmt == "xlsx":
        listed = filtered_hazards(query, today)
        refuse_too_many_rows_for_xlsx(
            listed.with_only_columns(Hazard.id, maintain_column_froms=True)
        )
    return export_response(
        fmt, "hazards", _("Hazards"), EXPORT_COLUMNS, lambda: export_rows(query, today)
    )


# The detail


def hazard_or_404(code: str) -> Hazard:
    hazard = hazard_by_code(code, current_user)
    if hazard is None:
        abort(404, description=_("No hazard has the code %(code)s.", code=code))
    return hazard


def render_detail(hazard: Hazard, status: int = 200, **forms: Any):
    today = district_today()
    point = to_shape(hazard.location)
    status_form = forms.get("status_form") or HazardStatusForm(formdata=None)
    steps = allowed_steps(hazard, current_user)
    photos = {
        stage: [photo for photo in hazard.photos if photo.stage == stage] for stage in PhotoStage
    }
    return (
        render_template(
            "hazards/detail.html",
            hazard=hazard,
            longitude=point.x,
            latitude=point.y,
            overdue=is_hazard_overdue(hazard, today),
            days_overdue=days_overdue(hazard, today),
            age_days=hazard_age_days(hazard, today),
            steps=steps,
            can_reopen=may_reopen(hazard, current_user),
            can_return=may_return_for_rework(hazard, current_user),
            status_form=status_form,
            rework_form=forms.get("rework_form") or HazardReworkForm(formdata=None),
            reopen_form=forms.get("reopen_form") or HazardReopenForm(formdata=None),
            photo_form=forms.get("photo_form") or HazardPhotoForm(formdata=None),
            errors=forms.get("errors", {}),
            photos=photos,
            stage_labels=STAGE_LABELS,
            failed_items=failed_item_labels(hazard),
        ),
        status,
    )


@bp.get("/<code>")
def hazard_detail(code: str):
    return render_detail(hazard_or_404(code))


# Reporting


def deadline_help() -> str:
    days = current_app.config["HAZARD_DEADLINE_DAYS"]
    return _(
        "Empty: %(general)s days after the finding for a general hazard, %(major)s for a "
        "major one.",
        general=days["general"],
        major=days["major"],
    )


def degrees_or_none(raw: Any, limit: float) -> float | None:
    """The typed coordinate if it is one within ±limit degrees (for the picker's start)."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if -limit <= value <= limit else None


def render_report(form: HazardReportForm, errors: dict[str, list[str]], status: int):
    return (
        render_template(
            "hazards/form.html",
            form=form,
            errors=errors,
            deadline_help=deadline_help(),
            picker_start=(
                degrees_or_none(form.longitude.data, 180),
                degrees_or_none(form.latitude.data, 90),
            ),
        ),
        status,
    )


def errors_by_field(messages: dict[str, list[str]]) -> dict[str, list[str]]:
    """Service error keys as form field names."""
    renamed = {
        "responsible_company_id": "responsible",
        "responsible_contractor_id": "responsible",
        "responsible_name": "responsible",
    }
    by_field: dict[str, list[str]] = {}
    for key, texts in messages.items():
        by_field.setdefault(renamed.get(key, key), []).extend(texts)
    return by_field


@bp.route("/new", methods=["GET", "POST"])
def hazard_new():
    """Any signed-in user reports a hazard (contractors report what they find)."""
    form = HazardReportForm()
    form.fill_choices(current_user)
    if request.method == "GET" and request.args.get("asset"):
        form.asset_code.data = request.args["asset"].strip().upper()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_report(form, {}, status)
    on_refused(lambda error, status: render_report(form, errors_by_field(error.messages()), status))
    hazard = create_hazard(form.service_values(), found_by=current_user)
    add_hazard_photos(hazard, form.photos.data or [], PhotoStage.BEFORE, current_user)
    db.session.commit()
    flash(_("Hazard %(code)s reported.", code=hazard.code), "success")
    return redirect(url_for("hazards.hazard_detail", code=hazard.code))


# Status steps and photos


def detail_again(hazard: Hazard, errors_of: Callable[[Refusal], dict], **forms: Any):
    """The detail page again for a refused step or upload (403 for a step this user may not
    make, 409 for one the machine does not allow, 400 for bad input), the hazard as stored."""

    def render(error: Refusal, status: int):
        db.session.refresh(hazard)
        return render_detail(hazard, status, errors=errors_of(error), **forms)

    return render


def status_errors(error: Refusal) -> dict[str, list[str]]:
    photos = isinstance(error, PhotoError) or getattr(error, "field", None) == "photos"
    return {"status_photos" if photos else "status": [str(error)]}


@bp.post("/<code>/status")
def hazard_status(code: str):
    hazard = hazard_or_404(code)
    form = HazardStatusForm()
    if not form.validate_on_submit():
        return render_detail(hazard, 400, status_form=form)
    on_refused(detail_again(hazard, status_errors, status_form=form))
    change_hazard_status(
        hazard, form.status.data or "", current_user, form.note.data, form.photos.data or []
    )
    db.session.commit()
    flash(
        _(
            "Hazard %(code)s is now %(status)s.",
            code=hazard.code,
            status=HAZARD_STATUS_LABELS[HazardStatus(hazard.status)],
        ),
        "success",
    )
    return redirect(url_for("hazards.hazard_detail", code=hazard.code))


@bp.post("/<code>/reopen")
def hazard_reopen(code: str):
    hazard = hazard_or_404(code)
    form = HazardReopenForm()
    if not form.validate_on_submit():
        return render_detail(hazard, 400, reopen_form=form)
    on_refused(detail_again(hazard, lambda error: {"reason": [str(error)]}, reopen_form=form))
    reopen_hazard(hazard, current_user, form.reason.data or "")
    db.session.commit()
    flash(_("Hazard %(code)s reopened.", code=hazard.code), "success")
    return redirect(url_for("hazards.hazard_detail", code=hazard.code))


@bp.post("/<code>/rework")
def hazard_rework(code: str):
    """An officer returns a rectified hazard for rework (back to rectifying) with a reason."""
    hazard = hazard_or_404(code)
    form = HazardReworkForm()
    if not form.validate_on_submit():
        return render_detail(hazard, 400, rework_form=form)
    on_refused(detail_again(hazard, lambda error: {"rework": [str(error)]}, rework_form=form))
    return_for_rework(hazard, current_user, form.reason.data or "")
    db.session.commit()
    flash(_("Hazard %(code)s returned for rework.", code=hazard.code), "success")
    return redirect(url_for("hazards.hazard_detail", code=hazard.code))


def photo_errors(error: Refusal) -> dict[str, list[str]]:
    """Every message under "photos" (a bad stage as well as a bad image)."""
    return {"photos": ["; ".join(text for texts in error.messages().values() for text in texts)]}


@bp.post("/<code>/photos")
def hazard_photos(code: str):
    hazard = hazard_or_404(code)
    form = HazardPhotoForm()
    if not form.validate_on_submit():
        return render_detail(hazard, 400, photo_form=form)
    on_refused(detail_again(hazard, photo_errors, photo_form=form))
    photos = add_hazard_photos(hazard, form.photos.data or [], form.stage.data, current_user)
    if not photos:
        raise PhotoError(_("Choose at least one photo."))
    db.session.commit()
    flash(_("%(n)s photos added.", n=len(photos)), "success")
    return redirect(url_for("hazards.hazard_detail", code=hazard.code))


@bp.get("/photos/<int:photo_id>")
def hazard_photo(photo_id: int):
    photo = hazard_photo_for(photo_id, current_user)
    if photo is None:
        abort(404)
    path = photo_path(photo)
    if not path.is_file():
        abort(404)
    # Read whole (at most PHOTO_MAX_BYTES): no file handle is left to the WSGI server.
    response = current_app.response_class(path.read_bytes(), mimetype=photo.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Disposition"] = f'inline; filename="{photo.stored_name}"'
    return response


# Staff edit


@bp.route("/<code>/edit", methods=["GET", "POST"])
@staff_required
def hazard_edit(code: str):
    hazard = hazard_or_404(code)
    data = {
        "severity": hazard.severity,
        "deadline": hazard.deadline.isoformat(),
        "description": hazard.description,
        "responsible": responsible_value(
            hazard.responsible_company_id, hazard.responsible_contractor_id
        ),
    }
    form = HazardEditForm(data=data)
    party = hazard.responsible_company or hazard.responsible_contractor
    form.fill_choices(current_user, party.name if party is not None else "")
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_edit(hazard, form, {}, status)

    def refused(error: Refusal, status: int):
        db.session.refresh(hazard)
        return render_edit(hazard, form, errors_by_field(error.messages()), status)

    on_refused(refused)
    update_hazard(hazard, form.service_values())
    db.session.commit()
    flash(_("Hazard %(code)s saved.", code=hazard.code), "success")
    return redirect(url_for("hazards.hazard_detail", code=hazard.code))


def render_edit(hazard: Hazard, form: HazardEditForm, errors: dict, status: int):
    return render_template("hazards/edit.html", hazard=hazard, form=form, errors=errors), status


# The asset page's hazards card (registered in ``hazards.init_app``)


def asset_hazards(asset: Asset, user) -> list[Hazard]:
    """The asset's hazards ``user`` may see, the latest finding first."""
    query = (
        visible(user, Hazard)
        .where(Hazard.asset_id == asset.id)
        .order_by(Hazard.found_on.desc(), Hazard.id.desc())
    )
    return list(db.session.scalars(query))


def asset_hazards_card(asset: Asset, user) -> str:
    return render_template(
        "hazards/_asset_hazards.html",
        hazards=asset_hazards(asset, user),
        today=district_today(),
        is_hazard_overdue=is_hazard_overdue,
        category_labels=CATEGORY_LABELS,
        severity_labels=SEVERITY_LABELS,
        hazard_status_labels=HAZARD_STATUS_LABELS,
    )
