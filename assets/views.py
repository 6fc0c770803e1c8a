"""Asset pages: the dashboard, the filtered list, the detail with its history, and the forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
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
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import selectinload

from accounts.access import audit_actor_clause, visible
from accounts.auth import staff_required
from accounts.scope import requested_grid
from assets import labels
from assets.cli import register_commands
from assets.forms import STATUS_LABELS, AssetForm, attribute_field_name, form_data_for
from assets.kinds import KINDS, AssetKind, kind_named
from assets.models import Asset, Grid, Site
from assets.sections import asset_sections
from assets.services import (
    FIELD_LABELS,
    NO_GRID,
    DuplicateCodeError,
    asset_record,
    create_asset,
    grid_choices,
    in_code_order,
    in_grid,
    named_choices,
    retire_asset,
    text_search,
    update_asset,
)
from core.audit import AuditEntry
from core.errors import Refusal, on_refused
from core.export import Column, export_response, refuse_too_many_rows_for_xlsx
from core.extensions import db
from core.paging import (
    DEFAULT_PER_PAGE,
    count_rows_up_to,
    page_args,
    page_by_one_more,
    page_of,
)

bp = Blueprint("assets", __name__, template_folder="templates", cli_group="assets")
register_commands(bp)

SORT_COLUMNS = {
    "code": Asset.code,
    "name": func.lower(Asset.name),
    "kind": Asset.kind,
    "status": Asset.status,
    "grid": Grid.code,
    "installed_on": Asset.installed_on,
}
FILTER_KEYS = ("kind", "status", "grid", "q", "sort", "per_page")


@bp.app_context_processor
def asset_labels() -> dict[str, Any]:
    return {"kinds": KINDS, "status_labels": STATUS_LABELS, "NO_GRID": NO_GRID}


# The list


@dataclass
class ListQuery:
    kind: str
    status: str
    grid: str
    q: str
    sort: str
    page: int
    per_page: int

    def filters(self) -> dict[str, Any]:
        """The non-empty filters, for links that keep them."""
        values = {key: getattr(self, key) for key in FILTER_KEYS}
        if values["per_page"] == DEFAULT_PER_PAGE:
            values["per_page"] = None
        return {key: value for key, value in values.items() if value}


def list_query_from_request() -> ListQuery:
    sort = request.args.get("sort", "").strip()
    if sort.lstrip("-") not in SORT_COLUMNS:
        sort = "code"
    page, per_page = page_args()
    return ListQuery(
        kind=request.args.get("kind", "").strip(),
        status=request.args.get("status", "").strip(),
        grid=requested_grid(),
        q=request.args.get("q", "").strip(),
        sort=sort,
        page=page,
        per_page=per_page,
    )


def filtered_assets(query: ListQuery):
    """The list's query, for the page and its export: the assets the user may see (a
    contractor, those it inspects) matching the filters."""
    stmt = visible(current_user, Asset).outerjoin(Grid, Asset.grid_id == Grid.id)
    if query.kind:
        stmt = stmt.where(Asset.kind == query.kind)
    if query.status:
        stmt = stmt.where(Asset.status == query.status)
    if query.grid == NO_GRID:
        stmt = stmt.where(Asset.grid_id.is_(None))
    elif query.grid:
        stmt = stmt.where(in_grid(Asset.grid_id, query.grid))
    if query.q:
        stmt = stmt.where(text_search(query.q))
    return stmt


# Sorts by a column no asset leaves empty: no "empty last" term, which would keep an index
# from giving the order (by code, the default, every visible asset was sorted for a page).
NEVER_EMPTY_SORTS = frozenset({"code", "name", "kind", "status"})


def ordering(sort: str) -> list[ColumnElement]:
    """Whitelisted sort, empty values last in both directions, the code breaking ties.

    Each order but the grid's is an index's (``assets.models``, migration 0021), so a page
    reads its rows instead of sorting every asset the user may see. Descending, a sort by a
    column no asset leaves empty is its ascending list reversed, ties by code descending: its
    index read backwards (ties by code ascending would take a second index per sort). The
    installation date keeps ties and empty values by code ascending both ways, from an index
    of its own each way. The grid's code is another table's: no index of the assets holds
    it (a grid's id does not sort like its code), so by grid every visible asset is sorted."""
    name = sort.lstrip("-")
    column = SORT_COLUMNS[name]
    descending = sort.startswith("-")
    if name == "code":
        return [column.desc() if descending else column.asc()]
    if name in NEVER_EMPTY_SORTS:
        if descending:
            return [column.desc(), Asset.code.desc()]
        return [column.asc(), Asset.code.asc()]
    return [column.is_(None), column.desc() if descending else column.asc(), Asset.code.asc()]


def ordered(stmt: Select, sort: str) -> Select:
    """``stmt`` in the list's ``sort``; by code (the default) through ``in_code_order``."""
    if sort.lstrip("-") == "code":
        return in_code_order(stmt, current_user, descending=sort.startswith("-"))
    return stmt.order_by(*ordering(sort))


@bp.get("/assets/")
def asset_list():
    query = list_query_from_request()
    stmt = filtered_assets(query)
    in_order = ordered(stmt, query.sort).options(selectinload(Asset.grid), selectinload(Asset.site))
    listed = page_by_one_more(
        lambda limit, offset: db.session.scalars(in_order.limit(limit).offset(offset)).all(),
        # Counted in any order the database likes. In the list's order, only the default's
        # count came from an index, and more slowly (PostGIS, 300k assets: 34 ms against 3);
        # by name it sorted every asset (610 ms), of the faulty ones it sorted them (135 ms
        # against 9).
        lambda limit: count_rows_up_to(stmt.with_only_columns(Asset.id), limit),
        query.page,
        query.per_page,
        current_app.config["LIST_COUNT_CAP"],
    )
    filters = query.filters()

    def list_url(**changes: Any) -> str:
        return url_for("assets.asset_list", **{**filters, **changes})

    return render_template(
        "assets/list.html",
        assets=listed.items,
        query=query,
        total=listed.total,
        exact=listed.exact,
        pages=listed.pages,
        list_url=list_url,
        grids=grid_choices(query.grid, NO_GRID),
    )


# The export: the whole filtered list in its order, as CSV or a workbook

EXPORT_BATCH = 500
EXPORT_COLUMNS = (
    Column("code", FIELD_LABELS["code"], 12),
    Column("kind", FIELD_LABELS["kind"], 16),
    Column("name", FIELD_LABELS["name"], 28),
    Column("status", FIELD_LABELS["status"], 10),
    Column("grid", FIELD_LABELS["grid"], 10),
    Column("site", FIELD_LABELS["site"], 20),
    Column("address", FIELD_LABELS["address"], 30),
    Column("installed_on", FIELD_LABELS["installed_on"], 12),
    Column("manufacturer", FIELD_LABELS["manufacturer"], 20),
    Column("model", FIELD_LABELS["model"], 14),
    Column("serial_number", FIELD_LABELS["serial_number"], 16),
)


def export_rows(query: ListQuery):
    """The rows of the whole filtered list, in its order, read in batches as they are
    written: only the columns the file shows, as plain values (loading each row as an asset,
    its point and attributes included, cost most of a 1M-asset export's time), kinds and
    statuses translated once per file."""
    columns = (
        filtered_assets(query)
        .with_only_columns(
            Asset.code,
            Asset.kind,
            Asset.name,
            Asset.status,
            Grid.code,
            Site.name,
            Asset.address,
            Asset.installed_on,
            Asset.manufacturer,
            Asset.model,
            Asset.serial_number,
            maintain_column_froms=True,
        )
        .outerjoin(Site, Asset.site_id == Site.id)
    )
    stmt = ordered(columns, query.sort).execution_options(yield_per=EXPORT_BATCH)
    kinds = {name: str(kind.label) for name, kind in KINDS.items()}
    statuses = {status: str(label) for status, label in STATUS_LABELS.items()}
    for code, kind, name, status, *rest in db.session.execute(stmt):
        yield [code, kinds.get(kind, kind), name, statuses.get(status, status), *rest]


@bp.get("/assets/export.csv", defaults={"fmt": "csv"})
@bp.get("/assets/export.xlsx", defaults={"fmt": "xlsx"})
def asset_export(fmt: str):
    query = list_query_from_request()
    if fmt == "xlsx":
        refuse_too_many_rows_for_xlsx(filtered_assets(query).with_only_columns(Asset.id))
    return export_response(fmt, "assets", _("Assets"), EXPORT_COLUMNS, lambda: export_rows(query))


# The detail


def asset_or_404(code: str) -> Asset:
    """The asset with ``code`` if the user may see it (a contractor: one it inspects);
    otherwise 404, as for a code nobody has."""
    asset = db.session.scalar(
        visible(current_user, Asset).where(Asset.code == code.strip().upper())
    )
    if asset is None:
        abort(404, description=_("No asset has the code %(code)s.", code=code))
    return asset


HISTORY_FIELD_LABELS = {**FIELD_LABELS, "attributes": _l("Attributes")}
HISTORY_ACTION_LABELS = {
    "create": _l("Created"),
    "import": _l("Imported"),
    "update": _l("Changed"),
    "retire": _l("Retired"),
    "status": _l("Status changed"),
}


class HistoryLabels:
    """Field, attribute, action and value labels of an asset's history, in the page's language
    (an unknown key, e.g. of a kind removed since, is shown as stored)."""

    def __init__(self, kind: AssetKind | None):
        self.attributes = {field.name: field.label for field in kind.fields} if kind else {}
        self.fields = {field.name: field for field in kind.fields} if kind else {}

    def field(self, key: str) -> str:
        return str(HISTORY_FIELD_LABELS.get(key, key))

    def action(self, action: str) -> str:
        return str(HISTORY_ACTION_LABELS.get(action, action))

    def value(self, key: str, value: Any) -> str:
        if value is None or value == "":
            return "—"
        if value is True:
            return _("Yes")
        if value is False:
            return _("No")
        if key == "status" and value in STATUS_LABELS:
            return str(STATUS_LABELS[value])
        if key == "kind" and value in KINDS:
            return str(KINDS[value].label)
        if isinstance(value, dict):
            return "; ".join(
                f"{self.attributes.get(name, name)}: {self.value(name, item)}"
                for name, item in value.items()
            )
        if key in self.fields:
            return str(self.fields[key].shown(value))
        return str(value)


@dataclass
class HistoryRow:
    entry: AuditEntry
    action: str
    changes: list[tuple[str, str, str]]


def asset_history(code: str, kind: AssetKind | None = None) -> list[HistoryRow]:
    """The asset's audit entries the user may read (a contractor: its own company's,
    ``accounts.access.audit_actor_clause``), the newest first."""
    entries = db.session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.entity_type == "asset",
            AuditEntry.entity_key == code,
            audit_actor_clause(current_user),
        )
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    ).all()
    labels = HistoryLabels(kind)
    rows = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        keys = list(dict.fromkeys([*before, *after]))
        changes = [
            (
                labels.field(key),
                labels.value(key, before.get(key)),
                labels.value(key, after.get(key)),
            )
            for key in keys
        ]
        rows.append(HistoryRow(entry, labels.action(entry.action), changes))
    return rows


@bp.get("/assets/<code>")
def asset_detail(code: str):
    asset = asset_or_404(code)
    point = to_shape(asset.location)
    kind = kind_named(asset.kind)
    attributes = asset.attributes or {}
    if kind is not None:
        shown = [(field.label, field.shown(attributes.get(field.name))) for field in kind.fields]
    else:
        shown = list(attributes.items())
    return render_template(
        "assets/detail.html",
        asset=asset,
        kind=kind,
        longitude=point.x,
        latitude=point.y,
        attributes=shown,
        history=asset_history(asset.code, kind),
        sections=asset_sections(asset, current_user),
    )


# QR labels (staff print them; a contractor scanning one lands on the logging form)

MAX_LABELS = 1000


@bp.get("/assets/<code>/label")
@staff_required
def asset_label(code: str):
    asset = asset_or_404(code)
    with_notice = request.args.get("notice") == "1"
    return render_template(
        "assets/label.html",
        assets=[asset],
        with_notice=with_notice,
        labels_page=labels.label_page([asset], with_notice),
        label_svg=labels.label_svg_inline,
        label_url=labels.label_url,
    )


@bp.get("/assets/<code>/label.svg")
@staff_required
def asset_label_svg(code: str):
    asset = asset_or_404(code)
    return Response(labels.label_svg(asset.code), mimetype="image/svg+xml")


@bp.get("/assets/<code>/label.png")
@staff_required
def asset_label_png(code: str):
    asset = asset_or_404(code)
    return Response(labels.label_png(asset.code), mimetype="image/png")


@bp.get("/assets/labels")
@staff_required
def asset_label_sheet():
    """A sheet of labels for the assets of one kind and/or grid (retired assets left out)."""
    query = ListQuery(
        kind=request.args.get("kind", "").strip(),
        status="",
        grid=request.args.get("grid", "").strip(),
        q="",
        sort="code",
        page=1,
        per_page=MAX_LABELS,
    )
    stmt = filtered_assets(query).where(Asset.status != "retired").order_by(Asset.code)
    listed = page_of(stmt, 1, MAX_LABELS)
    with_notice = request.args.get("notice") == "1"
    return render_template(
        "assets/labels.html",
        assets=listed.items,
        with_notice=with_notice,
        labels_page=labels.label_page(listed.items, with_notice),
        total=listed.total,
        query=query,
        max_labels=MAX_LABELS,
        grids=grid_choices(query.grid, NO_GRID),
        label_svg=labels.label_svg_inline,
        label_url=labels.label_url,
    )


# The forms


def site_names() -> list[str]:
    """The names the site field suggests: every site's, none past ``FORM_SELECT_LIMIT``
    sites (the name is then typed in full; the service refuses a name no site has)."""
    return [name for _site_id, name in named_choices(Site).choices]


def field_errors(messages: dict[str, list[str]]) -> dict[str, list[str]]:
    """Service error keys as form field names ("attributes.ports" → "attr_ports")."""
    by_field: dict[str, list[str]] = {}
    for key, texts in messages.items():
        name = key
        if key.startswith("attributes."):
            name = attribute_field_name(key.removeprefix("attributes."))
        by_field.setdefault(name, []).extend(texts)
    return by_field


def render_form(template: str, form: AssetForm, errors: dict[str, list[str]], status: int, **ctx):
    return (
        render_template(template, form=form, errors=errors, site_names=site_names(), **ctx),
        status,
    )


@bp.route("/assets/new", methods=["GET", "POST"])
@staff_required
def asset_new():
    form = AssetForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_form("assets/form.html", form, field_errors({}), status, asset=None)
    kind = kind_named(form.kind.data or "")
    data = {
        "code": form.code.data,
        "kind": form.kind.data,
        **form.base_values(),
        "attributes": form.attribute_values(kind) if kind else {},
    }

    def refused(error: Refusal, _status: int):
        """Bad input and a taken code alike: the form again, 400."""
        if isinstance(error, DuplicateCodeError):
            errors = {"code": [_("An asset with code %(code)s exists already.", code=error.code)]}
        else:
            errors = field_errors(error.messages())
        return render_form("assets/form.html", form, errors, 400, asset=None)

    on_refused(refused)
    asset = create_asset(data)
    db.session.commit()
    flash(_("Asset %(code)s created.", code=asset.code), "success")
    return redirect(url_for("assets.asset_detail", code=asset.code))


@bp.route("/assets/<code>/edit", methods=["GET", "POST"])
@staff_required
def asset_edit(code: str):
    asset = asset_or_404(code)
    kind = kind_named(asset.kind)
    form = AssetForm(data=form_data_for(asset_record(asset)))
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_form("assets/form.html", form, {}, status, asset=asset, kind=kind)
    changes = {**form.base_values(), "attributes": form.attribute_values(kind) if kind else {}}
    on_refused(
        lambda error, status: render_form(
            "assets/form.html", form, field_errors(error.messages()), status, asset=asset, kind=kind
        )
    )
    update_asset(asset, changes)
    db.session.commit()
    flash(_("Asset %(code)s saved.", code=asset.code), "success")
    return redirect(url_for("assets.asset_detail", code=asset.code))


@bp.post("/assets/<code>/retire")
@staff_required
def asset_retire(code: str):
    asset = asset_or_404(code)
    retire_asset(asset)
    db.session.commit()
    flash(_("Asset %(code)s retired.", code=asset.code), "success")
    return redirect(url_for("assets.asset_detail", code=asset.code))
