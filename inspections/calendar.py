"""Each contractor's private iCalendar feed of its due inspections, behind a revocable token."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("calendar", __name__, url_prefix="/calendar", template_folder="templates")
