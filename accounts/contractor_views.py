"""Contractor pages for administrators: companies, their contacts, dates and users."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("contractors", __name__, url_prefix="/contractors", template_folder="templates")
