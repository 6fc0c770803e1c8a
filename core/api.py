"""What every JSON API blueprint shares: token clients without CSRF, session clients with it,
and responses serialised once by orjson."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from flask import Response, current_app, g, request
from flask_smorest import Api, Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates

from core.extensions import csrf
from core.inputs import MAX_PAGE

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
BEARER_CLIENT_MARK = "sar_bearer_client"
GEOJSON = "application/geo+json"
# The most rows a page of an API list has (the document states it; API_MAX_PAGE_SIZE may be
# set lower, never higher).
MAX_PER_PAGE = 1000


def check_page_sizes(config: Mapping[str, Any]) -> None:
    """Refuse page sizes the API document could not state: 1 <= API_PAGE_SIZE <=
    API_MAX_PAGE_SIZE <= MAX_PER_PAGE."""
    default, maximum = config["API_PAGE_SIZE"], config["API_MAX_PAGE_SIZE"]
    if not 1 <= default <= maximum <= MAX_PER_PAGE:
        raise ValueError(
            f"API_PAGE_SIZE ({default}) must be at least 1 and at most API_MAX_PAGE_SIZE"
            f" ({maximum}), and API_MAX_PAGE_SIZE at most {MAX_PER_PAGE}"
        )


class QuerySchema(Schema):
    """Query arguments where an empty value (``?grid=``, as a form with a blank filter sends
    it) is the same as no value."""

    @pre_load
    def drop_empty_values(self, data: Any, **_kwargs) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {
            key: data[key]
            for key in data
            if not (isinstance(data[key], str) and not data[key].strip())
        }


class PageQuerySchema(QuerySchema):
    """``page`` and ``per_page`` of a paginated list (the lists' own filters subclass it)."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(
        validate=validate.Range(min=1, max=MAX_PER_PAGE),
        metadata={"description": "Page size; default API_PAGE_SIZE, at most API_MAX_PAGE_SIZE."},
    )

    @validates("per_page")
    def within_maximum(self, value: int, **_kwargs) -> None:
        maximum = current_app.config["API_MAX_PAGE_SIZE"]
        if value > maximum:
            raise ValidationError(f"Must be at most {maximum}.")


class LinkSchema(Schema):
    rel = fields.String(metadata={"enum": ["self", "next", "prev"]})
    href = fields.String()


class PagedSchema(Schema):
    """The members every page of an API list carries (``core.paging.api_page_members``)."""

    # OGC API - Features spelling; numberMatched is optional there ("a server may omit it
    # when it is costly to compute"), as it is here past LIST_COUNT_CAP.
    numberMatched = fields.Integer(
        metadata={
            "description": "How many items match the filters. Given when it is known exactly: "
            "when at most LIST_COUNT_CAP (default 10,000) match, and on the last page (or an "
            "empty page past it). Omitted on the other pages of a list with more matches, "
            "which is not counted to its end: follow the next links to the last page."
        }
    )
    numberReturned = fields.Integer(metadata={"description": "How many items this page holds."})
    page = fields.Integer()
    per_page = fields.Integer()
    links = fields.List(
        fields.Nested(LinkSchema),
        metadata={
            "description": "self; next when a next page exists (known without counting); prev "
            "on every page after the first (past the last page: the last page)."
        },
    )


def register_token_api(api: Api, blueprint: Blueprint) -> None:
    """Bearer-token clients cannot send a CSRF token; session clients still must
    (``protect_session_writes``, run by the blueprint before each request)."""
    csrf.exempt(blueprint)
    refuse_unknown_query_arguments(blueprint)
    api.register_blueprint(blueprint)


def mark_token_authenticated() -> None:
    """This request's user was found by a valid API token (``accounts.auth``)."""
    setattr(g, BEARER_CLIENT_MARK, True)


def token_authenticated() -> bool:
    return bool(g.get(BEARER_CLIENT_MARK))


def refuse_unknown_query_arguments(blueprint: Blueprint) -> None:
    """A query argument the operation does not take is a 422 naming it (webargs ignores it
    by default): a misspelt filter (``?stauts=``) must not answer everything."""
    parser = blueprint.ARGUMENTS_PARSER
    parser.DEFAULT_UNKNOWN_BY_LOCATION = {
        **parser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "querystring": RAISE,
    }


def protect_session_writes() -> None:
    """CSRF for every write not authenticated by a valid API token (runs after the app's
    login check: 401). An ``Authorization`` header alone proves nothing: a session's cookie
    sending an empty or unknown bearer token still needs its CSRF token."""
    if request.method in READ_METHODS or token_authenticated():
        return
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def json_response(
    body: Any, status: int = 200, headers: dict | None = None, mimetype: str = "application/json"
) -> Response:
    """JSON serialised once (flask-smorest passes a Response through untouched). orjson
    writes dates as YYYY-MM-DD and embeds ``orjson.Fragment`` text as it is."""
    return current_app.response_class(
        orjson.dumps(body), status=status, headers=headers, mimetype=mimetype
    )


def geojson_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return json_response(body, status, headers, mimetype=GEOJSON)
