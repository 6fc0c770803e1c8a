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
        part_keys = part.with_only_columns(key)
        if limit is None:
            counted = select(func.count()).select_from(part_keys.order_by(None).subquery())
        else:
            counted = capped_count(part_keys, limit - total)
        count = db.session.scalar(counted) or 0
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


def page_by_one_more(
    read_rows: Callable[[int, int], Sequence[Any]],
    count_rows: Callable[[int], int],
    page: int,
    per_page: int,
    count_up_to: int,
) -> ListPage:
    """Page ``page`` of a list read by ``read_rows(limit, offset)``, one row more than a page:
    that row says whether a next page exists, so the list is counted only when that cannot
    say how many rows match, and then by ``count_rows(limit)`` (the matching rows, at most
    ``limit``) up to ``count_up_to`` and one more, as ``page_of_parts`` counts.

    The last page (and an empty one past it) knows its count exactly, whatever the cap;
    another page of more than ``count_up_to`` matches is not ``exact``: more than ``total``
    rows match, ``pages`` at least, and a next page exists."""
    offset = (page - 1) * per_page
    rows = list(read_rows(per_page + 1, offset))
    items = rows[:per_page]
    if len(rows) <= per_page and (rows or page == 1):  # the last page
        total = offset + len(rows)
    elif not rows:  # past the last page: at most ``offset`` rows match
        total = count_rows(offset)
    else:  # a next page
        seen = offset + per_page  # and at least one more
        counted = count_rows(count_up_to + 1) if seen < count_up_to else seen + 1
        if counted > count_up_to:
            bound = max(count_up_to, seen)
            return ListPage(items, bound, bound // per_page, exact=False)
        total = counted
    return ListPage(items, total, max(1, -(-total // per_page)))


def capped_count(query: Select, limit: int) -> Select:
    """The count of ``query``'s rows, at most ``limit``. The parts of ``page_of_parts`` are
    counted in their order: a LIMIT without it tempted PostgreSQL into a seq scan."""
    return select(func.count()).select_from(query.limit(limit).subquery())


def count_rows_up_to(query: Select, limit: int) -> int:
    return db.session.scalar(capped_count(query, limit)) or 0


def page_links(page: int, per_page: int, listed: ListPage) -> list[dict[str, str]]:
    """The API's self/next/prev links of this request's list, its filters kept; past the last
    page, prev is the last page."""
    query = request.args.to_dict(flat=False)

    def href(number: int) -> str:
        query.update(page=[str(number)], per_page=[str(per_page)])
        return url_for(request.endpoint, _external=True, **query)

    links = [{"rel": "self", "href": href(page)}]
    if not listed.exact or page * per_page < listed.total:
        links.append({"rel": "next", "href": href(page + 1)})
    if page > 1:
        links.append({"rel": "prev", "href": href(min(page - 1, listed.pages))})
    return links


def api_page_args(args: dict[str, Any]) -> tuple[int, int]:
    """Take ``page`` and ``per_page`` (default ``API_PAGE_SIZE``) out of an API list's
    validated arguments (``core.api.PageQuerySchema``)."""
    page = args.pop("page")
    return page, args.pop("per_page", None) or current_app.config["API_PAGE_SIZE"]


def api_count_cap() -> int:
    """The API lists count their matches up to ``LIST_COUNT_CAP``, as the list pages do."""
    return current_app.config["LIST_COUNT_CAP"]


def api_page_members(page: int, per_page: int, listed: ListPage) -> dict[str, Any]:
    """What every page of an API list carries (OGC API - Features spelling). ``numberMatched``
    only when it is known exactly (``listed.exact``): OGC API - Features lets a server omit it
    when it is costly to compute, and counting a province's millions of rows for every page
    was (``core.api.PagedSchema`` says when)."""
    counted = {"numberMatched": listed.total} if listed.exact else {}
    return {
        **counted,
        "numberReturned": len(listed.items),
        "page": page,
        "per_page": per_page,
        "links": page_links(page, per_page, listed),
    }
