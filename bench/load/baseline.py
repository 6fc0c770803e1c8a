"""The physical limit of the bbox API: a WSGI app without Flask, SQLAlchemy or login.

Its one endpoint, ``GET /api/v1/assets?bbox=…[&page=…][&per_page=…]``, runs the statements
the app runs for that request (captured by ``bench/bench_load.py`` from the app's own
cursor: the page's SELECT, a page and one more row, and the count up to the app's
``LIST_COUNT_CAP`` when that row exists; ``core.paging.page_by_one_more``) through one psycopg
connection per worker, and writes the body the app writes, byte for byte: the features as
the database made them, the paging members, the self/next/prev links (werkzeug's encoding).
No token is checked, no security header is added: what is left is the database, the JSON
and gunicorn.

Served by gunicorn with the app's settings: ``BASELINE_SPEC=spec.json gunicorn -w 2
--pythonpath bench/load baseline:application``. The spec holds the connection string (libpq
form), both statements in psycopg's ``%(name)s`` style, their parameters, which
parameters are the request's (``min_lon``…, ``limit``, ``offset``, the count's ``count``),
and the app's ``count_cap``.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
import psycopg

GEOJSON = "application/geo+json"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
# werkzeug's query encoding (werkzeug.urls._urlencode), so the links are the app's bytes.
URL_SAFE = "!$'()*,/:;?@"

_spec: dict[str, Any] | None = None
_connection: psycopg.Connection | None = None


def spec() -> dict[str, Any]:
    global _spec
    if _spec is None:
        with open(os.environ["BASELINE_SPEC"], encoding="utf-8") as file:
            _spec = json.load(file)
    return _spec


def connection() -> psycopg.Connection:
    """One connection per worker process, opened at its first request."""
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(spec()["dsn"], autocommit=True)
    return _connection


def parameters(statement: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The captured parameters with the request's values put in by role."""
    bound = dict(statement["params"])
    for name, role in statement["roles"].items():
        bound[name] = values[role]
    return bound


def bad_request(start_response, message: str) -> list[bytes]:
    body = orjson.dumps({"code": 422, "status": "Unprocessable Entity", "message": message})
    start_response("422 Unprocessable Entity", [("Content-Type", "application/json")])
    return [body]


def links(
    base: str,
    args: list[tuple[str, str]],
    page: int,
    per_page: int,
    matched: int | None,
    more: bool,
):
    """``core.paging.page_links``: the request's arguments with page and per_page updated."""
    query: dict[str, str] = {}
    for key, value in args:
        query.setdefault(key, value)

    def href(number: int) -> str:
        query.update(page=str(number), per_page=str(per_page))
        return f"{base}?{urlencode(query, safe=URL_SAFE)}"

    result = [{"rel": "self", "href": href(page)}]
    if more:
        result.append({"rel": "next", "href": href(page + 1)})
    if page > 1:
        last = page - 1 if matched is None else max(1, -(-matched // per_page))
        result.append({"rel": "prev", "href": href(min(page - 1, last))})
    return result


def assets_page(environ, start_response) -> list[bytes]:
    args = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    found = dict(args)
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in found["bbox"].split(","))
        page = int(found.get("page", 1))
        per_page = min(int(found.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
    except (KeyError, ValueError):
        return bad_request(start_response, "bbox=minLon,minLat,maxLon,maxLat is required.")
    offset = (page - 1) * per_page
    values = {
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
        "limit": per_page + 1,  # one more: is there a next page?
        "offset": offset,
    }
    plan = spec()
    cap = plan["count_cap"]

    def count_up_to(cursor, limit: int) -> int:
        cursor.execute(plan["count"]["sql"], parameters(plan["count"], {**values, "count": limit}))
        return cursor.fetchone()[0]

    # core.paging.page_by_one_more: counted up to the cap, unless the page tells.
    with connection().cursor() as cursor:
        cursor.execute(plan["page"]["sql"], parameters(plan["page"], values))
        rows = cursor.fetchall()
        more = len(rows) > per_page
        rows = rows[:per_page]
        if not more and (rows or page == 1):
            matched = offset + len(rows)
        elif not more:
            matched = count_up_to(cursor, offset)
        elif offset + per_page < cap:
            matched = count_up_to(cursor, cap + 1)
            matched = matched if matched <= cap else None
        else:
            matched = None
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    base = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('PATH_INFO', '')}"
    counted = {} if matched is None else {"numberMatched": matched}
    body = orjson.dumps(
        {
            "type": "FeatureCollection",
            "features": orjson.Fragment("[" + ",".join(row[0] for row in rows) + "]"),
            **counted,
            "numberReturned": len(rows),
            "page": page,
            "per_page": per_page,
            "links": links(base, args, page, per_page, matched, more),
        }
    )
    start_response("200 OK", [("Content-Type", GEOJSON), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response) -> list[bytes]:
    if environ.get("PATH_INFO") == "/api/v1/assets" and environ["REQUEST_METHOD"] == "GET":
        return assets_page(environ, start_response)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]
