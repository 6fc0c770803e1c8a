"""Inspection pages: the list, the detail, and the contractor's logging form."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("inspections", __name__, url_prefix="/inspections", template_folder="templates")


@bp.get("/")
def inspection_list():
    return render_template("inspections/list.html")
