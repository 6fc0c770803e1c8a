"""The contractor's pages on a phone: Debian's headless Chromium emulating a Pixel 7 (touch,
a 2.625 device pixel ratio) with geolocation granted, against the app served on 127.0.0.1 by a
real server in a thread. Every request that would leave 127.0.0.1 is refused and fails the
test; so do console errors, page errors and dialogs.

What a phone must get right (issue 10): the contractor's home lists the work due now first and
the nearest first once the position is known, one tap from each logging form; at 360 px
nothing scrolls sideways, badges stay on one line, the header is a small bar whose menu opens,
and every link, button and field is a touch target of at least 44 × 44 px; the map's locate-me
button centres the map on the phone; axe-core finds nothing serious or critical.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright import sync_api as playwright_api

from accounts.access import visible
from accounts.services import user_by_email
from app import create_app
from core import clock
from core.extensions import db
from hazards.models import Hazard
from inspections.models import Inspection, InspectionStatus
from inspections.services import overdue_clause
from tests import conftest, factories
from tests.helpers import CHROMIUM, served
from tests.work_field import (
    COMING_NEAREST,
    NOW,
    NOW_BY_DUE,
    NOW_NEAREST,
    PHONE,
    gen_work_field,
)

pytestmark = [pytest.mark.slow, pytest.mark.alternate_databases]

WAIT_MS = 30_000
NARROW = 360  # the narrowest phones in use; a Pixel 7 is 412 CSS px wide
HEADER_MAX = 64
TARGET = 44
DEMO_CONTRACTOR = ("inspector@yuandu.example.cn", "yuandu-inspect-2024")
XINGANG = (119.21, 36.735)  # a point in the demo district
TILE = factories.png_bytes(1, 1, (230, 230, 230))  # answered for the Gaode map's tiles


@pytest.fixture(scope="module")
def playwright_and_browser():
    # bin/test installs Debian's chromium: a missing browser fails, it is never skipped
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield playwright, browser
        browser.close()


class Phone:
    """A Pixel 7 (optionally narrowed to ``width``) at ``position`` (longitude, latitude),
    geolocation granted unless ``located`` is False. Refuses every request leaving 127.0.0.1
    (answering ``tiles_host``'s with an empty tile) and records console errors, page errors
    and dialogs."""

    def __init__(
        self,
        playwright_and_browser,
        base_url: str,
        position: tuple[float, float] = PHONE,
        width: int | None = None,
        located: bool = True,
        tiles_host: str | None = None,
    ):
        playwright, browser = playwright_and_browser
        device = dict(playwright.devices["Pixel 7"])
        if width is not None:
            device["viewport"] = {"width": width, "height": 800}
        self.base_url = base_url
        self.tiles_host = tiles_host
        self.context = browser.new_context(
            **device,
            geolocation={"longitude": position[0], "latitude": position[1], "accuracy": 10},
            permissions=["geolocation"] if located else [],
        )
        self.context.set_default_timeout(WAIT_MS)
        self.left: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("dialog", self._dialog)

    def _route(self, route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host == "127.0.0.1":
            route.continue_()
        elif self.tiles_host and host.endswith(self.tiles_host):
            route.fulfill(status=200, content_type="image/png", body=TILE)
        else:
            self.left.append(url)
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def sign_in(self, email: str, password: str, language: str = "zh") -> None:
        """Through the sign-in form, as a person does (the real app checks its CSRF token)."""
        self.page.goto(self.base_url + "/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        with self.page.expect_navigation():
            self.page.click("main button[type=submit]")
        assert urlsplit(self.page.url).path == "/"
        self.context.request.get(self.base_url + f"/lang/{language}")

    def open(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, (path, response and response.status)
        self.page.wait_for_load_state("load")

    def assert_clean(self) -> None:
        assert self.left == [], "requests left 127.0.0.1"
        assert self.errors == []
        assert self.dialogs == []

    def close(self) -> None:
        self.context.close()


# --- The contractor's home ---------------------------------------------------------------------


@pytest.fixture
def frozen():
    clock.freeze(NOW)
    yield
    clock.freeze(None)


@pytest.fixture
def work_server(app, district, contractor_user, frozen) -> Iterator[tuple[str, dict[str, int]]]:
    """The work field (tests/work_field.py) served at a frozen 2026-03-10 10:00."""
    app.config["MAP_TILES"] = "none"
    with app.app_context():
        ids = gen_work_field()
        db.session.commit()
    with served(app) as base_url:
        yield base_url, ids


def listed(phone: Phone, selector: str) -> list[int]:
    return [
        int(found)
        for found in phone.page.eval_on_selector_all(
            f"{selector} .work-item", "items => items.map(item => item.dataset.id)"
        )
    ]


def names(ids: dict[str, int], listed_ids: list[int]) -> list[str]:
    by_id = {inspection_id: name for name, inspection_id in ids.items()}
    return [by_id[inspection_id] for inspection_id in listed_ids]


def test_home_puts_the_work_due_now_first_and_the_nearest_first(
    playwright_and_browser, work_server
):
    base_url, ids = work_server
    phone = Phone(playwright_and_browser, base_url, position=PHONE)
    try:
        phone.sign_in("fixer@example.org", factories.PASSWORD, "en")
        phone.open("/")
        phone.page.wait_for_selector("body[data-sorted=nearest]")
        assert names(ids, listed(phone, "#work-now")) == NOW_NEAREST
        assert names(ids, listed(phone, "#work-coming")) == COMING_NEAREST
        # the overdue and today's work is above the coming days on the screen
        now_box = phone.page.locator("#work-now").bounding_box()
        coming_box = phone.page.locator("#work-coming").bounding_box()
        assert now_box["y"] + now_box["height"] <= coming_box["y"]
        first = phone.page.locator("#work-now .work-item").first
        assert first.locator(".work-distance").inner_text() == "0 m"
        assert first.locator(".badge.inspection-overdue").inner_text() == "Overdue by 2 d"
        assert "accuracy about 10 m" in phone.page.inner_text("#position-status")
        phone.assert_clean()
    finally:
        phone.close()


def test_without_a_position_the_home_keeps_the_due_date_order(playwright_and_browser, work_server):
    base_url, ids = work_server
    phone = Phone(playwright_and_browser, base_url, located=False)
    try:
        phone.sign_in("fixer@example.org", factories.PASSWORD, "en")
        phone.open("/")
        assert phone.page.is_visible("#nearest-first")  # the phone asks when tapped
        assert phone.page.get_attribute("body", "data-sorted") is None
        assert names(ids, listed(phone, "#work-now")) == NOW_BY_DUE
        phone.assert_clean()
    finally:
        phone.close()


def test_each_item_of_the_home_opens_its_logging_form(playwright_and_browser, work_server):
    base_url, ids = work_server
    phone = Phone(playwright_and_browser, base_url)
    try:
        phone.sign_in("fixer@example.org", factories.PASSWORD, "en")
        phone.open("/")
        phone.page.wait_for_selector("body[data-sorted=nearest]")
        shown = listed(phone, "#work-now") + listed(phone, "#work-coming")
        assert len(shown) == 6
        for index, inspection_id in enumerate(shown):
            if index:
                phone.open("/")
            link = phone.page.locator(f'.work-item[data-id="{inspection_id}"] a.work-log')
            box = link.bounding_box()
            assert box["height"] >= TARGET and box["width"] >= TARGET
            with phone.page.expect_navigation():
                link.tap()
            assert urlsplit(phone.page.url).path == f"/inspections/{inspection_id}/log"
            assert phone.page.locator("form input[name=result]").count() == 2
        phone.assert_clean()
    finally:
        phone.close()


# --- Every contractor page at 360 px, on the demo district ---------------------------------------


@pytest.fixture(scope="module")
def demo_phone_server(demo_app) -> Iterator[str]:
    """The demo district (read only), served without tiles."""
    app = create_app(
        conftest.test_config(demo_app.config["SQLALCHEMY_DATABASE_URI"], MAP_TILES="none")
    )
    with served(app) as base_url:
        yield base_url
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def contractor_pages(demo_app) -> list[str]:
    """Every page a contractor's user opens, with records of its own (an overdue and a
    completed inspection, a hazard, an asset)."""
    with demo_app.app_context():
        user = user_by_email(DEMO_CONTRACTOR[0])
        mine = visible(user, Inspection)
        overdue = db.session.scalars(
            mine.where(overdue_clause()).order_by(Inspection.due_on, Inspection.id).limit(1)
        ).one()
        completed = db.session.scalars(
            mine.where(Inspection.status == InspectionStatus.COMPLETED)
            .order_by(Inspection.due_on.desc())
            .limit(1)
        ).one()
        hazard = db.session.scalars(visible(user, Hazard).order_by(Hazard.code).limit(1)).one()
        pages = [
            "/",
            "/inspections/",
            f"/inspections/{overdue.id}",
            f"/inspections/{completed.id}",
            f"/inspections/{overdue.id}/log",
            "/hazards/",
            f"/hazards/{hazard.code}",
            "/hazards/new",
            "/assets/",
            f"/assets/{overdue.asset.code}",
            "/map",
            "/calendar/",
        ]
        db.session.remove()
    return pages


# Everything the layout checks measure on one page, in one round trip (a function of
# [target size]): see the comments in the file.
MEASURE = (Path(__file__).parent / "phone_measure.js").read_text()


@pytest.fixture(scope="module", params=["zh", "en"])
def narrow_phone(request, playwright_and_browser, demo_phone_server) -> Iterator[Phone]:
    phone = Phone(playwright_and_browser, demo_phone_server, position=XINGANG, width=NARROW)
    phone.sign_in(*DEMO_CONTRACTOR, language=request.param)
    yield phone
    phone.close()


@pytest.mark.one_database
def test_contractor_pages_fit_a_360_px_phone(narrow_phone, contractor_pages):
    phone, page = narrow_phone, narrow_phone.page
    problems = {}
    for path in contractor_pages:
        phone.open(path)
        report = page.evaluate(MEASURE, [TARGET])
        found = []
        if report["innerWidth"] != NARROW:  # a wider page makes the phone zoom out
            found.append(f"laid out {report['innerWidth']} px wide")
        if report["scrollWidth"] > report["innerWidth"]:
            found.append(f"scrolls sideways: {report['scrollWidth']} px")
        found += [f"scrolls sideways inside: {item}" for item in report["sideways"]]
        found += [f"badge on several lines: {item}" for item in report["wrappedBadges"]]
        if report["header"] > HEADER_MAX:
            found.append(f"header {report['header']} px high")
        found += [f"touch target under {TARGET} px: {item}" for item in report["small"]]
        # the menu opens and shows the navigation, each entry a touch target
        page.tap(".menu > summary")
        nav = page.locator(".menu-panel nav a")
        if not nav.first.is_visible():
            found.append("the menu does not open")
        else:
            opened = page.evaluate(MEASURE, [TARGET])
            found += [f"in the open menu: {item}" for item in opened["small"]]
            hrefs = nav.evaluate_all("links => links.map(link => link.getAttribute('href'))")
            assert {"/", "/inspections/", "/hazards/", "/map"} <= set(hrefs)
            page.tap(".menu > summary")
        if not page.locator(".menu-panel").is_hidden():
            found.append("the menu does not close")
        if found:
            problems[path] = found
    assert problems == {}
    phone.assert_clean()


@pytest.mark.one_database
def test_the_menu_opens_without_script(playwright_and_browser, demo_phone_server):
    playwright, browser = playwright_and_browser
    device = dict(playwright.devices["Pixel 7"], java_script_enabled=False)
    context = browser.new_context(**device)
    try:
        page = context.new_page()
        page.goto(demo_phone_server + "/login")
        assert page.locator("header.topbar").bounding_box()["height"] <= HEADER_MAX
        assert page.locator(".menu-panel").is_hidden()
        page.tap(".menu > summary")
        assert page.locator(".menu-panel .langs").is_visible()
    finally:
        context.close()


# --- The map's locate-me button -----------------------------------------------------------------


@pytest.mark.one_database
@pytest.mark.parametrize("tiles", ["none", "gaode"])
def test_locate_me_centres_the_map_on_the_phone(playwright_and_browser, demo_app, tiles):
    app = create_app(
        conftest.test_config(demo_app.config["SQLALCHEMY_DATABASE_URI"], MAP_TILES=tiles)
    )
    try:
        with served(app) as base_url:
            phone = Phone(
                playwright_and_browser,
                base_url,
                position=XINGANG,
                tiles_host="autonavi.com" if tiles == "gaode" else None,
            )
            try:
                phone.sign_in(*DEMO_CONTRACTOR)
                phone.open("/map")
                button = phone.page.locator(".leaflet-control-locate a")
                box = button.bounding_box()
                assert box["width"] >= TARGET and box["height"] >= TARGET
                assert button.get_attribute("aria-label")
                drawn_at = phone.page.evaluate(
                    "([lon, lat, shift]) => shift ? SAR.toGcj(lon, lat) : [lon, lat]",
                    [*XINGANG, tiles == "gaode"],
                )
                far = phone.page.evaluate(
                    "([lon, lat]) => sarMap.getCenter().distanceTo([lat, lon])", drawn_at
                )
                assert far > 300  # the map starts on the whole district
                for _visit in range(3):  # tapped as soon as the page is there, each time
                    phone.open("/map")
                    button.tap()
                    phone.page.wait_for_selector(".leaflet-control-locate.active")
                    phone.page.wait_for_function(
                        "([lon, lat]) => sarMap.getCenter().distanceTo([lat, lon]) < 20",
                        arg=drawn_at,
                    )
                    assert phone.page.evaluate("sarMap.getZoom()") >= 16
                    assert phone.page.locator(".leaflet-control-locate-location").count() == 1
                phone.assert_clean()
            finally:
                phone.close()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- Accessibility ------------------------------------------------------------------------------

SERIOUS = {"serious", "critical"}


@pytest.mark.one_database
@pytest.mark.parametrize("path", ["/", "/inspections/", "/hazards/", "/map"])
def test_axe_finds_nothing_serious_on_the_phone(playwright_and_browser, demo_phone_server, path):
    phone = Phone(playwright_and_browser, demo_phone_server, position=XINGANG)
    try:
        phone.sign_in(*DEMO_CONTRACTOR)
        phone.open(path)
        if path == "/":
            phone.page.wait_for_selector("body[data-sorted=nearest]")
        if path == "/map":
            phone.page.wait_for_selector(".leaflet-marker-icon.sar-marker, .sar-cluster")
        results = Axe().run(phone.page)
        serious = [
            f"{violation['id']} ({violation['impact']}): "
            + "; ".join(node["target"][0] for node in violation["nodes"][:5])
            for violation in results.response["violations"]
            if violation["impact"] in SERIOUS
        ]
        assert serious == []
        phone.assert_clean()
    finally:
        phone.close()


@pytest.mark.one_database
def test_measuring_catches_what_it_should(playwright_and_browser, demo_phone_server):
    """The layout checks fail on what they guard against: a badge wrapping letter by letter,
    a table scrolling sideways, a small link, a page wider than the phone."""
    phone = Phone(playwright_and_browser, demo_phone_server, width=NARROW)
    try:
        phone.open("/login")
        phone.page.evaluate(
            """() => {
              const main = document.querySelector('main');
              main.insertAdjacentHTML('beforeend',
                '<span class="badge" style="white-space: normal; width: 1em">已完成</span>' +
                '<div style="overflow-x: auto"><table><tr><td style="white-space: nowrap">' +
                'x'.repeat(200) + '</td></tr></table></div>' +
                '<a href="#" style="display: inline; min-height: 0">x</a>');
            }"""
        )
        report = phone.page.evaluate(MEASURE, [TARGET])
        assert len(report["wrappedBadges"]) == 1
        assert len(report["sideways"]) == 1
        assert any(re.match(r'a "x" \d+×\d+', item) for item in report["small"])
        phone.page.evaluate(
            "() => document.querySelector('main').insertAdjacentHTML('beforeend',"
            " '<div style=\"width: 900px\">wide</div>')"
        )
        assert phone.page.evaluate(MEASURE, [TARGET])["scrollWidth"] > NARROW
    finally:
        phone.close()
