"""The asset pages: dashboard, list, detail with history, and the create/edit/retire forms."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from assets.models import Asset
from core.audit import AuditEntry
from core.extensions import db
from tests import factories
from tests.factories import (
    INSIDE_G1_01,
    INSIDE_G2_02,
    OUTSIDE_DISTRICT,
    blocker_data,
    charging_station_data,
)

INSIDE_G1_02 = (119.15, 36.745)
INSIDE_G2_01 = (119.25, 36.715)


def add_assets(app, *records):
    with app.app_context():
        for record in records:
            factories.gen_asset(record)
        db.session.commit()


def listed_codes(response) -> list[str]:
    """The codes of the asset list's rows, in page order."""
    assert response.status_code == 200
    return re.findall(r'<tr data-code="([^"]+)">', response.get_data(as_text=True))


def asset_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Asset.id)))


def audit_actions(app, code: str) -> list[str]:
    with app.app_context():
        return db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_type == "asset", AuditEntry.entity_key == code)
            .order_by(AuditEntry.id)
        ).all()


def form_data(record: dict, **overrides) -> dict:
    """A service-style record as the form posts it (``attr_<name>`` fields, empty = unset)."""
    data = {key: value for key, value in record.items() if key != "attributes"}
    for name, value in record.get("attributes", {}).items():
        if value is True:
            data[f"attr_{name}"] = "y"
        elif value is not False:
            data[f"attr_{name}"] = value
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def english(client):
    """The pages in English (the default language is Chinese)."""
    client.get("/lang/en")
    return client


@pytest.fixture
def signed_in(english, auth, officer, district):
    auth.login(officer)
    return english


@pytest.fixture
def mixed_assets(app, district):
    """Five assets over three second-level grids, one faulty, one retired."""
    with app.app_context():
        factories.gen_site("Harbour Garden")
        db.session.commit()
    add_assets(
        app,
        charging_station_data(
            1, name="Bravo canopy", address="1 Harbour Road", installed_on="2023-05-01"
        ),
        charging_station_data(
            2,
            name="alpha corner",
            longitude=INSIDE_G1_02[0],
            latitude=INSIDE_G1_02[1],
            address="9 Lake Street",
            status="faulty",
            installed_on="2021-01-10",
        ),
        charging_station_data(
            3, name="Charlie", longitude=INSIDE_G2_01[0], latitude=INSIDE_G2_01[1], address=None
        ),
        blocker_data(1, name="Delta lift", address="12 harbour road", site="Harbour Garden"),
        blocker_data(2, name="Echo lift", status="retired", installed_on="2022-03-03"),
    )


# The dashboard


def test_dashboard_counts_by_kind_status_and_grid(app, signed_in, mixed_assets):
    with app.app_context():
        app.config["STRICT_DISTRICT"] = False
        factories.gen_asset(
            charging_station_data(9, longitude=OUTSIDE_DISTRICT[0], latitude=OUTSIDE_DISTRICT[1])
        )
        db.session.commit()
    html = signed_in.get("/").get_data(as_text=True)
    assert "<h1>Dashboard</h1>" in html

    def card(element_id):
        match = re.search(rf'id="{element_id}">.*?<div class="stat">(\d+)</div>', html, re.S)
        return int(match.group(1))

    assert card("card-total") == 6
    assert card("card-kind-charging_station") == 4
    assert card("card-kind-elevator_blocker") == 2

    def row_count(attribute, value):
        row = re.search(rf'<tr {attribute}="{value}">(.*?)</tr>', html, re.S).group(1)
        return int(re.findall(r'<td class="count">(\d+)</td>', row)[0])

    assert row_count("data-status", "active") == 4
    assert row_count("data-status", "faulty") == 1
    assert row_count("data-status", "retired") == 1
    assert row_count("data-grid", "G1-01") == 1
    assert row_count("data-grid", "G1-02") == 1
    assert row_count("data-grid", "G2-01") == 1
    assert row_count("data-grid", "G2-02") == 2
    assert row_count("data-grid", "none") == 1
    assert "Grid two north" in html
    assert 'href="/assets/?grid=G2-02"' in html
    assert 'href="/assets/?kind=charging_station"' in html
    assert 'href="/assets/?status=faulty"' in html


def test_dashboard_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# The list


def test_list_shows_every_asset_with_status_badges(signed_in, mixed_assets):
    response = signed_in.get("/assets/")
    assert listed_codes(response) == ["CS-001", "CS-002", "CS-003", "EB-0001", "EB-0002"]
    html = response.get_data(as_text=True)
    assert '<span class="badge status-faulty">' in html
    assert '<span class="badge status-retired">' in html
    assert "5 assets found." in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=elevator_blocker", ["EB-0001", "EB-0002"]),
        ("status=faulty", ["CS-002"]),
        ("status=retired", ["EB-0002"]),
        ("grid=G1-02", ["CS-002"]),
        ("grid=G1", ["CS-001", "CS-002"]),
        ("grid=g2", ["CS-003", "EB-0001", "EB-0002"]),
        ("grid=G2&kind=charging_station", ["CS-003"]),
        ("kind=charging_station&status=active", ["CS-001", "CS-003"]),
        ("kind=nothing", []),
    ],
)
def test_list_filters(signed_in, mixed_assets, query, expected):
    assert listed_codes(signed_in.get(f"/assets/?{query}")) == expected


def test_list_filter_for_assets_without_grid(app, signed_in, mixed_assets):
    app.config["STRICT_DISTRICT"] = False
    add_assets(
        app, charging_station_data(9, longitude=OUTSIDE_DISTRICT[0], latitude=OUTSIDE_DISTRICT[1])
    )
    assert listed_codes(signed_in.get("/assets/?grid=none")) == ["CS-009"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ALPHA", ["CS-002"]),  # name, case-insensitive
        ("eb-000", ["EB-0001", "EB-0002"]),  # code
        ("harbour road", ["CS-001", "EB-0001"]),  # address
        ("lift", ["EB-0001", "EB-0002"]),
        ("100%", []),  # LIKE wildcards are literal
        ("_", []),
    ],
)
def test_list_search(signed_in, mixed_assets, q, expected):
    assert listed_codes(signed_in.get("/assets/", query_string={"q": q})) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("code", ["CS-001", "CS-002", "CS-003", "EB-0001", "EB-0002"]),
        ("-code", ["EB-0002", "EB-0001", "CS-003", "CS-002", "CS-001"]),
        ("name", ["CS-002", "CS-001", "CS-003", "EB-0001", "EB-0002"]),
        ("-name", ["EB-0002", "EB-0001", "CS-003", "CS-001", "CS-002"]),
        ("status", ["CS-001", "CS-003", "EB-0001", "CS-002", "EB-0002"]),
        ("-status", ["EB-0002", "CS-002", "EB-0001", "CS-003", "CS-001"]),
        ("kind", ["CS-001", "CS-002", "CS-003", "EB-0001", "EB-0002"]),
        # The ascending list reversed (ties by code descending): its index read backwards.
        ("-kind", ["EB-0002", "EB-0001", "CS-003", "CS-002", "CS-001"]),
        ("grid", ["CS-001", "CS-002", "CS-003", "EB-0001", "EB-0002"]),
        ("-grid", ["EB-0001", "EB-0002", "CS-003", "CS-002", "CS-001"]),
        ("installed_on", ["CS-002", "EB-0002", "CS-001", "CS-003", "EB-0001"]),
        ("-installed_on", ["CS-001", "EB-0002", "CS-002", "CS-003", "EB-0001"]),
        ("location); DROP TABLE assets; --", ["CS-001", "CS-002", "CS-003", "EB-0001", "EB-0002"]),
    ],
)
def test_list_sort(signed_in, mixed_assets, sort, expected):
    assert listed_codes(signed_in.get("/assets/", query_string={"sort": sort})) == expected


def test_list_paginates_and_keeps_filters_in_links(signed_in, mixed_assets):
    first = signed_in.get("/assets/?kind=charging_station&sort=-code&per_page=2")
    assert listed_codes(first) == ["CS-003", "CS-002"]
    html = first.get_data(as_text=True)
    assert "Page 1 of 2" in html
    next_link = re.search(r'<a class="button" rel="next" href="([^"]+)"', html).group(1)
    next_link = next_link.replace("&amp;", "&")
    for part in ("kind=charging_station", "sort=-code", "per_page=2", "page=2"):
        assert part in next_link
    second = signed_in.get(next_link)
    assert listed_codes(second) == ["CS-001"]
    assert 'rel="prev"' in second.get_data(as_text=True)
    assert 'rel="next"' not in second.get_data(as_text=True)
    # Sort links keep the filters too.
    assert "/assets/?kind=charging_station&amp;sort=name&amp;per_page=2" in html


def result_count_and_pager(response) -> tuple[str, str, bool]:
    """The list's "… assets found.", its "Page … of …" and whether it links a next page."""
    html = response.get_data(as_text=True)
    counted = re.search(r'<p class="muted" id="result-count">([^<]*)</p>', html).group(1)
    nav = html.split('class="pagination"', 1)[1].split("</nav>", 1)[0]
    return counted, re.search(r"<span>([^<]*)</span>", nav).group(1), 'rel="next"' in nav


def test_list_counts_up_to_the_cap_then_says_more_than(app, signed_in, district):
    """Past LIST_COUNT_CAP assets the list is not counted to its end (a province's millions):
    it says "more than" and pages on, in code order, to the last asset, where the count is
    exact."""
    add_assets(app, *(charging_station_data(number) for number in range(1, 8)))
    app.config["LIST_COUNT_CAP"] = 4
    pages = [signed_in.get(f"/assets/?per_page=2&page={page}") for page in range(1, 5)]
    assert [code for page in pages for code in listed_codes(page)] == [
        f"CS-{number:03}" for number in range(1, 8)
    ]
    assert [result_count_and_pager(page) for page in pages] == [
        ("More than 4 assets found.", "Page 1 of more than 2", True),
        ("More than 4 assets found.", "Page 2 of more than 2", True),
        ("More than 6 assets found.", "Page 3 of more than 3", True),
        ("7 assets found.", "Page 4 of 4", False),
    ]
    app.config["LIST_COUNT_CAP"] = 7
    assert result_count_and_pager(signed_in.get("/assets/?per_page=2")) == (
        "7 assets found.",
        "Page 1 of 4",
        True,
    )


def test_list_page_size_is_capped(app, signed_in, district):
    add_assets(app, *(charging_station_data(n) for n in range(1, 206)))
    response = signed_in.get("/assets/?per_page=5000")
    assert len(listed_codes(response)) == 200
    assert "Page 1 of 2" in response.get_data(as_text=True)


def test_list_past_the_last_page_is_empty(signed_in, mixed_assets):
    response = signed_in.get("/assets/?page=9")
    assert listed_codes(response) == []
    assert "No assets match these filters." in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=two", "per_page=0", "per_page=x"])
def test_list_bad_page_numbers_are_400(signed_in, mixed_assets, query):
    response = signed_in.get(f"/assets/?{query}")
    assert response.status_code == 400
    assert "must be a whole number of 1 or more" in response.get_data(as_text=True)


# The detail


def test_detail_shows_fields_attributes_site_and_grid(app, signed_in, mixed_assets):
    html = signed_in.get("/assets/EB-0001").get_data(as_text=True)
    assert "Delta lift" in html
    assert "Elevator e-bike blocker" in html
    assert re.search(r"<dt>Detection method</dt><dd>AI camera</dd>", html)
    assert re.search(r"<dt>Building</dt><dd>3</dd>", html)
    assert '<dt>Elevator registration code</dt><dd><span class="muted">—</span></dd>' in html
    assert "119.250000" in html and "36.745000" in html
    assert re.search(r'id="asset-grid"><a href="/assets/\?grid=G2-02">G2-02</a>', html)
    assert "Harbour Garden" in html and "Harbour Property" in html

    html = signed_in.get("/assets/CS-001").get_data(as_text=True)
    assert "<dt>Charging ports</dt><dd>10</dd>" in html
    assert "<dt>Canopy</dt><dd>Yes</dd>" in html
    assert "<dt>Camera</dt><dd>No</dd>" in html


def test_detail_lowercase_code_finds_the_asset(signed_in, mixed_assets):
    assert signed_in.get("/assets/cs-001").status_code == 200


def test_detail_without_grid(app, signed_in, district):
    app.config["STRICT_DISTRICT"] = False
    add_assets(
        app, charging_station_data(9, longitude=OUTSIDE_DISTRICT[0], latitude=OUTSIDE_DISTRICT[1])
    )
    html = signed_in.get("/assets/CS-009").get_data(as_text=True)
    assert '<dd id="asset-grid">No grid</dd>' in html


def test_detail_unknown_code_is_404(signed_in, mixed_assets):
    response = signed_in.get("/assets/CS-999")
    assert response.status_code == 404
    assert "CS-999" in response.get_data(as_text=True)


def test_detail_shows_history_newest_first(app, signed_in, officer, mixed_assets):
    signed_in.post("/assets/CS-001/edit", data=form_data(charging_station_data(1), name="Renamed"))
    signed_in.post("/assets/CS-001/retire")
    html = signed_in.get("/assets/CS-001").get_data(as_text=True)
    actions = re.findall(r'<tr data-action="([^"]+)">', html)
    assert actions == ["retire", "update", "create"]
    history = html[html.index('id="history"') :]
    assert officer in history  # who
    assert "command line" in history  # the factory created it outside a request
    assert re.search(r"<strong>Name</strong>: Bravo canopy <span[^>]*>→</span> Renamed", html)
    assert re.search(r"<strong>Status</strong>: Active <span[^>]*>→</span> Retired", html)
    assert re.search(r"<td[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d</td>", history)
    assert re.search(r"<td[^>]*>Retired</td>", history)
    assert re.search(r"<td[^>]*>Created</td>", history)


def test_history_speaks_the_page_language(app, signed_in, mixed_assets):
    signed_in.post(
        "/assets/CS-001/edit",
        data=form_data(charging_station_data(1, attributes={"ports": 12}), name="Renamed"),
    )
    signed_in.get("/lang/zh")
    html = signed_in.get("/assets/CS-001").get_data(as_text=True)
    history = html[html.index('id="history"') :]
    assert re.search(r"<td[^>]*>修改</td>", history)
    assert re.search(r"<td[^>]*>新建</td>", history)
    assert "<strong>名称</strong>" in history and "<strong>属性</strong>" in history
    assert "充电口数量: 12" in history
    assert "<strong>name</strong>" not in history and "<strong>ports</strong>" not in history


# Creating


def test_new_form_offers_every_kind(signed_in):
    html = signed_in.get("/assets/new").get_data(as_text=True)
    assert 'name="attr_ports"' in html and 'name="attr_detection_method"' in html
    assert 'data-kind="charging_station"' in html and 'data-kind="elevator_blocker"' in html
    assert 'name="longitude"' in html and 'name="grid"' not in html


def test_create_writes_the_asset_and_its_audit_entry(app, signed_in, officer):
    with app.app_context():
        factories.gen_site("Harbour Garden")
        db.session.commit()
    data = form_data(
        charging_station_data(5, site="Harbour Garden", installed_on="2024-02-01"),
        attr_ports="12",
        attr_camera="y",
        grid="G2-02",  # not a form field: ignored
    )
    response = signed_in.post("/assets/new", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/assets/CS-005")
    with app.app_context():
        asset = db.session.scalar(select(Asset).where(Asset.code == "CS-005"))
        assert asset.grid.code == "G1-01"
        assert asset.site.name == "Harbour Garden"
        assert asset.attributes == {
            "ports": 12,
            "canopy": True,
            "extinguisher": True,
            "camera": True,
            "smoke_detector": False,
        }
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_key == "CS-005"))
        assert (entry.action, entry.actor) == ("create", officer)
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Asset CS-005 created." in page


def test_create_blocker_ignores_other_kinds_fields(app, signed_in):
    data = form_data(blocker_data(7), attr_ports="not looked at")
    response = signed_in.post("/assets/new", data=data)
    assert response.status_code == 302
    with app.app_context():
        asset = db.session.scalar(select(Asset).where(Asset.code == "EB-0007"))
        assert asset.grid.code == "G2-02"
        assert "ports" not in asset.attributes


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"longitude": "200"}, "longitude", "Must be between -180 and 180."),
        ({"latitude": "-95"}, "latitude", "Must be between -90 and 90."),
        ({"longitude": "east"}, "longitude", "Not a number."),
        ({"longitude": ""}, "longitude", "This field is required."),
        (
            {"longitude": str(INSIDE_G1_01[1]), "latitude": str(INSIDE_G1_01[0])},
            "location",
            "Latitude and longitude look swapped.",
        ),
        (
            {"longitude": str(OUTSIDE_DISTRICT[0]), "latitude": str(OUTSIDE_DISTRICT[1])},
            "location",
            "The point lies outside every grid of the district.",
        ),
        ({"site": "Nowhere Towers"}, "site", "Unknown site: Nowhere Towers."),
        ({"attr_ports": ""}, "attr_ports", "This field is required."),
        ({"attr_ports": "0"}, "attr_ports", "Must be at least 1."),
        ({"installed_on": "2024-02-30"}, "installed_on", "Not a date (YYYY-MM-DD)."),
        ({"installed_on": "2999-01-01"}, "installed_on", "The date is in the future."),
        ({"code": "EB-0001"}, "code", "Codes of this kind look like CS-001."),
        ({"name": ""}, "name", "This field is required."),
        ({"kind": "fire_truck"}, "kind", "Unknown kind"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(app, signed_in, overrides, field, message):
    response = signed_in.post("/assets/new", data=form_data(charging_station_data(5), **overrides))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    if field == "location":
        error = re.search(r'<p class="error location-error" id="location-error">([^<]*)</p>', html)
        assert message in error.group(1)
    else:
        # The message sits inside the field's own block, next to its input.
        block = re.search(
            rf'<div class="field has-error">\s*<label for="{field}">.*?</div>', html, re.S
        )
        assert block is not None, field
        assert message in block.group(0)
    assert asset_count(app) == 0
    assert audit_actions(app, "CS-005") == []


def test_create_out_of_range_keeps_what_was_typed(signed_in):
    data = form_data(charging_station_data(5), longitude="200", name="Kept name")
    html = signed_in.post("/assets/new", data=data).get_data(as_text=True)
    assert 'value="Kept name"' in html and 'value="200"' in html


def test_create_outside_district_is_allowed_when_not_strict(app, signed_in):
    app.config["STRICT_DISTRICT"] = False
    data = form_data(
        charging_station_data(5, longitude=OUTSIDE_DISTRICT[0], latitude=OUTSIDE_DISTRICT[1])
    )
    assert signed_in.post("/assets/new", data=data).status_code == 302
    assert '<dd id="asset-grid">No grid</dd>' in signed_in.get("/assets/CS-005").get_data(
        as_text=True
    )


def test_create_duplicate_code_is_refused(app, signed_in, mixed_assets):
    response = signed_in.post(
        "/assets/new", data=form_data(charging_station_data(1, name="Second one"))
    )
    assert response.status_code == 400
    assert "An asset with code CS-001 exists already." in response.get_data(as_text=True)
    assert asset_count(app) == 5
    assert audit_actions(app, "CS-001") == ["create"]
    with app.app_context():
        assert db.session.scalar(select(Asset.name).where(Asset.code == "CS-001")) == (
            "Bravo canopy"
        )


def test_create_missing_blocker_attributes(app, signed_in):
    data = form_data(blocker_data(3), attr_building="", attr_detection_method="")
    response = signed_in.post("/assets/new", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert html.count("This field is required.") == 2
    assert asset_count(app) == 0


# Editing and retiring


def test_edit_form_shows_current_values_with_code_and_kind_read_only(signed_in, mixed_assets):
    html = signed_in.get("/assets/EB-0001/edit").get_data(as_text=True)
    assert 'value="Delta lift"' in html
    assert 'value="119.25"' in html and 'value="36.745"' in html
    assert 'name="code"' not in html and 'name="kind"' not in html
    assert '<strong id="asset-code">EB-0001</strong>' in html
    assert 'name="attr_building"' in html and 'name="attr_ports"' not in html
    assert 'value="Harbour Garden"' in html


def test_edit_moves_the_point_and_the_grid_follows(app, signed_in, mixed_assets):
    data = form_data(
        charging_station_data(1, name="Moved", address="2 Lake Street"),
        longitude=str(INSIDE_G2_02[0]),
        latitude=str(INSIDE_G2_02[1]),
        attr_ports="4",
        code="CS-777",  # read only: ignored
        kind="elevator_blocker",  # read only: ignored
    )
    response = signed_in.post("/assets/CS-001/edit", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/assets/CS-001")
    with app.app_context():
        asset = db.session.scalar(select(Asset).where(Asset.code == "CS-001"))
        assert (asset.grid.code, asset.name, asset.kind) == ("G2-02", "Moved", "charging_station")
        assert asset.attributes["ports"] == 4
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
        assert entry.before["grid"] == "G1-01" and entry.after["grid"] == "G2-02"
    assert "Asset CS-001 saved." in signed_in.get("/assets/CS-001").get_data(as_text=True)
    assert listed_codes(signed_in.get("/assets/?grid=G2-02")) == ["CS-001", "EB-0001", "EB-0002"]


def test_edit_with_bad_input_changes_nothing(app, signed_in, mixed_assets):
    data = form_data(charging_station_data(1), name="Changed", latitude="36.9", longitude="119.5")
    response = signed_in.post("/assets/CS-001/edit", data=data)
    assert response.status_code == 400
    assert "The point lies outside every grid of the district." in response.get_data(as_text=True)
    with app.app_context():
        asset = db.session.scalar(select(Asset).where(Asset.code == "CS-001"))
        assert (asset.name, asset.grid.code) == ("Bravo canopy", "G1-01")
    assert audit_actions(app, "CS-001") == ["create"]


def test_edit_unknown_code_is_404(signed_in):
    assert signed_in.get("/assets/CS-404/edit").status_code == 404
    assert signed_in.post("/assets/CS-404/retire").status_code == 404


def test_retire(app, signed_in, mixed_assets):
    response = signed_in.post("/assets/CS-001/retire")
    assert response.status_code == 302
    html = signed_in.get("/assets/CS-001").get_data(as_text=True)
    assert "Asset CS-001 retired." in html
    assert 'action="/assets/CS-001/retire"' not in html  # no retire button any more
    with app.app_context():
        assert db.session.scalar(select(Asset.status).where(Asset.code == "CS-001")) == "retired"
    assert audit_actions(app, "CS-001") == ["create", "retire"]
    assert signed_in.get("/assets/CS-001/retire").status_code == 405


# Who may write


def test_contractor_cannot_create_edit_or_retire(
    app, english, client, auth, contractor_user, mixed_assets
):
    auth.login(contractor_user)
    assert client.get("/assets/").status_code == 200
    html = client.get("/assets/CS-001").get_data(as_text=True)
    assert "/assets/CS-001/edit" not in html and "/retire" not in html
    assert client.get("/assets/new").status_code == 403
    assert client.post("/assets/new", data=form_data(charging_station_data(5))).status_code == 403
    assert client.get("/assets/CS-001/edit").status_code == 403
    response = client.post("/assets/CS-001/edit", data=form_data(charging_station_data(1)))
    assert response.status_code == 403
    assert client.post("/assets/CS-001/retire").status_code == 403
    assert asset_count(app) == 5
    with app.app_context():
        assert db.session.scalar(select(Asset.status).where(Asset.code == "CS-001")) == "active"


def test_admin_can_create(app, client, auth, admin, district):
    auth.login(admin)
    response = client.post("/assets/new", data=form_data(charging_station_data(5)))
    assert response.status_code == 302
    assert asset_count(app) == 1


def test_forms_need_a_csrf_token_when_enabled(app, officer, mixed_assets):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    with client:
        client.get("/lang/en")
        login_page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
        data = {"email": officer, "password": factories.PASSWORD, "csrf_token": token}
        assert client.post("/login", data=data).status_code == 302
        assert (
            client.post("/assets/new", data=form_data(charging_station_data(5))).status_code == 400
        )
        assert client.post("/assets/CS-001/retire").status_code == 400
        response = client.post("/assets/CS-001/edit", data=form_data(charging_station_data(1)))
        assert response.status_code == 400
        assert asset_count(app) == 5
        assert audit_actions(app, "CS-001") == ["create"]
        # With the page's token the same form goes through.
        form_page = client.get("/assets/new").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form_page).group(1)
        data = form_data(charging_station_data(5), csrf_token=token)
        assert client.post("/assets/new", data=data).status_code == 302
    assert asset_count(app) == 6


# Escaping


def test_script_in_a_name_is_escaped(app, signed_in, district):
    add_assets(app, charging_station_data(1, name="<script>alert(1)</script>", address="<b>x</b>"))
    for url in ("/assets/", "/assets/CS-001", "/assets/CS-001/edit", "/assets/?q=<script>"):
        html = signed_in.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    assert "<b>x</b>" not in signed_in.get("/assets/CS-001").get_data(as_text=True)
