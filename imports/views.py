"""The Imports page (administrators): upload a file of grids, sites or assets, see every bad
row with its reason, and write only on confirmation. The checks are the importers' own, the
same the command line runs (core.importing)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.auth import roles_required
from core.importing import (
    PLACE_LABELS,
    SUMMARY_LABELS,
    ImportCheck,
    Importer,
    ImportFileProblem,
    importer_named,
    importers,
)
from core.inputs import reads_its_own_body
from imports.uploads import Upload, discard, extension_of, save_upload, upload_for

bp = Blueprint("imports", __name__, template_folder="templates", url_prefix="/imports")


def run_check(importer: Importer, upload: Upload, apply: bool = False) -> ImportCheck:
    step = importer.apply if apply else importer.check
    try:
        return step(upload.path, dict(upload.options))
    except ImportFileProblem as error:
        return ImportCheck(kind=importer.name, problems=[error.problem])


def render_index(errors: dict[str, str] | None = None, chosen: str | None = None, status=200):
    return (
        render_template(
            "imports/index.html", importers=importers(), errors=errors or {}, chosen=chosen
        ),
        status,
    )


def render_preview(importer: Importer, upload: Upload, check: ImportCheck, status: int = 200):
    return (
        render_template(
            "imports/preview.html",
            importer=importer,
            upload=upload,
            check=check,
            place_labels=PLACE_LABELS,
            summary_labels=SUMMARY_LABELS,
        ),
        status,
    )


@bp.get("/")
@roles_required("admin")
def index():
    return render_index()


@bp.post("/")
@roles_required("admin")
@reads_its_own_body
def upload_file():
    request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
    importer = importer_named(request.form.get("importer", ""))
    if importer is None:
        return render_index({"importer": _("Choose what the file holds.")}, status=400)
    file = request.files.get("file")
    if file is None or not file.filename:
        return render_index({"file": _("Choose a file to upload.")}, importer.name, 400)
    extension = extension_of(file.filename)
    if extension not in importer.extensions:
        accepted = ", ".join(importer.extensions)
        message = _("This file type cannot be imported here; use %(types)s.", types=accepted)
        if extension == ".shp":
            message = _(
                "A Shapefile is several files (.shp, .shx, .dbf, .prj): upload them together "
                "as one .zip."
            )
        return render_index({"file": message}, importer.name, 400)
    options = {
        option.name: value
        for option in importer.options
        if (value := request.form.get(f"{importer.name}-{option.name}", "").strip())
    }
    upload = save_upload(file, importer.name, options, current_user.id)
    check = run_check(importer, upload)
    if not check.ok:
        discard(upload)
        return render_preview(importer, upload, check, 422)
    upload.remember_check(check)
    return redirect(url_for("imports.preview", token=upload.token), 303)


def own_upload(token: str) -> tuple[Importer, Upload]:
    upload = upload_for(token, current_user.id)
    importer = importer_named(upload.importer) if upload else None
    if upload is None or importer is None:
        abort(404, description=_("No such upload: it was imported, cancelled or has expired."))
    return importer, upload


@bp.get("/<token>")
@roles_required("admin")
def preview(token: str):
    importer, upload = own_upload(token)
    return render_preview(importer, upload, upload.remembered_check())


@bp.post("/<token>/apply")
@roles_required("admin")
def apply(token: str):
    importer, upload = own_upload(token)
    check = run_check(importer, upload, apply=True)
    if not check.ok:
        # The database changed since the check (another import, a new asset): nothing written.
        upload.remember_check(check)
        return render_preview(importer, upload, check, 409)
    discard(upload)
    flash(
        _(
            "%(what)s imported from %(file)s: %(count)s.",
            what=importer.label,
            file=upload.filename,
            count=check.count,
        ),
        "success",
    )
    return redirect(url_for("imports.index"), 303)


@bp.post("/<token>/cancel")
@roles_required("admin")
def cancel(token: str):
    _importer, upload = own_upload(token)
    discard(upload)
    flash(_("Nothing was imported from %(file)s.", file=upload.filename), "success")
    return redirect(url_for("imports.index"), 303)
