"""Inspection pages: the list, the detail, the contractor's logging form, photos, cancelling,
and the landing page of an asset's QR label.

An inspection the user may not see answers 404 everywhere (a contractor never learns that
another contractor's records exist). Every check lives in ``inspections.results``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from accounts.access import visible
from accounts.auth import staff_required
from accounts.models import Contractor
from accounts.scope import requested_grid
from assets.kinds import kind_named
from assets.labels import NoticeLine
from assets.models import Asset, Grid
from assets.services import grid_choices
from core import clock
from core.args import choice_arg, date_arg
from core.clock import district_zone
from core.errors import Refusal, ValidationError, on_refused
from core.export import Column, export_response, local_time_text, refuse_too_many_rows_for_xlsx
from core.extensions import db
from core.forms import SelectChoice
from core.paging import DEFAULT_PER_PAGE, page_args, page_of_parts
from evidence.models import Photo
from evidence.photos import photo_path
from hazards.models import Hazard
from hazards.services import hazard_opened_by
from inspections.bulk import bulk_change, contractors_in_force
from inspections.forms import (
    ANSWER_LABELS,
    INSPECTION_STATUS_LABELS,
    LIST_ORDER_LABELS,
    RESULT_LABELS,
    BulkForm,
    CancelForm,
    InspectionLogForm,
    item_field_name,
    log_form_for,
)
from inspections.models import Inspection, InspectionStatus
from inspections.results import (
    DEFAULT_LIST_ORDER,
    LIST_ORDERS,
    PHOTO_MAX_EDGE,
    STATUS_FILTERS,
    InspectionFilters,
    InspectionNotFoundError,
    asset_point,
    cancel_inspection,
    checklist_for,
    inspection_for,
    inspection_query,
    list_parts,
    new_idempotency_key,
    next_inspection_of,
    offline_inspections,
    record_result,
    replays,
)
from inspections.services import (
    InspectionSummary,
    days_late,
    derived_status,
    inspection_summaries,
)

bp = Blueprint("inspections", __name__, url_prefix="/inspections", template_folder="templates")

PHOTO_MAX_AGE = 3600


@bp.context_processor
def inspection_labels() -> dict[str, Any]:
    return {
        "inspection_status_labels": INSPECTION_STATUS_LABELS,
        "answer_labels": ANSWER_LABELS,
        "result_labels": RESULT_LABELS,
        "derived_status": derived_status,
        "days_late": days_late,
    }


# The list


@dataclass
class ListQuery:
    filters: InspectionFilters
    page: int
    per_page: int
    sort: str = DEFAULT_LIST_ORDER

    def args(self) -> dict[str, Any]:
        """The non-empty filters as query arguments, for links that keep them."""
        values = {}
        for key, value in self.filters.active().items():
            if key == "flagged":
                value = "yes" if value else "no"
            elif value is True:
                value = "1"
            values[key] = str(value)
        if self.per_page != DEFAULT_PER_PAGE:
            values["per_page"] = str(self.per_page)
        if self.sort != DEFAULT_LIST_ORDER:
            values["sort"] = self.sort
        return values


def flag_arg(name: str) -> bool:
    return request.args.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def list_query_from_request() -> ListQuery:
    flagged = choice_arg("flagged", {"yes", "no"})
    filters = InspectionFilters(
        status=choice_arg("status", STATUS_FILTERS),
        overdue=flag_arg("overdue"),
        due_soon=flag_arg("due_soon"),
        kind=request.args.get("kind", "").strip() or None,
        grid=requested_grid() or None,
        asset=request.args.get("asset", "").strip() or None,
        flagged=None if flagged is None else flagged == "yes",
        due_from=date_arg("due_from"),
        due_to=date_arg("due_to"),
    )
    if current_user.is_staff:
        filters.contractor = request.args.get("contractor", "").strip() or None
    page, per_page = page_args()
    return ListQuery(
        filters=filters,
        page=page,
        per_page=per_page,
        sort=choice_arg("sort", LIST_ORDERS) or DEFAULT_LIST_ORDER,
    )


def render_list(status: int = 200, bulk_form: BulkForm | None = None, selected=(), errors=()):
    """The list page; staff get the bulk form (``selected`` ids ticked, ``errors`` above it)."""
    query = list_query_from_request()
    parts = list_parts(inspection_query(current_user, query.filters), query.sort)
    listed = page_of_parts(
        parts,
        Inspection.id,
        query.page,
        query.per_page,
        options=(
            selectinload(Inspection.asset).selectinload(Asset.grid),
            selectinload(Inspection.contractor),
        ),
        count_up_to=current_app.config["LIST_COUNT_CAP"],
    )
    kept = query.args()

    def list_url(**changes: Any) -> str:
        return url_for("inspections.inspection_list", **{**kept, **changes})

    contractors = []
    if current_user.is_staff:
        contractors = db.session.scalars(select(Contractor).order_by(Contractor.name)).all()
        bulk_form = bulk_form or BulkForm(formdata=None)
        bulk_form.contractor.choices = [
            SelectChoice("", _("Choose…")),
            *(SelectChoice(str(c.id), c.name) for c in contractors_in_force()),
        ]
    return render_template(
        "inspections/list.html",
        bulk_form=bulk_form,
        selected={str(value) for value in selected},
        bulk_errors=list(errors),
        inspections=listed.items,
        query=query,
        filters=query.filters,
        total=listed.total,
        exact=listed.exact,
        pages=listed.pages,
        list_url=list_url,
        grids=grid_choices(query.filters.grid or ""),
        contractors=contractors,
        status_filters=STATUS_FILTERS,
        list_orders=LIST_ORDER_LABELS,
    ), status


@bp.get("/")
def inspection_list():
    return render_list()


@bp.post("/bulk")
@staff_required
def inspection_bulk():
    """Cancel, reassign or reschedule the ticked inspections at once (``inspections.bulk``);
    a refusal shows the list again with the message and the selection still ticked."""
    form = BulkForm()
    ids = request.form.getlist("ids")
    if not form.validate_on_submit():
        return render_list(400, form, ids, form.errors.get("csrf_token", []))

    def refused(error: Refusal, status: int):
        """Bad input or a closed inspection: 422; a colliding reschedule: 409."""
        messages = error.messages()
        for name in ("action", "contractor", "due_on", "reason"):
            form[name].errors = messages.pop(name, [])
        listed = [text for texts in messages.values() for text in texts]
        return render_list(error.http_status, form, ids, listed)

    on_refused(refused)
    changed = bulk_change(
        ids,
        form.action.data or "",
        form.reason.data,
        current_user._get_current_object(),
        contractor_id=form.contractor.data,
        due_on=form.due_on.data,
    )
    db.session.commit()
    flash(
        ngettext("%(num)s inspection changed.", "%(num)s inspections changed.", len(changed)),
        "success",
    )
    return redirect(url_for("inspections.inspection_list", **list_query_from_request().args()))


# The export: the list's rows with its filters and order, as CSV or a workbook

EXPORT_BATCH = 500


def export_columns() -> list[Column]:
    columns = [
        Column("due_on", _l("Due on"), 12),
        Column("asset", _l("Asset code"), 12),
        Column("kind", _l("Kind"), 16),
        Column("name", _l("Asset name"), 28),
        Column("grid", _l("Grid"), 10),
        Column("contractor", _l("Contractor"), 20),
        Column("status", _l("Status"), 12),
        Column("completed_at", _l("Completed at"), 17),
        Column("result", _l("Result"), 10),
        Column("flagged", _l("Flagged for review"), 10),
        Column("notes", _l("Notes"), 30),
    ]
    if not current_user.is_staff:
        columns = [column for column in columns if column.key != "contractor"]
    return columns


def export_rows(query: ListQuery, columns: list[Column]):
    """The rows of the whole filtered list (every page), in the list's order, read in
    batches as they are written."""
    today = clock.district_today()
    keys = [column.key for column in columns]
    yes, no = _("Yes"), _("No")
    # Labels in the user's language, translated once per file rather than once per row.
    statuses = {key: str(label) for key, label in INSPECTION_STATUS_LABELS.items()}
    results = {key: str(label) for key, label in RESULT_LABELS.items()}
    kinds: dict[str, str] = {}
    for part in list_parts(inspection_query(current_user, query.filters), query.sort):
        rows = db.session.execute(
            part.add_columns(Asset.code, Asset.kind, Asset.name, Grid.code, Contractor.name)
            .join(Asset, Asset.id == Inspection.asset_id)
            .outerjoin(Grid, Grid.id == Asset.grid_id)
            .join(Contractor, Contractor.id == Inspection.contractor_id)
            .execution_options(yield_per=EXPORT_BATCH)
        )
        for inspection, code, kind_name, name, grid, contractor in rows:
            if kind_name not in kinds:
                kind = kind_named(kind_name)
                kinds[kind_name] = str(kind.label) if kind is not None else kind_name
            status = derived_status(inspection, today)
            values = {
                "due_on": inspection.due_on,
                "asset": code,
                "kind": kinds[kind_name],
                "name": name,
                "grid": grid,
                "contractor": contractor,
                "status": statuses.get(status, status),
                "completed_at": local_time_text(inspection.completed_at),
                "result": results.get(inspection.result, inspection.result or ""),
                "flagged": yes if inspection.flagged else no,
                "notes": inspection.notes,
            }
            yield [values[key] for key in keys]


@bp.get("/export.csv", defaults={"fmt": "csv"})
@bp.get("/export.xlsx", defaults={"fmt": "xlsx"})
def inspection_export(fmt: str):
    query = list_query_from_request()
    if fmt == "xlsx":
        listed = inspection_query(current_user, query.filters)
        refuse_too_many_rows_for_xlsx(
            listed.with_only_columns(Inspection.id, maintain_column_froms=True)
        )
    columns = export_columns()
    return export_response(
        fmt, "inspections", _("Inspections"), columns, lambda: export_rows(query, columns)
    )


# One inspection


def inspection_or_404(inspection_id: int) -> Inspection:
    inspection = inspection_for(inspection_id, current_user)
    if inspection is None:
        abort(404, description=_("No such inspection."))
    return inspection


def answer_rows(inspection: Inspection) -> list[tuple[str, str, str | None]]:
    """(key, label, answer) for the checklist in force, then any other answered key."""
    answers = inspection.answers or {}
    rows = [
        (item.key, str(item.label), answers.get(item.key)) for item in checklist_for(inspection)
    ]
    shown = {key for key, _label, _answer in rows}
    rows += [(key, key, answer) for key, answer in answers.items() if key not in shown]
    return rows


def render_detail(inspection: Inspection, status: int = 200, cancel_form: CancelForm | None = None):
    return (
        render_template(
            "inspections/detail.html",
            inspection=inspection,
            answers=answer_rows(inspection),
            hazard=hazard_opened_by(inspection.id, current_user),
            cancel_form=cancel_form or CancelForm(formdata=None),
            flag_distance=current_app.config["INSPECTION_FLAG_DISTANCE_M"],
        ),
        status,
    )


@bp.get("/<int:id>")
def inspection_detail(id: int):
    return render_detail(inspection_or_404(id))


# Logging


def local_now_text() -> str:
    """Now in the district's time zone, as a ``datetime-local`` input value."""
    return clock.now_utc().astimezone(district_zone()).strftime("%Y-%m-%dT%H:%M")


def render_log_form(inspection: Inspection, form: InspectionLogForm, errors=None, status=200):
    errors = errors or {}
    item_errors = {
        item_field_name(key.removeprefix("answers.")): message
        for key, message in errors.items()
        if key.startswith("answers.")
    }
    asset_longitude, asset_latitude = asset_point(inspection.asset_id)
    return (
        render_template(
            "inspections/log.html",
            inspection=inspection,
            form=form,
            errors=errors,
            item_errors=item_errors,
            asset_longitude=asset_longitude,
            asset_latitude=asset_latitude,
            flag_distance=current_app.config["INSPECTION_FLAG_DISTANCE_M"],
            photo_max_bytes=current_app.config["PHOTO_MAX_BYTES"],
            photo_max_edge=PHOTO_MAX_EDGE,
            timezone=current_app.config["TIMEZONE"],
        ),
        status,
    )


@bp.route("/<int:id>/log", methods=["GET", "POST"])
def inspection_log(id: int):
    inspection = inspection_or_404(id)
    form = log_form_for(checklist_for(inspection))
    posted_key = (form.idempotency_key.data or "").strip() or None
    replay = request.method == "POST" and replays(inspection, posted_key)
    if inspection.status != InspectionStatus.SCHEDULED and not replay:
        message = (
            _("This inspection has been completed already.")
            if inspection.status == InspectionStatus.COMPLETED
            else _("This inspection was cancelled; no result can be logged.")
        )
        if request.method == "POST":
            flash(message, "error")
            return render_detail(inspection, 409)
        flash(message, "info")
        return redirect(url_for("inspections.inspection_detail", id=inspection.id))
    if request.method == "GET":
        form.completed_at.data = local_now_text()
        form.idempotency_key.data = new_idempotency_key()
        return render_log_form(inspection, form)
    if not form.validate_on_submit():
        return render_log_form(inspection, form, status=400)

    def refused(error: Refusal, status: int):
        """Bad input: the form again, 422; completed or cancelled meanwhile: the detail, 409."""
        if isinstance(error, ValidationError):
            return render_log_form(inspection, form, error.errors, 422)
        flash(str(error), "error")
        return render_detail(inspection, status)

    on_refused(refused)
    try:
        record_result(
            inspection,
            current_user._get_current_object(),
            form.values(),
            request.files.getlist(form.photos.name),
        )
    except InspectionNotFoundError:
        abort(404)
    db.session.commit()
    # A replay (the same form posted twice) answers as the first post did.
    if inspection.flagged:
        flash(
            _(
                "Result saved. You were %(m)s m from the asset: the record is flagged for review.",
                m=round(inspection.distance_m),
            ),
            "info",
        )
    else:
        flash(_("Result saved."), "success")
    hazard = hazard_opened_by(inspection.id, current_user)
    if hazard is not None:
        flash(hazard_opened_message(hazard), "info")
    return redirect(url_for("inspections.inspection_detail", id=inspection.id))


# Offline


@bp.get("/offline.json")
def offline_list():
    """What the service worker keeps for this user (the dashboard, the list, the logging form
    of each inspection due within a week), and a fresh CSRF token for sending the outbox."""
    inspections = offline_inspections(current_user)
    pages = [url_for("dashboard.index"), url_for("inspections.inspection_list")]
    pages += [url_for("inspections.inspection_log", id=inspection.id) for inspection in inspections]
    response = current_app.json.response(
        {
            "user": current_user.id,
            "csrf_token": generate_csrf(),
            "pages": pages,
            "inspections": [
                {
                    "id": inspection.id,
                    "asset": inspection.asset.code,
                    "due_on": inspection.due_on.isoformat(),
                }
                for inspection in inspections
            ],
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def hazard_opened_message(hazard: Hazard) -> Markup:
    """The confirmation's line naming the hazard a failure opened, its code (escaped) linked
    to the hazard's page."""
    link = Markup('<a href="{url}" id="opened-hazard">{code}</a>').format(
        url=url_for("hazards.hazard_detail", code=hazard.code), code=hazard.code
    )
    text = _("The failure opened hazard %(code)s; follow its rectification there.")
    return escape(text) % {"code": link}


# Photos


@bp.get("/photos/<int:photo_id>")
def inspection_photo(photo_id: int):
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.inspection_id is None:
        abort(404)
    if inspection_for(photo.inspection_id, current_user) is None:
        abort(404)
    path = photo_path(photo)
    if not path.is_file():
        abort(404)
    # Read whole (at most PHOTO_MAX_BYTES), as the hazard photos are: no file handle is left to
    # the WSGI server, which leaked it when a browser dropped a lazily loaded image.
    response = current_app.response_class(path.read_bytes(), mimetype=photo.content_type)
    response.set_etag(photo.stored_name)  # a stored file never changes
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    response.cache_control.max_age = PHOTO_MAX_AGE
    return response.make_conditional(request)


# Cancelling


@bp.post("/<int:id>/cancel")
@staff_required
def inspection_cancel(id: int):
    inspection = inspection_or_404(id)
    form = CancelForm()
    if not form.validate_on_submit():
        return render_detail(inspection, 400, form)

    def refused(error: Refusal, status: int):
        """No reason: the form again, 422; completed or cancelled meanwhile: 409."""
        if isinstance(error, ValidationError):
            form.reason.errors = [error.errors["reason"]]
            return render_detail(inspection, 422, form)
        flash(str(error), "error")
        return render_detail(inspection, status)

    on_refused(refused)
    cancel_inspection(inspection, current_user._get_current_object(), form.reason.data)
    db.session.commit()
    flash(_("Inspection cancelled."), "success")
    return redirect(url_for("inspections.inspection_detail", id=inspection.id))


# The inspection a hazard came from, on the hazard page (a template global, registered in
# ``inspections.init_app``: the hazards package does not import inspections)


def inspection_reference(inspection_id: int, user) -> Markup:
    """A link to the inspection for a user who may see it; its number alone for anyone else."""
    inspection = inspection_for(inspection_id, user)
    return Markup(  # noqa: S704  (rendered by an autoescaping template)
        render_template(
            "inspections/_reference.html",
            inspection=inspection,
            inspection_id=inspection_id,
            result_labels=RESULT_LABELS,
        )
    )


# The QR label's landing page


@bp.get("/asset/<code>/next", endpoint="log_for_asset")
def log_for_asset(code: str):
    """The logging form of the asset's next scheduled inspection this user sees (an asset
    the user may not see is a 404, as for an unknown code)."""
    asset = db.session.scalar(
        visible(current_user, Asset).where(Asset.code == code.strip().upper())
    )
    if asset is None:
        abort(404, description=_("No asset has the code %(code)s.", code=code))
    inspection = next_inspection_of(asset, current_user)
    if inspection is None:
        flash(_("No inspection of %(code)s is due for you.", code=asset.code), "info")
        return redirect(url_for("assets.asset_detail", code=asset.code))
    return redirect(url_for("inspections.inspection_log", id=inspection.id))


# The asset page's inspections card (registered in ``inspections.init_app``)

ASSET_INSPECTIONS_LIMIT = 20


def asset_inspections(asset: Asset, user) -> list[Inspection]:
    """The asset's latest inspections ``user`` may see, newest due date first."""
    query = (
        visible(user, Inspection)
        .where(Inspection.asset_id == asset.id)
        .options(selectinload(Inspection.contractor), selectinload(Inspection.inspector))
        .order_by(Inspection.due_on.desc(), Inspection.id.desc())
        .limit(ASSET_INSPECTIONS_LIMIT)
    )
    return list(db.session.scalars(query))


def asset_inspections_card(asset: Asset, user) -> str:
    return render_template(
        "inspections/_asset_inspections.html",
        inspections=asset_inspections(asset, user),
        today=clock.district_today(),
        derived_status=derived_status,
    )


# The QR label's public notice (registered in ``inspections.init_app``)


def contractor_notice(contractor: Contractor) -> str:
    if contractor.contact_phone:
        return f"{contractor.name} ({contractor.contact_phone})"
    return contractor.name


def label_notice_lines(assets: Sequence[Asset]) -> dict[int, list[NoticeLine]]:
    """The contractor responsible for each asset and its last and next inspection dates."""
    summaries = inspection_summaries([asset.id for asset in assets])
    lines: dict[int, list[NoticeLine]] = {}
    for asset in assets:
        summary = summaries.get(asset.id, InspectionSummary())
        last, upcoming = summary.last_inspected_on, summary.next_due_on
        lines[asset.id] = [
            NoticeLine(
                "contractor",
                _("Contractor"),
                ", ".join(contractor_notice(c) for c in summary.contractors) or "—",
            ),
            NoticeLine("last_inspected", _("Last inspected"), last.isoformat() if last else "—"),
            NoticeLine(
                "next_due", _("Next inspection due"), upcoming.isoformat() if upcoming else "—"
            ),
        ]
    return lines
