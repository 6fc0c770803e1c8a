"""Inspection plan pages for administrators: list, create, edit (which regenerates)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("plans", __name__, url_prefix="/plans", template_folder="templates")
