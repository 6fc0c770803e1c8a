"""The lists' grid filter at province size (issue 14): up to ``GRID_SELECT_LIMIT`` grids a
select of every grid, as before; past it a text field for a grid's code (case-blind) whose
datalist suggests only the first-level grids and the current one. Either way a code no grid
has matches nothing and the page says so."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import or_, select

from accounts.services import create_user
from assets.models import Asset, Grid
from assets.services import grid_choices
from core.extensions import db
from hazards.models import Hazard
from inspections.models import Inspection
from tests import factories
from tests.factories import PASSWORD, blocker_data, charging_station_data
from tests.test_maps import count_queries

NOW = datetime(2026, 3, 16, 4, 0, tzinfo=UTC)
INSIDE_G1_02 = (119.15, 36.745)

# Each list page, the attribute naming its rows, and the grid field's id and "no grid" value
LISTS = [
    ("/assets/", "data-code", "filter-grid", "none"),
    ("/inspections/", "data-id", "filter-grid", None),
    ("/hazards/", "data-code", "filter-grid", None),
]
DASHBOARD_PAGES = [("/dashboard", "dashboard-grid"), ("/dashboard/grids", "grid-list-grid")]


@pytest.fixture
def three_grids(app, district, frozen_clock):
    """An asset in G1-01, G1-02 and G2-02, each with an inspection and a hazard; an officer
    scoped to G1, one without a scope."""
    frozen_clock.set(NOW)
    with app.app_context():
        grids = {grid.code: grid for grid in db.session.scalars(select(Grid))}
        factories.gen_asset(charging_station_data(1))  # G1-01
        factories.gen_asset(
            charging_station_data(2, longitude=INSIDE_G1_02[0], latitude=INSIDE_G1_02[1])
        )
        factories.gen_asset(blocker_data(1))  # G2-02
        for number, (code, grid) in enumerate(
            (("CS-001", "G1-01"), ("CS-002", "G1-02"), ("EB-0001", "G2-02")), start=1
        ):
            factories.gen_inspection(code, date(2026, 3, number))
            factories.gen_hazard(f"HZ-2026-000{number}", "general", code, grid_id=grids[grid].id)
        factories.gen_user("officer@example.org", "officer")
        create_user("scoped@example.org", PASSWORD, "officer", grid="G1")
        db.session.commit()


@pytest.fixture
def english(client):
    client.get("/lang/en")
    return client


def page_of(client, path: str, **query) -> str:
    answer = client.get(path, query_string=query)
    assert answer.status_code == 200, (path, query, answer.status_code)
    return answer.get_data(as_text=True)


def rows_of(html: str, attribute: str) -> set[str]:
    return set(re.findall(rf'<tr {attribute}="([^"]+)"', html))


def suggested(html: str, field: str) -> list[str]:
    datalist = re.search(rf'<datalist id="{field}-choices">(.*?)</datalist>', html, re.S)
    return re.findall(r'<option value="([^"]*)"', datalist.group(1))


def stored_rows(app, path: str, code: str) -> set[str]:
    """What the database holds in the grid ``code`` and its children, as the list names it."""
    with app.app_context():
        grid_ids = select(Grid.id).where(or_(Grid.code == code, Grid.parent.has(code=code)))
        if path == "/assets/":
            rows = db.session.scalars(select(Asset.code).where(Asset.grid_id.in_(grid_ids)))
        elif path == "/inspections/":
            rows = db.session.scalars(
                select(Inspection.id).join(Asset).where(Asset.grid_id.in_(grid_ids))
            )
        else:
            rows = db.session.scalars(select(Hazard.code).where(Hazard.grid_id.in_(grid_ids)))
        found = {str(row) for row in rows}
        db.session.remove()
    return found


@pytest.mark.parametrize(("path", "attribute", "field", "no_grid"), LISTS)
def test_past_the_limit_the_filter_is_a_text_field_suggesting_first_level_grids(
    app, english, auth, three_grids, path, attribute, field, no_grid
):
    app.config["GRID_SELECT_LIMIT"] = 3
    auth.login("officer@example.org")
    html = page_of(english, path)
    assert re.search(
        rf'<input type="search" id="{field}" name="grid" value="" list="{field}-choices"', html
    )
    assert not re.search(r'<select[^>]*name="grid"', html)
    assert suggested(html, field) == ["G1", "G2"] + ([no_grid] if no_grid else [])
    assert "Type a grid code; leave empty for all grids." in html
    assert f'<label for="{field}">Grid</label>' in html
    # the grid asked for (typed in any case) is suggested too, and stays in the field
    html = page_of(english, path, grid="g1-02")
    assert suggested(html, field)[:3] == ["G1", "G1-02", "G2"]
    assert re.search(f'id="{field}" name="grid" value="g1-02"', html, re.I)


@pytest.mark.parametrize(("path", "attribute", "field", "no_grid"), LISTS)
@pytest.mark.parametrize("limit", [3, 200])
def test_a_typed_code_lists_exactly_the_rows_of_its_grid(
    app, english, auth, three_grids, path, attribute, field, no_grid, limit
):
    """A second-level grid's code, a first-level one's (its children's rows), in any case."""
    app.config["GRID_SELECT_LIMIT"] = limit
    auth.login("officer@example.org")
    for typed, code in (("g1-02", "G1-02"), ("G1", "G1"), (" g2 ", "G2"), ("G2-01", "G2-01")):
        html = page_of(english, path, grid=typed)
        expected = stored_rows(app, path, code)
        assert rows_of(html, attribute) == expected, (typed, path)
        assert f'id="{field}-unknown"' not in html
    assert len(stored_rows(app, path, "G1")) == 2  # the test holds rows to tell apart


@pytest.mark.parametrize(("path", "attribute", "field", "no_grid"), LISTS)
@pytest.mark.parametrize("limit", [3, 200])
def test_an_unknown_code_lists_nothing_and_says_so(
    app, english, auth, three_grids, path, attribute, field, no_grid, limit
):
    app.config["GRID_SELECT_LIMIT"] = limit
    auth.login("officer@example.org")
    html = page_of(english, path, grid="G9-99")
    assert rows_of(html, attribute) == set()
    message = f'<p class="error filter-message" id="{field}-unknown" role="status">'
    assert message + "No grid has the code G9-99.</p>" in html
    html = page_of(english, path, grid="<b>G9</b>")
    assert re.search("No grid has the code &lt;b&gt;G9&lt;/b&gt;.", html, re.I)
    assert "<b>G9</b>" not in html
    # "all grids" and "no grid" (where the page offers it) are no unknown codes
    for value in ("", "all", no_grid or ""):
        assert f'id="{field}-unknown"' not in page_of(english, path, grid=value)


def test_under_the_limit_the_select_is_as_before(app, english, auth, three_grids):
    auth.login("officer@example.org")
    html = page_of(english, "/assets/", grid="g1-02")
    select_html = re.search(r'<select id="filter-grid" name="grid">(.*?)</select>', html, re.S)
    options = re.findall(
        r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select_html.group(1)
    )
    assert options == [
        ("", "", "All grids"),
        ("G1", "", "G1 Grid one"),
        ("G1-01", "", "G1-01 Grid one south"),
        ("G1-02", " selected", "G1-02 Grid one north"),
        ("G2", "", "G2 Grid two"),
        ("G2-01", "", "G2-01 Grid two south"),
        ("G2-02", "", "G2-02 Grid two north"),
        ("none", "", "No grid"),
    ]
    assert "<datalist" not in html
    for path, _attribute, field, _no_grid in LISTS[1:]:
        html = page_of(english, path)
        assert re.search(rf'<select id="{field}" name="grid">', html)
        assert len(re.findall(r'<option value="G', html)) == 6


def test_an_officers_own_grid_and_all_grids_in_the_text_field(app, english, auth, three_grids):
    """A scoped officer's lists open on his grid; "all" asks for every grid and is suggested."""
    app.config["GRID_SELECT_LIMIT"] = 3
    auth.login("scoped@example.org")
    html = page_of(english, "/assets/")
    assert 'id="filter-grid" name="grid" value="G1"' in html
    assert suggested(html, "filter-grid") == ["all", "G1", "G2", "none"]
    assert "Type a grid code, or “all” for all grids. “none” for no grid." in html
    assert rows_of(html, "data-code") == {"CS-001", "CS-002"}
    html = page_of(english, "/assets/", grid="ALL")
    assert rows_of(html, "data-code") == {"CS-001", "CS-002", "EB-0001"}
    assert 'id="filter-grid-unknown"' not in html


@pytest.mark.parametrize(("path", "field"), DASHBOARD_PAGES)
def test_the_dashboards_filter_follows_the_same_limit(app, english, auth, three_grids, path, field):
    auth.login("officer@example.org")
    html = page_of(english, path)
    assert len(re.findall(rf'<select id="{field}" name="grid">', html)) == 1
    assert len(re.findall(r'<option value="G', html)) == 6  # every grid up to the limit
    app.config["GRID_SELECT_LIMIT"] = 3
    html = page_of(english, path, grid="G2-02")
    assert not re.search(r'<select[^>]*name="grid"', html)
    assert suggested(html, field) == ["G1", "G2", "G2-02", "none"]
    html = page_of(english, path, grid="nowhere")
    assert "No grid has the code nowhere." in html


def test_the_choices_are_one_query_of_codes_and_names(app, three_grids):
    app.config["GRID_SELECT_LIMIT"] = 3
    statements, stop = count_queries(app)
    with app.test_request_context("/"):
        choices = grid_choices("g2-01", "none")
        db.session.remove()
    stop()
    assert [grid.code for grid in choices] == ["G1", "G2", "G2-01"]
    assert choices.typed and choices.unknown is None
    grid_statements = [s for s in statements if "grids" in s]
    assert len(grid_statements) == 1
    assert "boundary" not in grid_statements[0].lower()
    with app.test_request_context("/"):
        assert grid_choices("").typed is True
        assert grid_choices("X").unknown == "X"
        app.config["GRID_SELECT_LIMIT"] = 6
        below = grid_choices("G9")
        assert not below.typed and len(below.grids) == 6 and below.unknown == "G9"
        db.session.remove()
