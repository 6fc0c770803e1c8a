"""The map in a real browser: Debian's headless Chromium driven by Playwright, against the
app served on 127.0.0.1 by a real server in a thread. Every request that would leave
127.0.0.1 is refused and fails the test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import func, select

from app import create_app
from assets.models import Asset
from core.extensions import db
from maps.status import NEIGHBOUR_LIMIT
from tests import factories, helpers
from tests.factories import XSS_PAYLOADS, gen_xss_district
from tests.helpers import CHROMIUM, DRAWN_READY, Watched, served

pytestmark = [pytest.mark.slow, pytest.mark.alternate_databases]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# A journey on a phone adds what the browser makes of the page (layout, taps), the same
# whichever database filled it: the desktop journey reads stored data on both.
PHONE_ON_ONE_DATABASE = pytest.param("phone", marks=pytest.mark.one_database)


@pytest.fixture(scope="module")
def playwright():
    with playwright_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright):
    # bin/test installs Debian's chromium: a missing browser fails, it is never skipped
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def demo_server(demo_app) -> Iterator[str]:
    """The demo district (read only), served without tiles: nothing may leave the machine."""
    app = create_app(
        helpers.test_config(demo_app.config["SQLALCHEMY_DATABASE_URI"], MAP_TILES="none")
    )
    with served(app) as base_url:
        yield base_url
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def officer_page(browser, demo_server) -> Iterator[Watched]:
    from demo.district import ACCOUNTS, OFFICER

    password = next(entry[1] for entry in ACCOUNTS if entry[0] == OFFICER)
    watched = Watched(browser, demo_server)
    watched.sign_in(OFFICER, password)
    yield watched
    watched.close()


def demo_count(demo_app, *conditions) -> int:
    with demo_app.app_context():
        count = db.session.scalar(select(func.count(Asset.id)).where(*conditions))
        db.session.remove()
        return count


def test_map_draws_every_demo_asset(officer_page, demo_app):
    total = demo_count(demo_app)
    assert total == 454
    officer_page.open_map(expected=total)
    assert officer_page.drawn() == 454
    # layer control, legend and grid boundaries are there
    assert officer_page.page.locator(".leaflet-control-layers-overlays label").count() >= 7
    assert officer_page.page.locator(".map-legend li").count() >= 8
    ARTIFACTS.mkdir(exist_ok=True)
    officer_page.page.screenshot(path=str(ARTIFACTS / "map.png"), full_page=True)
    officer_page.assert_clean()


def test_filter_form_changes_what_is_drawn(officer_page, demo_app):
    stations = demo_count(demo_app, Asset.kind == "charging_station")
    officer_page.open_map(expected=454)
    page = officer_page.page
    page.select_option("#map-kind", "charging_station")
    with page.expect_navigation():
        page.click(".map-filters button[type=submit]")
    assert "kind=charging_station" in page.url
    page.wait_for_function(DRAWN_READY, arg=stations)
    assert officer_page.drawn() == stations < 454
    assert page.locator(".leaflet-marker-icon.sar-shape-square").count() == 0
    officer_page.assert_clean()


def test_clicking_a_marker_opens_its_popup(officer_page, demo_app):
    with demo_app.app_context():
        name = db.session.scalar(select(Asset.name).where(Asset.code == "CS-001"))
        db.session.remove()
    officer_page.open_map("?q=CS-001", expected=1)
    page = officer_page.page
    page.click('.sar-marker[title="CS-001"]')
    popup = page.locator('.leaflet-popup-content .sar-popup[data-code="CS-001"]')
    popup.wait_for()
    text = popup.inner_text()
    assert "CS-001" in text and name in text
    assert popup.locator('a[href="/assets/CS-001"]').count() == 1
    officer_page.assert_clean()


OPEN_EVERYTHING = """async () => {
  const map = window.sarMap;
  const layers = window.SAR.layers;
  let popups = 0;
  for (const [key, layer] of Object.entries(layers)) {
    if (!key.startsWith('assets:')) continue;
    for (const marker of layer.getLayers()) {
      const url = '/map/popup/' + encodeURIComponent(marker.options.title);
      const html = await (await fetch(url, {credentials: 'same-origin'})).text();
      L.popup().setLatLng(marker.getLatLng()).setContent(html).openOn(map);
      popups += 1;
      await new Promise(resolve => setTimeout(resolve, 5));
    }
  }
  for (const key of ['hazards:major', 'hazards:general']) {
    for (const marker of layers[key].getLayers()) {
      const url = '/map/hazard-popup/' + encodeURIComponent(marker.options.sarCode);
      const html = await (await fetch(url, {credentials: 'same-origin'})).text();
      L.popup().setLatLng(marker.getLatLng()).setContent(html).openOn(map);
      popups += 1;
      await new Promise(resolve => setTimeout(resolve, 5));
    }
  }
  map.addLayer(layers['choropleth']);
  for (const key of ['choropleth', 'grids:1', 'grids:2']) {
    layers[key].eachLayer(shape => shape.openTooltip(shape.getBounds().getCenter()));
  }
  await new Promise(resolve => setTimeout(resolve, 300));
  return popups;
}"""


OPEN_NEIGHBOURS = """async () => {
  let popups = 0;
  for (const [key, layer] of Object.entries(window.SAR.layers)) {
    if (!key.startsWith('assets:')) continue;
    for (const marker of layer.getLayers()) {
      marker.openPopup();
      popups += 1;
      await new Promise(resolve => setTimeout(resolve, 5));
    }
  }
  return popups;
}"""


@pytest.mark.one_database
def test_xss_corpus_executes_nothing(browser, app, monkeypatch):
    app.config["MAP_TILES"] = "none"
    with app.app_context():
        gen_xss_district()
        factories.gen_user("officer@example.org", "officer")
        db.session.commit()
    with served(app) as base_url:
        watched = Watched(browser, base_url)
        try:
            watched.sign_in("officer@example.org", factories.PASSWORD)
            watched.open_map(expected=len(XSS_PAYLOADS))
            opened = watched.page.evaluate(OPEN_EVERYTHING)
            assert opened == 2 * len(XSS_PAYLOADS)
            assert watched.page.locator(".leaflet-popup-content").count() >= 1
            # the payload is shown as text: the last hazard popup reads as typed
            watched.page.goto(base_url + "/map?q=" + "%3Cscript%3Ewindow.__xss%3D1")
            watched.assert_clean()
            # the small maps of the asset and hazard pages embed their neighbours' popups
            for path in ("/assets/CS-001", "/hazards/HZ-2026-0001"):
                watched.page.goto(base_url + path)
                watched.page.wait_for_selector(".small-map .sar-marker")
                opened = watched.page.evaluate(OPEN_NEIGHBOURS)
                assert opened == min(len(XSS_PAYLOADS), NEIGHBOUR_LIMIT)
                watched.assert_clean()
        finally:
            watched.close()


def test_hazard_form_point_is_picked_on_the_map(officer_page):
    page = officer_page.page
    page.goto(officer_page.base_url + "/hazards/new")
    container = page.locator("#hazard-picker .leaflet-container")
    container.scroll_into_view_if_needed()
    box = container.bounding_box()
    x, y = box["width"] / 2 + 40, box["height"] / 2 - 25  # within a pixel (1e-4° at zoom 13)
    expected = page.evaluate(
        "([x, y]) => { const p = window.sarMap.containerPointToLatLng([x, y]);"
        " return [p.lng, p.lat]; }",
        [x, y],
    )
    page.mouse.click(box["x"] + x, box["y"] + y)
    assert float(page.input_value("#longitude")) == pytest.approx(expected[0], abs=1e-4)
    assert float(page.input_value("#latitude")) == pytest.approx(expected[1], abs=1e-4)
    assert page.locator("#hazard-picker .sar-point").count() == 1
    # typing a point moves the marker there
    page.fill("#longitude", "119.200000")
    page.fill("#latitude", "36.730000")
    marker = page.evaluate(
        "() => { let found = null; window.sarMap.eachLayer(layer => {"
        " if (layer instanceof L.Marker) found = layer.getLatLng(); });"
        " return [found.lng, found.lat]; }"
    )
    assert marker == pytest.approx([119.2, 36.73])
    officer_page.assert_clean()


def test_browser_gcj02_matches_the_server(officer_page):
    """The picker shifts clicks back from GCJ-02 in the browser: map.js must agree with
    maps/coords.py, and its inverse must land within 2 m."""
    from core.spatial import distance_m
    from maps.coords import wgs84_to_gcj02

    officer_page.open_map()
    points = [(119.15, 36.715), (119.3, 36.76), (121.5272106, 31.1774276), (116.377817, 39.911954)]
    shifted = officer_page.page.evaluate(
        "points => points.map(([lon, lat]) => {"
        " const gcj = SAR.toGcj(lon, lat); return [gcj, SAR.fromGcj(gcj[0], gcj[1])]; })",
        [list(point) for point in points],
    )
    for (longitude, latitude), (gcj, back) in zip(points, shifted, strict=True):
        assert gcj == pytest.approx(list(wgs84_to_gcj02(longitude, latitude)), abs=1e-9)
        assert distance_m(back[0], back[1], longitude, latitude) < 2.0


# --- Reading the map at a glance, on a wide screen and on a phone, in both languages --------

SCREENS = {
    "desktop": lambda playwright: {"viewport": {"width": 1440, "height": 900}},
    "phone": lambda playwright: {
        **{
            key: value
            for key, value in playwright.devices["Pixel 7"].items()
            if key != "default_browser_type"
        },
        "geolocation": {"longitude": 119.16, "latitude": 36.71, "accuracy": 8},
        "permissions": ["geolocation"],
    },
}
OVERDUE_WORDS = {"en": r"^Overdue \d+ days?$", "zh": r"^逾期 \d+ 天$"}

CLUSTER_ICONS = """() => [...document.querySelectorAll('.leaflet-marker-icon.sar-cluster')]
  .map(icon => { const box = icon.getBoundingClientRect();
    return {worst: icon.querySelector('.sar-cluster-worst').textContent,
            total: Number(icon.querySelector('[data-count]').dataset.count),
            status: [...icon.classList].find(name => name.startsWith('sar-status-')),
            box: [box.left, box.top, box.right, box.bottom]}; })"""


class ScreenWatched(Watched):
    """``Watched`` on a given screen (context options) reading a given language."""

    def __init__(self, browser, base_url: str, options: dict):
        self.base_url = base_url
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(helpers.WAIT_MS)
        self.left, self.errors, self.dialogs = [], [], []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("dialog", self._dialog)


def overdue_code(demo_app) -> str:
    from core.clock import district_today
    from inspections.models import Inspection
    from inspections.services import overdue_clause

    with demo_app.app_context():
        code = db.session.scalar(
            select(Asset.code)
            .join(Inspection, Inspection.asset_id == Asset.id)
            .where(overdue_clause(district_today()), Asset.status == "active")
            .order_by(Asset.code)
            .limit(1)
        )
        db.session.remove()
    assert code
    return code


def overlapping(boxes: list[list[float]]) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, a in enumerate(boxes)
        for j, b in enumerate(boxes[i + 1 :], start=i + 1)
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]


@pytest.mark.one_database
@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_map_reads_at_a_glance(playwright, browser, demo_server, demo_app, screen, language):
    from demo.district import ACCOUNTS, OFFICER

    watched = ScreenWatched(browser, demo_server, SCREENS[screen](playwright))
    try:
        password = next(entry[1] for entry in ACCOUNTS if entry[0] == OFFICER)
        watched.sign_in(OFFICER, password)
        watched.context.request.get(demo_server + "/lang/" + language)
        watched.open_map(expected=454)
        page = watched.page
        # one cluster layer: each icon counts its worst status, of all; none overlaps another
        clusters = page.evaluate(CLUSTER_ICONS)
        assert clusters
        symbols = {"red": "!", "orange": "\u25f7", "green": "\u2713", "grey": "\u00d7"}
        for cluster in clusters:
            status = cluster["status"].removeprefix("sar-status-")
            assert cluster["worst"].startswith(symbols[status])
            assert 1 <= int(cluster["worst"][1:]) <= cluster["total"]
        assert overlapping([cluster["box"] for cluster in clusters]) == []
        # metric scale only; grid labels at the grids' centres
        assert page.locator(".leaflet-control-scale-line").count() == 1
        assert page.locator(".sar-grid-label").count() > 0
        control = page.locator(".leaflet-control-layers")
        legend = page.locator("#map-legend")
        if screen == "desktop":
            assert "leaflet-control-layers-expanded" in control.get_attribute("class")
            box = legend.locator(".legend-list").first.bounding_box()
            assert box["y"] + box["height"] <= 900  # beside the map, in the first view
            assert legend.evaluate("node => node.open")
        else:
            assert "leaflet-control-layers-expanded" not in control.get_attribute("class")
            assert not legend.evaluate("node => node.open")
            legend.locator("summary").click()
            assert legend.evaluate("node => node.open")
        # an overdue asset's popup says so in words, on white
        code = overdue_code(demo_app)
        watched.open_map(f"?q={code}", expected=1)
        page.click(f'.sar-marker[title="{code}"]')
        popup = page.locator(f'.leaflet-popup-content .sar-popup[data-code="{code}"]')
        popup.wait_for()
        reasons = popup.locator(".sar-reason").all_inner_texts()
        assert any(re.match(OVERDUE_WORDS[language], reason) for reason in reasons), reasons
        assert popup.evaluate("node => getComputedStyle(node).backgroundColor") in (
            "rgb(255, 255, 255)",
            "rgba(0, 0, 0, 0)",
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"map-{screen}-{language}.png"))
        # Leaflet fades a popup in: axe once judged its table's contrast half-transparent.
        page.wait_for_function(
            "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
        )
        assert helpers.serious_violations(page) == []
        watched.assert_clean()
    finally:
        watched.close()


# --- Past the point limit: clusters made by the server -----------------------------------------

SERVER_CLUSTERS = ".leaflet-marker-icon.sar-cluster[title]"  # the plugin's carry no title
# The middle of the first such cluster inside the map's box (the view asks for a box larger
# than the map: some are drawn outside it).
# The answer for the map's zoom is drawn and no other is awaited.
VIEW_DRAWN = """() => {
  const map = window.sarMap, state = map.sarViewport;
  return map.getContainer().dataset.viewZoom === String(Math.round(map.getZoom()))
    && !state.timer && !state.assets;
}"""
CLUSTER_IN_VIEW = """selector => {
  const frame = window.sarMap.getContainer().getBoundingClientRect();
  for (const icon of document.querySelectorAll(selector)) {
    const box = icon.getBoundingClientRect();
    const x = (box.left + box.right) / 2, y = (box.top + box.bottom) / 2;
    if (x > frame.left + 30 && x < frame.right - 30 && y > frame.top + 30 && y < frame.bottom - 30)
      return [x, y];
  }
  return null;
}"""


@pytest.mark.one_database
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_server_clusters_zoom_in_by_click_and_keyboard(
    playwright, browser, demo_server, demo_app, screen, monkeypatch
):
    """With fewer points allowed than the demo has, the first view is clusters the server
    counted (every asset in one of them); a click or Enter on one zooms in, and further in
    the markers come back, with their popups."""
    from demo.district import ACCOUNTS, OFFICER
    from maps import viewport

    monkeypatch.setattr(viewport, "POINT_LIMIT", 60)
    watched = ScreenWatched(browser, demo_server, SCREENS[screen](playwright))
    try:
        password = next(entry[1] for entry in ACCOUNTS if entry[0] == OFFICER)
        watched.sign_in(OFFICER, password)
        watched.open_map(expected=454)
        page = watched.page
        assert page.locator(".leaflet-container").get_attribute("data-view") == "partial"
        clusters = page.locator(SERVER_CLUSTERS)
        assert clusters.count() > 1
        assert page.locator(".leaflet-marker-icon.sar-marker").count() == 0
        assert helpers.serious_violations(page) == []
        first = clusters.first
        assert first.get_attribute("role") == "button"
        assert first.get_attribute("tabindex") == "0"
        zoom = page.evaluate("() => window.sarMap.getZoom()")
        # Enter on a focused cluster zooms in
        first.focus()
        page.keyboard.press("Enter")
        page.wait_for_function("z => window.sarMap.getZoom() > z", arg=zoom)
        # clicks on clusters (the server's zoom in, the plugin's zoom in or spread out) go on
        # until markers show
        for _attempt in range(8):
            page.wait_for_function(VIEW_DRAWN)
            if page.locator(".leaflet-marker-icon.sar-marker").count():
                break
            x, y = page.evaluate(CLUSTER_IN_VIEW, ".leaflet-marker-icon.sar-cluster")
            page.mouse.click(x, y)
            page.wait_for_timeout(500)  # the zoom's or the spreading's animation
        page.locator(".leaflet-marker-icon.sar-marker").first.wait_for()
        page.wait_for_timeout(500)  # a spreading cluster's markers still moving
        # a marker inside the map's frame (the first may lie outside it, or under a control)
        x, y = page.evaluate(CLUSTER_IN_VIEW, ".leaflet-marker-icon.sar-marker")
        code = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('.sar-marker').title", [x, y]
        )
        page.mouse.click(x, y)
        popup = page.locator(f'.leaflet-popup-content .sar-popup[data-code="{code}"]')
        popup.wait_for()
        assert code in popup.inner_text()
        # the popup's autopan moved the map and the view was asked for again: it stays open
        page.wait_for_load_state("networkidle")
        assert popup.is_visible()
        page.wait_for_function(VIEW_DRAWN)
        page.wait_for_function(
            "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
        )
        assert helpers.serious_violations(page) == []
        watched.assert_clean()
    finally:
        watched.close()


SETTLED = "() => Number(window.sarMap.getContainer().dataset.viewSettled || 0)"
MOVED_AND_COUNTED = """() => {
  const before = Number(window.sarMap.getContainer().dataset.viewSettled);
  window.sarMap.panBy([200, 120], { animate: false });
  return [before, Number(window.sarMap.getContainer().dataset.viewSettled)];
}"""


@pytest.mark.one_database
def test_a_view_counts_as_settled_once_its_answer_is_drawn(
    browser, demo_server, demo_app, monkeypatch
):
    """``data-view-settled`` (what bench/bench_map_browser.py times pans and zooms by) counts a
    view when its assets' answer is drawn, not when the map stops moving; when everything is
    drawn already, a move asks nothing and counts at once after the debounce."""
    from demo.district import ACCOUNTS, OFFICER
    from maps import viewport

    password = next(entry[1] for entry in ACCOUNTS if entry[0] == OFFICER)
    watched = Watched(browser, demo_server)
    try:
        watched.sign_in(OFFICER, password)
        page = watched.page
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        # every demo asset in the first answer: a move asks nothing, yet counts
        watched.open_map(expected=454)
        page.wait_for_function(VIEW_DRAWN)
        assert page.locator(".leaflet-container").get_attribute("data-view") == "complete"
        settled = page.evaluate(SETTLED)
        assert settled >= 1
        views_asked = sum("/api/v1/map/assets" in url for url in asked)
        assert page.evaluate(MOVED_AND_COUNTED) == [settled, settled]
        page.wait_for_function(f"() => ({SETTLED})() === {settled + 1}")
        assert sum("/api/v1/map/assets" in url for url in asked) == views_asked
        # fewer points allowed than the view holds: each move is asked for, and counts only
        # once its answer is drawn (the zoom it was asked at shown, nothing pending)
        monkeypatch.setattr(viewport, "POINT_LIMIT", 60)
        watched.open_map(expected=454)
        page.wait_for_function(VIEW_DRAWN)
        assert page.locator(".leaflet-container").get_attribute("data-view") == "partial"
        settled = page.evaluate(SETTLED)
        with page.expect_response(lambda response: "/api/v1/map/assets" in response.url):
            assert page.evaluate(MOVED_AND_COUNTED) == [settled, settled]
            assert page.evaluate(SETTLED) == settled  # not counted on the move itself
        page.wait_for_function(f"() => ({SETTLED})() === {settled + 1}")
        assert page.evaluate(VIEW_DRAWN)
        watched.assert_clean()
    finally:
        watched.close()


# --- Past the grid embed limit: the view's grids fetched ---------------------------------------

GRIDS_DRAWN = """() => {
  const codes = key => window.SAR.layers[key].getLayers()
    .map(layer => layer.feature.properties.code).sort();
  const container = window.sarMap.getContainer();
  return {box: container.dataset.gridsBox, first: codes("grids:1"), second: codes("grids:2"),
          choropleth: codes("choropleth"),
          labels: document.querySelectorAll(".sar-grid-label").length};
}"""


def stored_grid_codes(demo_app, level: int, box: str) -> list[str]:
    """The reference: the demo's stored grids of ``level`` whose shape meets ``box``."""
    import shapely
    from geoalchemy2.shape import to_shape

    from assets.models import Grid

    envelope = shapely.box(*map(float, box.split(",")))
    with demo_app.app_context():
        grids = db.session.scalars(select(Grid).where(Grid.level == level)).all()
        codes = sorted(g.code for g in grids if to_shape(g.boundary).intersects(envelope))
        db.session.remove()
    return codes


@pytest.mark.parametrize("screen", ["desktop", PHONE_ON_ONE_DATABASE])
def test_province_grids_are_fetched_per_view(playwright, browser, demo_app, screen):
    """With fewer grids allowed in the page than the demo has (23), the page embeds none: each
    view's grids are fetched and drawn, the second level both as outlines and as the overdue
    choropleth, and they are the stored grids of the view's box, as the map moves."""
    from demo.district import ACCOUNTS, OFFICER

    app = create_app(
        helpers.test_config(
            demo_app.config["SQLALCHEMY_DATABASE_URI"], MAP_TILES="none", MAP_GRID_EMBED_LIMIT=5
        )
    )
    with served(app) as base_url:
        watched = ScreenWatched(browser, base_url, SCREENS[screen](playwright))
        try:
            password = next(entry[1] for entry in ACCOUNTS if entry[0] == OFFICER)
            watched.sign_in(OFFICER, password)
            watched.context.request.get(base_url + "/lang/en")
            watched.open_map(expected=454)
            page = watched.page
            page.wait_for_function("() => window.sarMap.getContainer().dataset.gridsBox")
            drawn = page.evaluate(GRIDS_DRAWN)
            assert drawn["first"] == stored_grid_codes(demo_app, 1, drawn["box"])
            assert drawn["second"] == stored_grid_codes(demo_app, 2, drawn["box"])
            assert len(drawn["second"]) == 20 and drawn["labels"] > 0
            assert drawn["choropleth"] == drawn["second"]
            # the choropleth switched on in the layer control, as a person would
            control = page.locator(".leaflet-control-layers")
            if screen == "phone":  # folded: a tap on its button opens it
                page.locator(".leaflet-control-layers-toggle").tap()
                page.wait_for_function(
                    "() => document.querySelector('.leaflet-control-layers-expanded')"
                )
            control.get_by_text("Overdue inspections per grid").click()
            assert page.evaluate("() => window.sarMap.hasLayer(window.SAR.layers.choropleth)")
            # zoomed in on a corner: the answer follows the view
            before = drawn["box"]
            page.evaluate(
                "() => { window.sarMap.setView([36.715, 119.16], 16, {animate: false}); }"
            )
            page.wait_for_function(
                "box => window.sarMap.getContainer().dataset.gridsBox !== box", arg=before
            )
            drawn = page.evaluate(GRIDS_DRAWN)
            assert drawn["second"] == stored_grid_codes(demo_app, 2, drawn["box"])
            assert 0 < len(drawn["second"]) < 20
            assert drawn["choropleth"] == drawn["second"]
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"map-grids-fetched-{screen}.png"))
            assert helpers.serious_violations(page) == []
            watched.assert_clean()
        finally:
            watched.close()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
