from flask import Blueprint, redirect, request, session, url_for
from sqlalchemy import text

from core.extensions import db
from core.i18n import LANGUAGES, safe_next_url

bp = Blueprint("core", __name__)


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/lang/<code>")
def switch_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next_url(request.args.get("next")) or url_for("dashboard.index"))
