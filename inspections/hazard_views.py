"""Hazard register pages: list, detail, report, status steps and photos."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("hazards", __name__, url_prefix="/hazards", template_folder="templates")


@bp.get("/")
def hazard_list():
    return render_template("hazards/list.html")
