"""Reading the list pages' query strings: a value that cannot be what it names is a 400."""

from __future__ import annotations

from collections.abc import Container
from datetime import date

from flask import abort, request
from flask_babel import gettext as _


def positive_int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        abort(400, description=_("%(name)s must be a whole number of 1 or more.", name=name))
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
