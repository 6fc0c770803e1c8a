"""The district map's grids (issue 14): each grid embedded once in a district's page, and past
``MAP_GRID_EMBED_LIMIT`` none, the view's grids fetched by box (both levels, the second with
the overdue choropleth), matching the stored grids in the box, bounded, with an ETag."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import select

from assets.models import Grid
from core.extensions import db
from core.spatial import BBox
from maps import build
from maps.status import MapFilters
from maps.viewport import viewport_grids
from tests import factories
from tests.test_maps import (
    TODAY,
    count_queries,
    grid_layers,
    layer_data,
    layer_options,
    sign_in,
    status_district,  # noqa: F401 (a fixture)
)

GRIDS = "/api/v1/map/grids"
ENGLISH = {"Accept-Language": "en"}  # as the page's script asks: in the page's language
# A lattice of second-level grids east of the test district, in a first-level grid of its own.
LATTICE = (119.30, 36.70, 0.02, 0.015, 5, 4)  # west, south, width, height, columns, rows


@pytest.fixture
def many_grids(app, status_district):  # noqa: F811
    """The test district and a lattice of 20 more second-level grids in a third first-level
    grid: 27 grids, more than the limit the tests set."""
    west, south, width, height, columns, rows = LATTICE
    with app.app_context():
        parent = factories.gen_grid(
            "G3",
            "Grid three",
            1,
            None,
            (west, south, west + columns * width, south + rows * height),
        )
        for column in range(columns):
            for row in range(rows):
                x, y = west + column * width, south + row * height
                factories.gen_grid(
                    f"G3-{column}{row}", f"Lattice {column}{row}", 2, parent,
                    (x, y, x + width, y + height),
                )  # fmt: skip
        db.session.commit()


def stored_grids_in(app, level: int, box: tuple[float, float, float, float]) -> set[str]:
    """The reference: the codes of the stored grids of ``level`` whose shape meets ``box``."""
    envelope = shapely.box(*box)
    with app.app_context():
        grids = db.session.scalars(select(Grid).where(Grid.level == level)).all()
        return {grid.code for grid in grids if to_shape(grid.boundary).intersects(envelope)}


def codes(collection: dict) -> set[str]:
    return {feature["properties"]["code"] for feature in collection["features"]}


# --- A district: every grid embedded once --------------------------------------------------


def test_each_grid_is_embedded_once(client, auth, officer, status_district):  # noqa: F811
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    features = re.findall(r'"type":"Feature"', html)
    assert len(features) == 6  # 2 first-level and 4 second-level grids, each once
    for code in ("G1-01", "G1-02", "G2-01", "G2-02"):
        assert html.count(f'"code":"{code}"') == 1
    choropleth, second, first = grid_layers(html)
    assert choropleth is second  # one document drawn by both layers
    assert codes(first) == {"G1", "G2"}
    assert "SAR.gridView" not in html


def test_the_choropleth_and_the_outlines_draw_the_same_grids(
    client,
    auth,
    officer,
    status_district,  # noqa: F811
):
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    options = layer_options(html, "gridLayer")
    assert [option.get("choropleth", False) for option in options] == [True, False, False]
    data = layer_data(html, "gridLayer")
    assert data[0] == data[1] == {"shared": "grids:2"}
    second = grid_layers(html)[0]
    fills = {f["properties"]["code"]: f["properties"]["fill"] for f in second["features"]}
    assert fills["G1-01"] == build.choropleth_colour(2)  # CS-001 and CS-008 are overdue


# --- A province: the view's grids fetched ---------------------------------------------------


def province_page(app, client, auth, officer, limit: int = 5) -> str:
    app.config["MAP_GRID_EMBED_LIMIT"] = limit
    sign_in(client, auth, officer)
    response = client.get("/map")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_past_the_limit_the_page_embeds_no_grid(app, client, auth, officer, many_grids):
    html = province_page(app, client, auth, officer)
    assert '"type":"Feature"' not in html
    assert layer_data(html, "gridLayer") == [None, None, None]
    (options,) = layer_data(html, "gridView")
    assert options["gridsUrl"] == GRIDS
    # the map still opens on every grid
    bounds = json.loads(re.search(r"fitBounds\(\s*(\[\[.*?\]\])", html, re.S).group(1))
    assert [*bounds[0], *bounds[1]] == pytest.approx([36.70, 119.10, 36.76, 119.40])
    # the grid filter offers the first-level grids, and the one asked for
    options_offered = set(re.findall(r'<option value="(G[^"]*)"', html))
    assert options_offered == {"G1", "G2", "G3"}
    html = client.get("/map?grid=G3-21").get_data(as_text=True)
    assert set(re.findall(r'<option value="(G[^"]*)"', html)) == {"G1", "G2", "G3", "G3-21"}


def test_the_page_does_not_grow_with_the_grids(app, client, auth, officer, many_grids):
    few = len(province_page(app, client, auth, officer, limit=5))
    with app.app_context():
        parent = db.session.scalars(select(Grid).where(Grid.code == "G3")).one()
        for number in range(30):
            west = 119.50 + number * 0.01
            factories.gen_grid(
                f"G3-X{number:02d}", "More", 2, parent, (west, 36.80, west + 0.01, 36.81)
            )
        db.session.commit()
    html = client.get("/map").get_data(as_text=True)
    assert len(html) - few < 200  # the extent's digits, not a byte per grid


@pytest.mark.parametrize(
    "box",
    [
        (119.15, 36.71, 119.25, 36.74),  # across the test district's four grids
        (119.325, 36.705, 119.355, 36.725),  # a corner of the lattice
        (119.05, 36.60, 119.45, 36.80),  # everything
        (120.00, 37.00, 120.10, 37.10),  # nothing
    ],
)
def test_the_view_answers_the_stored_grids_in_its_box(app, client, auth, officer, many_grids, box):
    province_page(app, client, auth, officer)
    response = client.get(GRIDS, query_string={"bbox": ",".join(map(str, box))})
    assert response.status_code == 200
    answer = response.get_json()
    assert codes(answer["level1"]) == stored_grids_in(app, 1, box)
    assert codes(answer["level2"]) == stored_grids_in(app, 2, box)
    assert answer["truncated"] == []


def test_the_viewed_choropleth_counts_as_the_district_page(app, client, auth, officer, many_grids):
    sign_in(client, auth, officer)
    embedded = grid_layers(client.get("/map").get_data(as_text=True))[0]
    html = province_page(app, client, auth, officer)
    assert "SAR.gridView" in html
    fetched = client.get(
        GRIDS, query_string={"bbox": "119.0,36.6,119.5,36.9"}, headers=ENGLISH
    ).get_json()
    assert fetched["level2"]["features"] == embedded["features"]
    with_filter = client.get(GRIDS, query_string={"bbox": "119.0,36.6,119.5,36.9", "kind": "x"})
    assert with_filter.status_code == 422


def test_the_overdue_counts_only_while_the_choropleth_shows(app, client, auth, officer, many_grids):
    province_page(app, client, auth, officer)
    box = {"bbox": "119.0,36.6,119.5,36.9"}
    statements, stop = count_queries(app)
    hidden = client.get(GRIDS, query_string={**box, "choropleth": "0"}, headers=ENGLISH)
    stop()
    assert not [s for s in statements if "FROM assets" in s]
    shown = client.get(GRIDS, query_string={**box, "choropleth": "1"}, headers=ENGLISH)
    hidden, shown = hidden.get_json(), shown.get_json()
    assert codes(hidden["level2"]) == codes(shown["level2"])
    lowest = build.choropleth_colour(0)
    assert {f["properties"]["fill"] for f in hidden["level2"]["features"]} == {lowest}
    fills = {f["properties"]["code"]: f["properties"]["fill"] for f in shown["level2"]["features"]}
    assert fills["G1-01"] == build.choropleth_colour(2)


def test_a_level_with_too_many_grids_in_the_box_is_left_out(app, many_grids):
    with app.test_request_context():
        projector = build.Projector("none")
        answer = viewport_grids(MapFilters(), None, TODAY, None, projector, limit=10)
        assert answer["truncated"] == [2]  # 24 second-level grids
        assert answer["level2"]["features"] == []
        assert codes(answer["level1"]) == {"G1", "G2", "G3"}
        box = BBox(119.30, 36.70, 119.339, 36.739)
        answer = viewport_grids(MapFilters(), None, TODAY, box, projector, limit=10)
        assert answer["truncated"] == []
        # the lattice's 2 × 3 corner and, touching its west edge, the district's G2-01, G2-02
        expected = {"G2-01", "G2-02", "G3-00", "G3-01", "G3-02", "G3-10", "G3-11", "G3-12"}
        assert codes(answer["level2"]) == expected
    assert expected == stored_grids_in(app, 2, (119.30, 36.70, 119.339, 36.739))


def test_the_grids_answer_is_revalidated_by_etag(app, client, auth, officer, many_grids):
    province_page(app, client, auth, officer)
    first = client.get(GRIDS, query_string={"bbox": "119.0,36.6,119.5,36.9"}, headers=ENGLISH)
    etag = first.headers["ETag"]
    again = client.get(
        GRIDS,
        query_string={"bbox": "119.0,36.6,119.5,36.9"},
        headers={"If-None-Match": etag, **ENGLISH},
    )
    assert again.status_code == 304
    with app.app_context():
        factories.gen_inspection("CS-009", TODAY - timedelta(days=2))
        db.session.commit()
    changed = client.get(
        GRIDS,
        query_string={"bbox": "119.0,36.6,119.5,36.9"},
        headers={"If-None-Match": etag, **ENGLISH},
    )
    assert changed.status_code == 200
    fills = {
        f["properties"]["code"]: f["properties"]["overdue"]
        for f in changed.get_json()["level2"]["features"]
    }
    assert fills["G1-01"] == "Overdue inspections: 3"


def test_the_grids_answer_needs_a_signed_in_user(client, many_grids):
    assert client.get(GRIDS).status_code == 401
