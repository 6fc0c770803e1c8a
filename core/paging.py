"""Paging of the lists: the page and its size from the query string, one page of a query,
and the API's paging (its arguments, the count, the members every page carries)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, request, url_for
from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute

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
    # False when counting stopped at a cap: more than ``total`` rows (``pages`` pages) match.
    exact: bool = True


def page_of(query: Select, page: int, per_page: int) -> ListPage:
    """Page ``page`` of ``query``'s entities (flask-sqlalchemy's paginate: count, then one
    page with LIMIT/OFFSET)."""
    pagination = db.paginate(
        query, page=page, per_page=per_page, max_per_page=per_page, error_out=False
    )
    return ListPage(list(pagination.items), pagination.total or 0, max(1, pagination.pages))


def page_of_parts(
    parts: Sequence[Select],
    key: InstrumentedAttribute,
    page: int,
    per_page: int,
    options: tuple = (),
    count_up_to: int | None = None,
) -> ListPage:
    """Page ``page`` of the rows of ``parts`` listed one after the other: disjoint queries of
    one entity, each in its own order (say the open inspections by due date, then the closed
    ones newest first). ``key`` is the entity's unique column (``Inspection.id``); ``options``
    load the page's entities.

    The parts are counted, the page's keys are taken from the parts it spans (LIMIT/OFFSET on
    narrow rows, in an order an index can give), then the page's entities are loaded by key.
    One ORDER BY expression ranking open before closed would instead sort every matching row:
    measured on one contractor's 80k inspections (SQLite), 130 ms for the first page, against
    25 ms for the plain due-date order (bench/bench_inspections.py has the figures).

    ``count_up_to`` (``LIST_COUNT_CAP``): count that many rows, or up to the end of this page
    if that is further, and one more; when that one exists the page is not ``exact``: more
    than ``total`` rows and more than ``pages`` pages match, and a next page exists. Counting
    a province's ten million inspections cost more than the page itself.
    """
    offset = (page - 1) * per_page
    limit = None if count_up_to is None else max(count_up_to, offset + per_page) + 1
    keys: list[Any] = []
    total = 0
    for part in parts:
        if limit is not None and total >= limit:
            break
        # Capped, in the part's order: a LIMIT without it tempted PostgreSQL into a seq scan.
        counted = part.with_only_columns(key)
        counted = counted.order_by(None) if limit is None else counted.limit(limit - total)
        count = db.session.scalar(select(func.count()).select_from(counted.subquery())) or 0
        start = max(0, offset - total)  # this part's rows before the page
        if len(keys) < per_page and start < count:
            window = part.with_only_columns(key).limit(per_page - len(keys)).offset(start)
            keys += db.session.scalars(window)
        total += count
    items: list[Any] = []
    if keys:
        entity = key.class_  # the keys came from the parts: no filter is needed again
        loaded = db.session.scalars(select(entity).where(key.in_(keys)).options(*options))
        position = {value: index for index, value in enumerate(keys)}
        items = sorted(loaded, key=lambda row: position[getattr(row, key.key)])
    if limit is not None and total >= limit:  # more than limit - 1: whole pages of them
        return ListPage(items, limit - 1, (limit - 1) // per_page, exact=False)
    return ListPage(items, total, max(1, -(-total // per_page)))


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


def api_page_args(args: dict[str, Any]) -> tuple[int, int]:
    """Take ``page`` and ``per_page`` (default ``API_PAGE_SIZE``) out of an API list's
    validated arguments (``core.api.PageQuerySchema``)."""
    page = args.pop("page")
    return page, args.pop("per_page", None) or current_app.config["API_PAGE_SIZE"]


def matched_count(page: int, per_page: int, returned: int, count: Callable[[], int]) -> int:
    """How many rows match: on the last page (fewer rows than a page, or an empty first page)
    the rows before it plus this page's; otherwise ``count()`` asks the database."""
    if returned and returned < per_page or page == 1 and not returned:
        return (page - 1) * per_page + returned
    return count()


def api_page_members(page: int, per_page: int, matched: int, returned: int) -> dict[str, Any]:
    """What every page of an API list carries (OGC API - Features spelling)."""
    return {
        "numberMatched": matched,
        "numberReturned": returned,
        "page": page,
        "per_page": per_page,
        "links": page_links(page, per_page, matched),
    }
