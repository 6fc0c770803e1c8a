"""Paging of the lists: the page and its size from the query string, one page of a query,
and the API's page links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from sqlalchemy import Select

from core.args import positive_int_arg
from core.extensions import db

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200


def page_args(default_per_page: int = DEFAULT_PER_PAGE) -> tuple[int, int]:
    """``page`` and ``per_page`` of a list page (a bad value is a 400; at most MAX_PER_PAGE)."""
    per_page = min(positive_int_arg("per_page", default_per_page), MAX_PER_PAGE)
    return positive_int_arg("page", 1), per_page


@dataclass(frozen=True)
class ListPage:
    items: list[Any]
    total: int
    pages: int  # at least 1, so an empty list still has its page


def page_of(query: Select, page: int, per_page: int) -> ListPage:
    """Page ``page`` of ``query``'s entities (flask-sqlalchemy's paginate: count, then one
    page with LIMIT/OFFSET)."""
    pagination = db.paginate(
        query, page=page, per_page=per_page, max_per_page=per_page, error_out=False
    )
    return ListPage(list(pagination.items), pagination.total or 0, max(1, pagination.pages))


def page_links(page: int, per_page: int, matched: int) -> list[dict[str, str]]:
    """The API's self/next/prev links of this request's list, its filters kept."""
    query = request.args.to_dict(flat=False)

    def href(number: int) -> str:
        query.update(page=[str(number)], per_page=[str(per_page)])
        return url_for(request.endpoint, _external=True, **query)

    links = [{"rel": "self", "href": href(page)}]
    if page * per_page < matched:
        links.append({"rel": "next", "href": href(page + 1)})
    if page > 1:
        last = max(1, -(-matched // per_page))
        links.append({"rel": "prev", "href": href(min(page - 1, last))})
    return links
