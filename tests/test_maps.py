"""The district map: status colours in one query, filters, contractor scope, popups, tiles,
vendored front-end files, and escaping of every user value (a corpus of XSS payloads)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import folium
import pytest
from folium.plugins import FastMarkerCluster, LocateControl, MarkerCluster
from markupsafe import escape
from sqlalchemy import event

from assets.models import AssetStatus
from assets.services import asset_by_code
from core.extensions import db
from inspections.models import InspectionStatus
from maps import build
from maps.coords import wgs84_to_gcj02
from maps.status import MapFilters, map_assets_query
from tests import factories, helpers
from tests.factories import HAZARD_DAY, XSS_PAYLOADS, gen_hazard, gen_xss_district

TODAY = HAZARD_DAY  # 2026-03-16, the day factories.gen_hazard dates hazards from
MOMENT = datetime(2026, 3, 16, 4, 0, tzinfo=UTC)  # noon in Asia/Shanghai
ROOT = Path(__file__).resolve().parent.parent


def sign_in(client, auth, email: str) -> None:
    auth.login(email)
    client.get("/lang/en")


def layer_data(html: str, factory: str) -> list[dict]:
    """The JSON documents given to ``SAR.<factory>(map, data, options)`` in a page."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(rf"SAR\.{factory}\(\s*\w+,\s*", html):
        value, _end = decoder.raw_decode(html, match.end())
        found.append(value)
    return found


def layer_options(html: str, factory: str) -> list[dict]:
    """The options given to ``SAR.<factory>(map, data, options)`` in a page."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(rf"SAR\.{factory}\(\s*\w+,\s*", html):
        _data, end = decoder.raw_decode(html, match.end())
        comma = re.compile(r"\s*,\s*").match(html, end)
        options, _end = decoder.raw_decode(html, comma.end())
        found.append(options)
    return found


def grid_layers(html: str) -> list[dict]:
    """The FeatureCollections the page's grid layers draw (choropleth, second level, first
    level), a shared document (``SAR.share``) resolved."""
    decoder = json.JSONDecoder()
    shared = {}
    for match in re.finditer(r'SAR\.share\("([^"]+)",\s*', html):
        shared[match.group(1)], _end = decoder.raw_decode(html, match.end())
    return [
        shared[data["shared"]] if "shared" in data else data
        for data in layer_data(html, "gridLayer")
    ]


def drawn_assets(html: str) -> dict[str, tuple[str, float, float]]:
    """code -> (map status, latitude, longitude) of every asset drawn on a page."""
    drawn = {}
    for data in layer_data(html, "assetLayer"):
        for code, status, latitude, longitude in zip(
            data["code"], data["status"], data["lat"], data["lon"], strict=True
        ):
            drawn[code] = (data["statuses"][status], latitude, longitude)
    return drawn


def viewport_options(html: str) -> dict:
    """The options the page gives ``SAR.viewport``: where it fetches the view, with which
    filters."""
    (options,) = layer_data(html, "viewport")
    return options


def fetch_view(client, html: str, url_key: str = "assetsUrl", **extra) -> dict:
    """What the page's script fetches for the whole map (no box)."""
    options = viewport_options(html)
    args = {**options["filters"], **extra}
    if url_key == "assetsUrl":
        args.setdefault("zoom", 13)
    response = client.get(options[url_key], query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def drawn_on_page(client, html: str) -> dict[str, tuple[str, float, float]]:
    """code -> (map status, latitude, longitude) of every asset the district map draws: the
    page embeds none, its script fetches them with the page's filters."""
    answer = fetch_view(client, html)
    assert answer["mode"] == "points" and answer["complete"] is True
    points = answer["points"]
    return {
        code: (status, lat, lon)
        for code, status, lat, lon in zip(
            points["code"], points["status"], points["lat"], points["lon"], strict=True
        )
    }


def hazards_on_page(client, html: str) -> dict[str, list[str]]:
    """severity -> codes of the open hazards the district map's script fetches."""
    hazards = fetch_view(client, html, "hazardsUrl")["hazards"]
    found: dict[str, list[str]] = {"major": [], "general": []}
    for code, severity in zip(hazards["code"], hazards["severity"], strict=True):
        found[severity].append(code)
    return found


@pytest.fixture
def status_district(app, district, frozen_clock):
    """Nine charging stations, one per condition of the map status."""
    frozen_clock.set(MOMENT)
    with app.app_context():
        for number in range(1, 10):
            factories.gen_asset(factories.charging_station_data(number))
        factories.gen_asset(factories.blocker_data(1))
        factories.gen_inspection("CS-001", TODAY - timedelta(days=1))  # overdue → red
        asset_by_code("CS-002").status = AssetStatus.FAULTY  # faulty → red
        gen_hazard("HZ-2026-0001", "major", "CS-003")  # open major hazard → red
        factories.gen_inspection("CS-004", TODAY + timedelta(days=7))  # due soon → orange
        gen_hazard("HZ-2026-0002", "general", "CS-005", status="rectifying")  # → orange
        factories.gen_inspection("CS-006", TODAY + timedelta(days=8))  # later → green
        done = factories.gen_inspection("CS-007", TODAY - timedelta(days=5))
        done.status = InspectionStatus.COMPLETED  # completed, even if late → green
        gen_hazard("HZ-2026-0003", "major", "CS-007", status="verified")  # closed → green
        factories.gen_inspection("CS-008", TODAY - timedelta(days=30), contractor="Other Co")
        asset_by_code("CS-008").status = AssetStatus.RETIRED  # retired wins → grey
        # CS-009: nothing at all → green; EB-0001: due today → orange
        factories.gen_inspection("EB-0001", TODAY)
        db.session.commit()


EXPECTED = {
    "CS-001": "red",
    "CS-002": "red",
    "CS-003": "red",
    "CS-004": "orange",
    "CS-005": "orange",
    "CS-006": "green",
    "CS-007": "green",
    "CS-008": "grey",
    "CS-009": "green",
    "EB-0001": "orange",
}


def test_map_status_of_every_asset(app, status_district):
    with app.app_context():
        rows = db.session.execute(map_assets_query(MapFilters(), None, TODAY)).all()
    assert {row.code: row.map_status for row in rows} == EXPECTED


def test_map_page_draws_every_asset_coloured_by_status(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    response = client.get("/map")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    drawn = drawn_on_page(client, html)
    assert {code: status for code, (status, _lat, _lon) in drawn.items()} == EXPECTED
    assert drawn["CS-001"][1:] == (factories.INSIDE_G1_01[1], factories.INSIDE_G1_01[0])
    # one layer per kind, each with its own marker shape; a legend names every status
    shapes = {data["kind"]: data["shape"] for data in layer_data(html, "assetLayer")}
    assert shapes == {"charging_station": "circle", "elevator_blocker": "square"}
    for label in ("Overdue, faulty or major hazard", "Due soon or general hazard", "In order"):
        assert label in html
    assert 'id="drawn-count"' in html  # the script says how many it drew


def test_map_layers_are_switchable(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    control = re.search(r"overlays :\s*\{(.*?)\}", html, re.S).group(1)
    for name in (
        "E-bike charging station",
        "Elevator e-bike blocker",
        "Open hazards: major",
        "Open hazards: general",
        "First-level grids",
        "Second-level grids",
        "Overdue inspections per grid",
    ):
        assert json.dumps(name) in control
    severities = [data["severity"] for data in layer_data(html, "hazardLayer")]
    assert severities == ["major", "general"]
    hazards = hazards_on_page(client, html)
    assert hazards["major"] == ["HZ-2026-0001"]  # verified one left out
    assert hazards["general"] == ["HZ-2026-0002"]


def test_choropleth_counts_overdue_inspections_per_grid(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    choropleth = grid_layers(html)[0]
    fills = {
        feature["properties"]["code"]: feature["properties"]["fill"]
        for feature in choropleth["features"]
    }
    # CS-001 is overdue in G1-01; CS-008's overdue inspection counts too (its asset is retired
    # but the inspection is still overdue); nothing elsewhere
    assert fills["G1-01"] == build.choropleth_colour(2) != build.choropleth_colour(0)
    assert fills["G2-02"] == build.choropleth_colour(0)
    assert choropleth["features"][0]["properties"]["overdue"] == "Overdue inspections: 2"


def overdue_counts(client, query: str = "") -> dict[str, int]:
    """The choropleth's overdue inspections per second-level grid, as the page embeds them."""
    choropleth = grid_layers(client.get(f"/map{query}").get_data(as_text=True))[0]
    return {
        feature["properties"]["code"]: int(feature["properties"]["overdue"].rsplit(" ", 1)[1])
        for feature in choropleth["features"]
    }


def test_the_choropleth_is_counted_once_while_the_data_stays(
    app, client, auth, officer, contractor_user, status_district
):
    """A district grown to 1M assets counts 80,000 overdue inspections for it (230 ms on
    SpatiaLite): kept per data version, day, scope and filters (``core.versions``)."""
    sign_in(client, auth, officer)
    assert overdue_counts(client)["G1-01"] == 2
    statements, stop = count_queries(app)
    try:
        assert overdue_counts(client)["G1-01"] == 2
    finally:
        stop()
    assert [s for s in statements if "FROM assets" in s and "inspections" in s] == []
    with app.app_context():
        factories.gen_inspection("CS-006", TODAY - timedelta(days=2))
        db.session.commit()
    assert overdue_counts(client)["G1-01"] == 3  # a write: counted again
    assert overdue_counts(client, "?kind=elevator_blocker")["G1-01"] == 0  # other filters
    auth.logout()
    sign_in(client, auth, contractor_user)
    assert overdue_counts(client)["G1-01"] == 2  # Fixers Ltd's own: CS-001's and CS-006's


def count_queries(app):
    statements = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    return statements, lambda: event.remove(engine, "before_cursor_execute", before)


def test_map_queries_do_not_grow_with_assets(app, client, auth, officer, district, frozen_clock):
    frozen_clock.set(MOMENT)
    sign_in(client, auth, officer)
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        factories.gen_inspection("CS-001", TODAY - timedelta(days=1))
        db.session.commit()
    statements, stop = count_queries(app)
    client.get("/map")
    few = len(statements)
    with app.app_context():
        for number in range(2, 40):
            factories.gen_asset(factories.charging_station_data(number))
            factories.gen_inspection(f"CS-{number:03d}", TODAY + timedelta(days=number % 9))
            gen_hazard(f"HZ-2026-{number:04d}", "general", f"CS-{number:03d}")
        db.session.commit()
    statements.clear()
    html = client.get("/map").get_data(as_text=True)
    stop()
    assert len(statements) == few
    asset_queries = [s for s in statements if "FROM assets" in s and "inspections" in s]
    assert len(asset_queries) <= 1  # the choropleth (the assets are fetched by the view)
    statements, stop = count_queries(app)
    assert len(drawn_on_page(client, html)) == 39
    stop()
    assert len(statements) <= 6  # the version, the user, the count and the points


def test_no_folium_marker_per_asset(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    assert "L.marker(" not in html and "L.circleMarker(" not in html
    assert html.count("SAR.assetLayer(") == 2  # one per kind


# --- Filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("kind=elevator_blocker", {"EB-0001"}),
        ("status=red", {"CS-001", "CS-002", "CS-003"}),
        ("status=orange&kind=charging_station", {"CS-004", "CS-005"}),
        ("status=grey", {"CS-008"}),
        ("grid=G2", {"EB-0001"}),
        ("grid=g1-01&status=green", {"CS-006", "CS-007", "CS-009"}),
        ("grid=none", set()),
        ("q=cs-00", set(EXPECTED) - {"EB-0001"}),
        ("q=Blocker", {"EB-0001"}),
        ("q=100%25", set()),
    ],
)
def test_filters_change_what_is_drawn(client, auth, officer, status_district, query, codes):
    sign_in(client, auth, officer)
    response = client.get(f"/map?{query}")
    assert response.status_code == 200
    assert set(drawn_on_page(client, response.get_data(as_text=True))) == codes


def test_contractor_filter_and_shareable_url(app, client, auth, officer, status_district):
    sign_in(client, auth, officer)
    with app.app_context():
        other = factories.gen_contractor("Other Co").id
    response = client.get(f"/map?contractor={other}&status=grey&q=CS")
    html = response.get_data(as_text=True)
    assert set(drawn_on_page(client, html)) == {"CS-008"}
    share = re.search(r'id="share-link" href="([^"]+)"', html).group(1)
    assert share.startswith("/map?")
    again = client.get(share.replace("&amp;", "&")).get_data(as_text=True)
    assert set(drawn_on_page(client, again)) == {"CS-008"}
    assert f'<option value="{other}" selected>' in html  # the form shows the filter
    assert '<option value="grey" selected>' in html
    assert 'name="q" value="CS"' in html


@pytest.mark.parametrize(
    "query", ["kind=rocket", "status=purple", "contractor=abc", "q=" + "x" * 201]
)
def test_bad_filters_are_refused(client, auth, officer, status_district, query):
    sign_in(client, auth, officer)
    response = client.get(f"/map?{query}")
    assert response.status_code == 400
    assert b"SAR.assetLayer" not in response.data


# --- Contractors -------------------------------------------------------------------------------


def test_contractor_sees_only_assets_of_its_inspections(
    client, auth, contractor_user, status_district
):
    sign_in(client, auth, contractor_user)
    html = client.get("/map").get_data(as_text=True)
    # Fixers Ltd holds the inspections of CS-001, CS-004, CS-006, CS-007 and EB-0001
    assert drawn_on_page(client, html).keys() == {
        "CS-001",
        "CS-004",
        "CS-006",
        "CS-007",
        "EB-0001",
    }
    assert "Other Co" not in html
    # the contractor filter cannot widen the view
    with client.application.app_context():
        other = factories.gen_contractor("Other Co").id
    widened = client.get(f"/map?contractor={other}").get_data(as_text=True)
    assert drawn_on_page(client, widened).keys() == drawn_on_page(client, html).keys()
    # it never sees hazards its company neither reported nor is responsible for
    assert hazards_on_page(client, html) == {"major": [], "general": []}
    assert client.get("/map/popup/CS-008").status_code == 404
    assert client.get("/map/popup/CS-003").status_code == 404


def test_contractor_popup_links_to_the_logging_form(client, auth, contractor_user, status_district):
    sign_in(client, auth, contractor_user)
    response = client.get("/map/popup/cs-004")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'href="/inspections/asset/CS-004/next"' in html
    assert 'href="/assets/CS-004"' in html


def test_popup_shows_the_asset_facts(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    response = client.get("/map/popup/CS-005")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for text in (
        "CS-005",
        "Charging station 5",
        "E-bike charging station",
        "Due soon or general hazard",
        "1 Harbour Road",
        'href="/assets/CS-005"',
    ):
        assert text in html
    assert re.search(r"Open hazards</th><td>1<", html)
    assert "/inspections/asset/" not in html  # the logging link is for contractors
    due = client.get("/map/popup/CS-004").get_data(as_text=True)
    assert (TODAY + timedelta(days=7)).isoformat() in due
    assert client.get("/map/popup/CS-404").status_code == 404


# --- Offline: vendored files, tiles ------------------------------------------------------------

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(https?:)?//""", re.I)


def external_references(html: str) -> list[str]:
    """src/href attributes and url() leaving the app (absolute http(s) or protocol-relative)."""
    found = [match.group(0) for match in EXTERNAL.finditer(html)]
    found += re.findall(r"""url\(\s*["']?(?:https?:)?//[^)]*\)""", html, re.I)
    return found


@pytest.fixture
def tiles_app(database_url, tmp_path, request):
    from app import create_app

    config = helpers.test_config(database_url, MAP_TILES=request.param, TIANDITU_KEY="k3y")
    app = create_app(config)
    with app.app_context():
        factories.gen_district()
        factories.gen_user("officer@example.org", "officer")
        factories.gen_asset(factories.charging_station_data(1))
        gen_hazard("HZ-2026-0001", "major", "CS-001")
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def map_html(app, path="/map") -> str:
    client = app.test_client()
    client.post("/login", data={"email": "officer@example.org", "password": factories.PASSWORD})
    client.get("/lang/en")
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("tiles_app", ["none"], indirect=True)
def test_without_tiles_nothing_leaves_the_app(tiles_app):
    html = map_html(tiles_app)
    assert not re.search(r"https?://", html)
    assert "L.tileLayer" not in html
    assert '"maxZoom": 19' in html  # the cluster layer needs it without a tile layer
    assert external_references(html) == []
    client = tiles_app.test_client()
    for url in re.findall(r"""(?:src|href)="(/[^"]*)\"""", html):
        if url.startswith("/static/") or url.startswith("/map/static/"):
            response = client.get(url)
            assert response.status_code == 200, url
            response.close()


@pytest.mark.parametrize(
    ("tiles_app", "host"),
    [("osm", "tile.openstreetmap.org"), ("tianditu", "tianditu.gov.cn"), ("gaode", "autonavi")],
    indirect=["tiles_app"],
)
def test_only_tile_templates_leave_the_app(tiles_app, host):
    html = map_html(tiles_app)
    assert external_references(html) == []
    urls = re.findall(r"https?://[^\s\"'<>]+", html)
    assert urls and all(host in url and "{z}" in url or "{x}" in url for url in urls), urls
    if host == "tianditu.gov.cn":
        assert "tk=k3y" in html


@pytest.mark.parametrize("tiles_app", ["gaode"], indirect=True)
def test_gaode_shifts_every_drawn_coordinate(tiles_app):
    client = tiles_app.test_client()
    client.post("/login", data={"email": "officer@example.org", "password": factories.PASSWORD})
    html = client.get("/map").get_data(as_text=True)
    assert viewport_options(html)["gcj02"] is True  # the script sends WGS-84 boxes
    longitude, latitude = factories.INSIDE_G1_01
    shifted_lon, shifted_lat = wgs84_to_gcj02(longitude, latitude)
    _status, lat, lon = drawn_on_page(client, html)["CS-001"]
    assert (lat, lon) == (round(shifted_lat, 6), round(shifted_lon, 6))
    hazards = fetch_view(client, html, "hazardsUrl")["hazards"]
    assert [hazards["lat"][0], hazards["lon"][0]] == [round(shifted_lat, 6), round(shifted_lon, 6)]
    grid = layer_data(html, "gridLayer")[2]["features"][0]  # first-level G1
    corner = grid["geometry"]["coordinates"][0][0]
    expected = wgs84_to_gcj02(119.10, 36.70)
    assert corner == pytest.approx(list(expected), abs=1e-9)
    with tiles_app.app_context():  # the database keeps WGS-84
        from geoalchemy2.shape import to_shape

        point = to_shape(asset_by_code("CS-001").location)
        assert (point.x, point.y) == factories.INSIDE_G1_01


@pytest.mark.parametrize("tiles_app", ["none", "gaode"], indirect=True)
def test_the_district_map_has_a_locate_me_button(tiles_app):
    """Leaflet.Locate from the app's static files, told whether to shift the phone's WGS-84
    position to GCJ-02 (Gaode tiles) and where to say that locating failed. (Clicking it on a
    phone: tests/test_phone_browser.py.)"""
    html = map_html(tiles_app)
    assert "/static/vendor/leaflet.locatecontrol-0.90.1/L.Control.Locate.min.js" in html
    assert "/static/vendor/leaflet.locatecontrol-0.90.1/L.Control.Locate.min.css" in html
    call = re.search(r"SAR\.locateControl\(\s*(\w+),\s*(\{.*?\})\);", html)
    assert call.group(1).startswith("map_")
    options = json.loads(call.group(2))
    assert options["gcj02"] is (tiles_app.config["MAP_TILES"] == "gaode")
    assert options["title"] == "Show where I am"
    assert options["statusId"] == "locate-status" and 'id="locate-status"' in html
    assert "{distance}" in options["popup"]
    # the small maps of other pages have no such button
    with tiles_app.test_request_context("/"):
        assert "locateControl" not in str(build.point_map(119.15, 36.715))


def test_every_folium_cdn_file_is_vendored(app):
    names = dict(folium.Map.default_js + folium.Map.default_css)
    names.update(MarkerCluster.default_js + MarkerCluster.default_css)
    names.update(FastMarkerCluster.default_js + FastMarkerCluster.default_css)
    names.update(LocateControl.default_js + LocateControl.default_css)
    assert set(names) <= set(build.VENDORED_FILES)
    client = app.test_client()
    for name, path in build.VENDORED_FILES.items():
        assert (ROOT / "static" / path).is_file(), name
        response = client.get(f"/static/{path}")
        assert response.status_code == 200, name
        response.close()
    readme = (ROOT / "static" / "vendor" / "README.md").read_text()
    packages = ("leaflet", "leaflet.markercluster", "leaflet.locatecontrol", "jquery", "bootstrap")
    for package in (*packages, "fontawesome"):
        assert package in readme
    assert "leaflet-1.9." in build.VENDORED_FILES["leaflet"]
    assert "markercluster-1.5." in build.VENDORED_FILES["markerclusterjs"]


# --- Escaping ----------------------------------------------------------------------------------


def test_script_json_cannot_close_a_script():
    value = {"a": XSS_PAYLOADS, "b": "\u2028\u2029&<>'"}
    text = str(build.script_json(value))
    for character in "<>&'\u2028\u2029":
        assert character not in text
    assert json.loads(text) == value


def test_corpus_is_large_enough():
    assert len(XSS_PAYLOADS) >= 50
    assert len(set(XSS_PAYLOADS)) == len(XSS_PAYLOADS)


@pytest.fixture
def xss_district(app, frozen_clock):
    frozen_clock.set(MOMENT)
    with app.app_context():
        gen_xss_district()
        db.session.commit()


def test_payloads_never_reach_a_page_unescaped(client, auth, officer, xss_district):
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    for payload in XSS_PAYLOADS:
        if "<" in payload:  # `${…}` and quotes are inert inside JSON strings and HTML text
            assert payload not in html, payload
    # exactly the page's own script elements, none opened or closed by a payload
    assert html.count("</script>") == html.count("<script")
    # the hazards' popups are fetched on click, escaped (tests/test_map_viewport.py)
    hazards = hazards_on_page(client, html)
    assert len(hazards["major"]) + len(hazards["general"]) == len(XSS_PAYLOADS)
    tooltips = "".join(
        feature["properties"]["tooltip"]
        for data in grid_layers(html)
        for feature in data["features"]
    )
    assert str(escape(XSS_PAYLOADS[0])) in tooltips and XSS_PAYLOADS[0] not in tooltips


def test_popups_escape_names_and_addresses(client, auth, officer, xss_district):
    sign_in(client, auth, officer)
    for number, payload in enumerate(XSS_PAYLOADS, start=1):
        html = client.get(f"/map/popup/CS-{number:03d}").get_data(as_text=True)
        assert html.count(str(escape(payload.strip()))) == 2  # name and address (stripped)
        if "<" in payload or '"' in payload:
            assert payload not in html


def test_search_text_is_escaped_in_the_form(client, auth, officer, xss_district):
    sign_in(client, auth, officer)
    payload = '"><script>window.__xss=1</script>'
    html = client.get("/map", query_string={"q": payload}).get_data(as_text=True)
    assert payload not in html
    assert str(escape(payload)) in html


# --- Small maps for other pages ----------------------------------------------------------------


def test_point_map_draws_the_point_and_its_neighbours(app, district):
    with app.app_context():
        neighbour = factories.gen_asset(
            factories.charging_station_data(2, name="<img src=x onerror=alert(1)>")
        )
        db.session.commit()
        with app.test_request_context("/"):
            html = str(build.point_map(119.15, 36.715, neighbours=[(neighbour, "red")]))
    assert "/static/vendor/leaflet-1.9.4/leaflet.js" in html
    assert not re.search(r"https?://(?!tile\.openstreetmap\.org/\{z\})", html)
    point = layer_data(html, "pointLayer")[0]
    assert point["rows"] == [[36.715, 119.15]]
    assets = layer_data(html, "assetLayer")[0]
    assert assets["code"] == ["CS-002"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in assets["popup"][0]
    assert "<img src=x" not in html


def test_picker_map_writes_into_the_form_inputs(app, district):
    app.config["MAP_TILES"] = "gaode"
    with app.app_context(), app.test_request_context("/"):
        html = str(build.point_picker_map(None, None))
        located = str(build.point_picker_map(119.15, 36.715, "lon", "lat"))
    options = re.search(r"SAR\.pickerLayer\(\s*\w+,\s*\{\},\s*(\{.*?\})\s*\)", html, re.S)
    assert json.loads(options.group(1)) == {
        "longitudeInput": "longitude",
        "latitudeInput": "latitude",
        "gcj02": True,
    }
    assert '"lon"' in located and '"lat"' in located
    centre = re.search(r"center: \[([\d.]+), ([\d.]+)\]", located)
    expected_lon, expected_lat = wgs84_to_gcj02(119.15, 36.715)
    assert float(centre.group(1)) == pytest.approx(expected_lat)
    assert float(centre.group(2)) == pytest.approx(expected_lon)


def test_asset_page_shows_the_asset_and_its_neighbours(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    html = client.get("/assets/CS-001").get_data(as_text=True)
    assert 'id="asset-map"' in html
    assert layer_data(html, "pointLayer")[0]["rows"] == [[36.715, 119.15]]
    drawn = drawn_assets(html)
    # the nine stations share the point; the blocker is 10 km away
    assert drawn.keys() == {f"CS-{number:03d}" for number in range(1, 10)}
    assert {code: status for code, (status, _lat, _lon) in drawn.items()} == {
        code: status for code, status in EXPECTED.items() if code.startswith("CS-")
    }


def test_contractor_sees_only_its_own_neighbours(client, auth, contractor_user, status_district):
    sign_in(client, auth, contractor_user)
    html = client.get("/assets/CS-004").get_data(as_text=True)
    assert drawn_assets(html).keys() == {"CS-001", "CS-004", "CS-006", "CS-007"}


def test_hazard_page_shows_its_point(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    html = client.get("/hazards/HZ-2026-0001").get_data(as_text=True)
    assert 'id="hazard-map"' in html
    assert layer_data(html, "pointLayer")[0]["rows"] == [[36.715, 119.15]]
    assert "CS-003" in drawn_assets(html)


def test_hazard_form_picks_the_point_on_a_map(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    html = client.get("/hazards/new").get_data(as_text=True)
    options = re.search(r"SAR\.pickerLayer\(\s*\w+,\s*\{\},\s*(\{.*?\})\s*\)", html, re.S)
    assert json.loads(options.group(1))["longitudeInput"] == "longitude"
    assert 'id="longitude"' in html and 'id="latitude"' in html
    # a refused form keeps the typed point as the picker's centre
    refused = client.post(
        "/hazards/new",
        data={"longitude": "119.25", "latitude": "36.745", "description": ""},
    ).get_data(as_text=True)
    centre = re.search(r"center: \[([\d.]+), ([\d.]+)\]", refused)
    assert (float(centre.group(1)), float(centre.group(2))) == (36.745, 119.25)


def test_small_maps_escape_neighbour_names(client, auth, officer, xss_district):
    sign_in(client, auth, officer)
    for path in ("/assets/CS-001", "/hazards/HZ-2026-0001"):
        html = client.get(path).get_data(as_text=True)
        for payload in XSS_PAYLOADS:
            if "<" in payload:
                assert payload not in html, (path, payload)
        assert html.count("</script>") == html.count("<script")


# --- Reading the map at a glance: reasons, symbols, contrast, one cluster layer, labels ----------


@pytest.mark.parametrize(
    ("code", "status", "reasons"),
    [
        ("CS-001", "red", ["Overdue 1 day"]),
        ("CS-002", "red", ["Faulty"]),
        ("CS-003", "red", ["Major hazard HZ-2026-0001"]),
        ("CS-004", "orange", ["Due in 7 days"]),
        ("CS-005", "orange", ["General hazard HZ-2026-0002"]),
        ("CS-009", "green", ["In order"]),
        ("CS-008", "grey", ["Retired"]),
        ("EB-0001", "orange", ["Due today"]),
    ],
)
def test_popup_says_why_in_words_on_white(
    client, auth, officer, status_district, code, status, reasons
):
    sign_in(client, auth, officer)
    html = client.get(f"/map/popup/{code}").get_data(as_text=True)
    assert f'data-status="{status}"' in html
    found = re.findall(r'<span class="sar-reason">([^<]*)</span>', html)
    assert found == reasons
    # the popup itself is never filled with the status colour: only its chip is
    assert re.search(r'<div class="sar-popup"[^>]*>', html)
    assert not re.search(r'<div class="sar-popup[^"]*sar-status-', html)
    assert f'class="sar-chip sar-status-{status}"' in html
    # the asset's condition and its map status are separate lines, no "Active · Overdue…"
    assert " · Overdue, faulty" not in html


def test_popup_counts_overdue_days_from_the_oldest_inspection(
    app, client, auth, officer, status_district
):
    with app.app_context():
        factories.gen_inspection("CS-001", TODAY - timedelta(days=14))
        gen_hazard("HZ-2026-0009", "major", "CS-001")
        db.session.commit()
    sign_in(client, auth, officer)
    html = client.get("/map/popup/CS-001").get_data(as_text=True)
    found = re.findall(r'<span class="sar-reason">([^<]*)</span>', html)
    assert found == ["Overdue 14 days", "Major hazard HZ-2026-0009"]


def test_popup_reasons_are_translated(client, auth, officer, status_district):
    auth.login(officer)
    client.get("/lang/zh")
    html = client.get("/map/popup/CS-001").get_data(as_text=True)
    assert re.findall(r'<span class="sar-reason">([^<]*)</span>', html) == ["逾期 1 天"]
    html = client.get("/map/popup/CS-003").get_data(as_text=True)
    assert "重大隐患 HZ-2026-0001" in html


def test_popup_reasons_escape_hazard_codes(app):
    from assets.models import Asset
    from maps.status import StatusReasons

    reasons = StatusReasons("red", False, None, "<b>HZ</b>", None, None)
    asset = Asset(code="CS-1", name="<i>x</i>", kind="charging_station", status="active")
    with app.test_request_context():
        html = build.asset_popup_html(asset, "red", None, 0, False, reasons.words(TODAY))
    assert "<b>HZ</b>" not in html and "&lt;b&gt;HZ&lt;/b&gt;" in html
    assert "<i>x</i>" not in html


def hex_luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    low, high = sorted((hex_luminance(first), hex_luminance(second)))
    return (high + 0.05) / (low + 0.05)


def test_status_colours_have_enough_contrast():
    """White symbols and counts on every status colour >= 4.5:1 (text), and every marker
    against a white map >= 3:1 (a symbol), read from the stylesheet itself."""
    css = (ROOT / "maps" / "static" / "map.css").read_text()
    colours = dict(re.findall(r"\.sar-status-(\w+) \{ background: (#[0-9a-f]{6}); \}", css))
    assert set(colours) == {"red", "orange", "green", "grey", "none"}
    for status, colour in colours.items():
        assert contrast(colour, "#ffffff") >= 4.5, status
    for severity, colour in build.SEVERITY_COLOURS.items():
        assert contrast(colour, "#ffffff") >= 3.0, severity
    app_css = (ROOT / "static" / "css" / "app.css").read_text()
    for severity, colour in build.SEVERITY_COLOURS.items():
        assert f".legend-hazard-{severity} {{ background: {colour}; }}" in app_css


def test_markers_carry_a_symbol_per_status(client, auth, officer, status_district):
    from maps.status import MAP_STATUS_SYMBOLS

    assert len(set(MAP_STATUS_SYMBOLS.values())) == 4
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    for data in layer_data(html, "assetLayer"):
        assert data["symbols"] == [MAP_STATUS_SYMBOLS[status] for status in data["statuses"]]
    legend = html[html.index('id="map-legend"') :]
    for symbol in MAP_STATUS_SYMBOLS.values():
        assert f'<span aria-hidden="true">{escape(symbol)}</span>' in legend


def test_map_has_a_metric_scale_and_one_cluster_layer(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    assert "L.control.scale({imperial: false})" in html
    assert "L.control.scale()" not in html
    js = (ROOT / "maps" / "static" / "map.js").read_text()
    # one markerClusterGroup per map, shared by every kind's layer
    assert js.count("L.markerClusterGroup(") == 1
    assert "map.sarCluster" in js
    assert len(layer_data(html, "assetLayer")) == 2


def test_grids_are_labelled_at_their_centres(client, auth, officer, status_district):
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    levels = sorted(option.get("labelLevel", 0) for option in layer_options(html, "gridLayer"))
    assert levels == [0, 1, 2]
    for data in grid_layers(html)[1:]:
        for feature in data["features"]:
            label = feature["properties"]["label"]
            assert label.startswith(feature["properties"]["code"])
            lat, lon = feature["properties"]["centre"]
            assert -90 <= lat <= 90 and -180 <= lon <= 180


def test_grid_labels_escape_names(client, auth, officer, xss_district):
    sign_in(client, auth, officer)
    html = client.get("/map").get_data(as_text=True)
    for data in grid_layers(html):
        for feature in data["features"]:
            assert "<" not in feature["properties"]["label"].replace("&lt;", "")
