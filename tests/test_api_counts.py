"""The API lists count their matches up to ``LIST_COUNT_CAP`` (core.paging): ``numberMatched``
is exact up to the cap and on the last page, omitted when more match; the links are right on
every page either way."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from openapi_schema_validator import OAS30Validator

from core.extensions import db
from tests.factories import (
    charging_station_data,
    gen_asset,
    gen_hazard,
    gen_inspection,
    gen_plan,
)

ROWS = 7
PER_PAGE = 2
# Each paged list and the member holding its page's rows.
LISTS = {
    "/api/v1/assets": "features",
    "/api/v1/inspections": "items",
    "/api/v1/hazards": "features",
    "/api/v1/plans": "items",
}


@pytest.fixture
def registry(app, district):
    """Seven of each: assets, their inspections, hazards and plans."""
    with app.app_context():
        for number in range(1, ROWS + 1):
            gen_asset(charging_station_data(number))
            gen_inspection(f"CS-{number:03}", date(2026, 3, number))
            gen_hazard(f"HZ-2026-{number:04}", "general")
            gen_plan(name=f"Plan {number}")
        db.session.commit()


@pytest.fixture
def spec(api):
    return api.get("/api/v1/openapi.json").json


def page_members(api, spec, path: str, page: int) -> tuple[int | None, int, dict[str, int]]:
    """``numberMatched`` (None when omitted), ``numberReturned`` and the links' page numbers of
    one page, checked against the OpenAPI document."""
    response = api.get(f"{path}?page={page}&per_page={PER_PAGE}")
    assert response.status_code == 200, response.json
    body = response.json
    (content,) = spec["paths"][path]["get"]["responses"]["200"]["content"].values()
    OAS30Validator({**content["schema"], "components": spec["components"]}).validate(body)
    assert body["numberReturned"] == len(body[LISTS[path]])
    links = {}
    for link in body["links"]:
        query = parse_qs(urlsplit(link["href"]).query)
        assert query["per_page"] == [str(PER_PAGE)]
        links[link["rel"]] = int(query["page"][0])
    return body.get("numberMatched"), body["numberReturned"], links


def walk(api, spec, path: str) -> list[tuple[int | None, int, dict[str, int]]]:
    """Pages 1 to 5 of a list of seven rows, two a page: the last is past the end."""
    return [page_members(api, spec, path, page) for page in range(1, 6)]


LINKS = [
    {"self": 1, "next": 2},
    {"self": 2, "next": 3, "prev": 1},
    {"self": 3, "next": 4, "prev": 2},
    {"self": 4, "prev": 3},
    {"self": 5, "prev": 4},  # past the end: back to the last page
]


@pytest.mark.parametrize("path", LISTS)
def test_below_the_cap_every_page_counts_exactly(app, api, spec, registry, path):
    app.config["LIST_COUNT_CAP"] = ROWS
    assert walk(api, spec, path) == [
        (ROWS, returned, links) for returned, links in zip([2, 2, 2, 1, 0], LINKS, strict=True)
    ]


@pytest.mark.parametrize("path", LISTS)
def test_above_the_cap_the_count_is_omitted_until_the_last_page(app, api, spec, registry, path):
    """More than the cap match: the pages that are not the last say nothing of the count
    (OGC API - Features: numberMatched is optional); the last page and an empty page past it
    know it exactly."""
    app.config["LIST_COUNT_CAP"] = 4
    assert walk(api, spec, path) == [
        (None, 2, LINKS[0]),
        (None, 2, LINKS[1]),
        (None, 2, LINKS[2]),
        (ROWS, 1, LINKS[3]),
        (ROWS, 0, LINKS[4]),
    ]


@pytest.mark.parametrize("path", LISTS)
def test_one_row_past_the_cap_is_not_counted(app, api, spec, registry, path):
    app.config["LIST_COUNT_CAP"] = ROWS - 1
    assert [matched for matched, _returned, _links in walk(api, spec, path)] == [
        None,
        None,
        None,
        ROWS,
        ROWS,
    ]


def test_the_document_says_when_the_count_is_omitted(spec):
    schema = spec["components"]["schemas"]["InspectionCollection"]
    assert "numberMatched" not in schema.get("required", [])
    assert "LIST_COUNT_CAP" in schema["properties"]["numberMatched"]["description"]
