"""bench/bench_pages.py: it times every GET route a person reaches, and marks what grows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench_pages():
    sys.path.insert(0, str(BENCH))
    import bench_pages

    return bench_pages


def figures(median_ms: float, size: int, status: int = 200) -> dict:
    return {"status": status, "bytes": size, "median_ms": median_ms, "p95_ms": median_ms}


def test_every_get_route_is_timed_or_knowingly_left_out(app, bench_pages):
    assert bench_pages.untimed_routes(app) == []


def test_a_view_that_grows_with_the_registry_is_marked(bench_pages):
    small = {"routes": {"admin": {"/a": figures(20, 5_000), "/b": figures(20, 5_000)}}}
    large = {
        "routes": {
            "admin": {
                "/a": figures(90, 5_000),  # time grew 4.5x past SLOW_MS
                "/b": figures(30, 5_000),  # 1.5x: flat enough
                "/c": figures(500, 5_000),  # not timed at the small size
            }
        }
    }
    rows = {row["route"]: row for row in bench_pages.growth([small, large])}
    assert rows["/a"]["grows"] and rows["/a"]["time_ratio"] == pytest.approx(4.5)
    assert not rows["/b"]["grows"]
    assert "/c" not in rows


def test_a_page_whose_bytes_grow_is_marked_even_when_fast(bench_pages):
    small = {"routes": {"admin": {"/form": figures(10, 60_000)}}}
    large = {"routes": {"admin": {"/form": figures(12, 480_000)}}}
    (row,) = bench_pages.growth([small, large])
    assert row["grows"] and row["byte_ratio"] == pytest.approx(8.0)


def test_the_crawl_reaches_every_route_of_every_person_on_a_small_province(bench_pages):
    """A small SpatiaLite province, one run each: no route answers a server error, and each
    person gets its pages (a 403 only where the role may not go)."""
    result = bench_pages.run(sizes=(200,), per_asset=3, backend="spatialite", runs=1)
    (size,) = result["sizes"]
    assert size["assets"] == 200 and size["untimed"] == []
    for person, routes in size["routes"].items():
        statuses = {route: figure["status"] for route, figure in routes.items()}
        assert all(status in (200, 302, 403) for status in statuses.values()), (person, statuses)
        assert statuses["/"] == 200 and statuses["/map"] == 200
    contractor = size["routes"]["contractor"]
    assert contractor["/inspections/{inspection}/log"]["status"] == 200
    assert size["routes"]["admin"]["/users/"]["status"] == 200
