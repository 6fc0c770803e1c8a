"""Reading the list pages' query strings: a value that cannot be what it names is a 400."""

from __future__ import annotations

from collections.abc import Container
from datetime import date

from flask import abort, request
from flask_babel import gettext as _

from core.inputs import MAX_PAGE


def positive_int_arg(name: str, default: int, maximum: int = MAX_PAGE) -> int:
    """A whole number from 1 to ``maximum`` (past it, OFFSETs overflow the database's
    integers: ``page=10**20`` was a 500)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        abort(400, description=_("%(name)s must be a whole number of 1 or more.", name=name))
    if len(raw) > len(str(maximum)) or int(raw) > maximum:
        abort(400, description=_("%(name)s must be at most %(n)s.", name=name, n=maximum))
    return int(raw)


def date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, description=_("%(name)s is not a date (YYYY-MM-DD).", name=name))


def choice_arg(name: str, allowed: Container[str]) -> str | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if raw not in allowed:
        abort(400, description=_("Unknown value for %(name)s.", name=name))
    return raw
