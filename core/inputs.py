"""Input no view should see, refused before any view runs, and the bounds every input shares.

- Ids in URLs (``<int:…>``) are whole numbers from 1 to ``MAX_ID`` (PostgreSQL's ``integer``;
  SQLite's reach 2**63 - 1): a larger one is looked up as 0, which nothing has (404), instead
  of overflowing the database's integer (a 500 on PostGIS at 2**31, on SQLite at 2**63).
  Ids in query strings and forms go through ``id_or_none``; page numbers stop at ``MAX_PAGE``.
- A NUL byte or a lone surrogate (``\\ud800``) in the path, the query string, a form, a file
  name, a header or a JSON body is a 400: PostgreSQL refuses NUL in text and no driver can
  encode a lone surrogate, so either would otherwise end in a 500.
- JSON nested deeper than ``MAX_JSON_DEPTH`` is a 400, measured on the raw bytes before it is
  parsed (Python's parser recurses: 100,000 levels exhaust the stack).
- Dates people enter (found, due, completed, installed) lie within ``EARLIEST_DATE`` …
  ``LATEST_DATE``: year 1 is a typo, and made hazard codes like ``HZ-1-0001``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from flask import Flask, abort, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000
MAX_JSON_DEPTH = 64
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


class IdConverter(IntegerConverter):
    """``<int:id>``: an id past the database's integer becomes 0, which names nothing, so the
    view answers 404 as for any unknown id (werkzeug's own bound would refuse the match and
    answer 405 when the address takes another method). ``min``/``max`` document the range."""

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_ID)):
            return 0
        number = int(value)
        return number if number <= MAX_ID else 0


def id_or_none(raw: Any) -> int | None:
    """An id from a query string or form (text or number): None unless 1 … MAX_ID."""
    text = str(raw).strip() if raw is not None else ""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def date_in_range(value: date) -> bool:
    return EARLIEST_DATE <= value <= LATEST_DATE


def date_range_message() -> str:
    return _(
        "Must be between %(first)s and %(last)s.",
        first=EARLIEST_DATE.isoformat(),
        last=LATEST_DATE.isoformat(),
    )


def unencodable(text: str) -> bool:
    """NUL, or a lone surrogate (text no database driver can encode)."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """Whether ``raw`` JSON nests arrays/objects deeper than ``limit`` (brackets inside strings
    do not count). One pass over the bytes, no parsing."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def _texts_in(value: Any) -> Iterable[str]:
    """Every string in a parsed JSON value, keys included (iteratively: depth is bounded)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, member in item.items():
                yield key
                stack.append(member)
        elif isinstance(item, list):
            stack.extend(item)


def reads_its_own_body(view):
    """Marks a view that sets its own body limit before reading its form (an import of a
    whole inventory): the guard leaves its multipart body unread, or it would be read under
    the app's limit first."""
    view.reads_its_own_body = True
    return view


def refuse(text) -> None:
    abort(400, description=str(text))


def refuse_unreadable_input() -> None:
    """Before every request: the checks in the module's docstring."""
    # Lazy: the request's language is decided once, and only after the user is known.
    bad_text = _l("The request contains a NUL character or an unpaired surrogate.")
    if unencodable(request.path) or unencodable(request.query_string.decode("latin-1")):
        refuse(bad_text)
    for key, value in request.args.items(multi=True):
        if unencodable(key) or unencodable(value):
            refuse(bad_text)
    for key, value in request.headers.items():
        if unencodable(key) or unencodable(value):
            refuse(bad_text)
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    if request.is_json:
        raw = request.get_data(cache=True)
        if json_depth_exceeds(raw, MAX_JSON_DEPTH):
            refuse(_("The JSON is nested too deeply (at most %(n)s levels).", n=MAX_JSON_DEPTH))
        parsed = request.get_json(silent=True)
        if any(unencodable(text) for text in _texts_in(parsed)):
            refuse(bad_text)
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if request.mimetype == "multipart/form-data" and getattr(view, "reads_its_own_body", False):
        return
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for key, value in request.form.items(multi=True):
            if unencodable(key) or unencodable(value):
                refuse(bad_text)
        for key, upload in request.files.items(multi=True):
            if unencodable(key) or unencodable(upload.filename or ""):
                refuse(bad_text)


def init_app(app: Flask) -> None:
    """Before any route is added: ``<int:…>`` is bounded. Before every request: the guard."""
    app.url_map.converters["int"] = IdConverter
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unreadable_input)
