"""The officer's dashboard in a real browser (Debian's headless Chromium, Playwright) on the
demo district: at 1440×900 and on a Pixel 7, in Chinese and English, the charts draw with no
console error and axe-core finds nothing serious; and from the dashboard an officer opens the
longest overdue asset of a grid in under five clicks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import select

from app import create_app
from assets.models import Asset
from core.clock import district_today
from core.extensions import db
from dashboard import overdue
from inspections.models import Inspection
from inspections.services import overdue_clause
from tests import helpers
from tests.helpers import CHROMIUM, Watched, serious_violations, served

pytestmark = [pytest.mark.slow, pytest.mark.alternate_databases]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DEVICES = ["desktop", "pixel7"]
# The journeys read stored data on both databases at desktop size; what the phone adds is
# the browser's (layout, taps), the same whichever database filled the page.
DEVICES_PHONE_ON_ONE_DATABASE = ["desktop", pytest.param("pixel7", marks=pytest.mark.one_database)]
LANGUAGES = ["zh", "en"]


@pytest.fixture(scope="module")
def playwright_and_browser():
    # bin/test installs Debian's chromium: a missing browser fails, it is never skipped
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield playwright, browser
        browser.close()


@pytest.fixture(scope="module")
def demo_server(demo_app) -> Iterator[str]:
    app = create_app(
        helpers.test_config(demo_app.config["SQLALCHEMY_DATABASE_URI"], MAP_TILES="none")
    )
    with served(app) as base_url:
        yield base_url
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def officer_page(playwright_and_browser, base_url: str, device: str, language: str) -> Watched:
    from demo.district import ACCOUNTS, OFFICER

    password = next(entry[1] for entry in ACCOUNTS if entry[0] == OFFICER)
    return browser_page(playwright_and_browser, base_url, device, (OFFICER, password), language)


def browser_page(
    playwright_and_browser, base_url: str, device: str, account: tuple[str, str], language: str
) -> Watched:
    """A ``Watched`` page signed in as ``account`` (email, password), at 1440×900 or as a
    Pixel 7, in ``language``."""
    playwright, browser = playwright_and_browser
    watched = Watched(browser, base_url)
    if device == "pixel7":
        watched.context.close()
        watched.context = browser.new_context(**playwright.devices["Pixel 7"])
        watched.context.set_default_timeout(helpers.WAIT_MS)
        watched.context.route("**/*", watched._route)
        watched.page = watched.context.new_page()
        watched.page.on("console", watched._console)
        watched.page.on("pageerror", lambda error: watched.errors.append(f"pageerror: {error}"))
        watched.page.on("dialog", watched._dialog)
    else:
        watched.page.set_viewport_size({"width": 1440, "height": 900})
    watched.sign_in(*account)
    watched.context.request.get(base_url + f"/lang/{language}")
    return watched


def open_dashboard(watched: Watched) -> None:
    watched.page.goto(watched.base_url + "/")
    watched.page.wait_for_selector("body[data-charts-drawn='2']")


@pytest.mark.one_database
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("device", DEVICES)
def test_charts_draw_and_axe_finds_nothing_serious(
    playwright_and_browser, demo_server, device, language
):
    watched = officer_page(playwright_and_browser, demo_server, device, language)
    try:
        open_dashboard(watched)
        page = watched.page
        assert page.locator("html").get_attribute("lang").startswith(language)
        for chart in ("#trend-chart", "#grid-map-chart"):
            assert page.locator(f"{chart} canvas").count() >= 1
            box = page.locator(chart).bounding_box()
            viewport = page.viewport_size
            assert box["width"] > 200 and box["x"] + box["width"] <= viewport["width"] + 1
        assert page.locator("#overdue-trend tbody tr").count() == 12
        assert page.locator("#overdue-by-grid tbody tr").count() >= 2
        assert serious_violations(page) == []
        watched.assert_clean()
    finally:
        watched.close()


def test_the_page_without_script_holds_every_number(playwright_and_browser, demo_server):
    playwright, browser = playwright_and_browser
    from demo.district import ACCOUNTS, OFFICER

    context = browser.new_context(**playwright.devices["Pixel 7"], java_script_enabled=False)
    try:
        password = next(entry[1] for entry in ACCOUNTS if entry[0] == OFFICER)
        context.request.post(demo_server + "/login", form={"email": OFFICER, "password": password})
        page = context.new_page()
        page.goto(demo_server + "/")
        assert page.locator("#overdue-trend tbody tr").count() == 12
        assert page.locator("#overdue-by-grid a").count() >= 2
        assert not page.locator("#trend-chart").is_visible()  # hidden, not an empty box
    finally:
        context.close()


@pytest.mark.parametrize("device", DEVICES_PHONE_ON_ONE_DATABASE)
def test_five_clicks_to_the_worst_overdue_asset_of_a_grid(
    playwright_and_browser, demo_server, demo_app, device
):
    watched = officer_page(playwright_and_browser, demo_server, device, "en")
    try:
        page = watched.page
        open_dashboard(watched)
        clicks = 0
        # The second-level grid with the most overdue inspections.
        rows = page.locator("#overdue-by-grid tr.grid-level-2")
        counts = [
            (int(rows.nth(i).locator("a[data-kind=inspections]").inner_text()), i)
            for i in range(rows.count())
        ]
        count, index = max(counts)
        assert count > 0
        grid = rows.nth(index).get_attribute("data-grid")
        with page.expect_navigation():
            rows.nth(index).locator("a[data-kind=inspections]").click()
        clicks += 1
        # The overdue inspections of that grid, every one of them, the longest late first.
        rows = page.locator("table tbody tr[data-id]")
        assert rows.count() == min(count, 50) >= 1
        assert str(count) in page.locator("#result-count").inner_text()
        for i in range(rows.count()):
            row = rows.nth(i)
            assert row.locator("td[data-label=Grid]").inner_text().strip() == grid
            assert row.locator("td[data-label=Status] .badge").first.inner_text() == "Overdue"
        due = [rows.nth(i).locator("td.card-title").inner_text() for i in range(rows.count())]
        assert due == sorted(due)
        with page.expect_navigation():
            page.locator("table tbody tr[data-id]").first.locator("td.card-title a").click()
        clicks += 1
        with page.expect_navigation():
            page.locator("main dd a[href^='/assets/']").first.click()
        clicks += 1
        assert clicks < 5
        landed = urlsplit(page.url).path.removeprefix("/assets/")
        with demo_app.app_context():
            today = district_today()
            worst = overdue.overdue_inspections(today, grid=grid, limit=1)[0]
            latest_due = db.session.scalars(
                select(Asset.code)
                .join(Inspection, Inspection.asset_id == Asset.id)
                .where(overdue_clause(today), Inspection.due_on == worst.due_on)
                .where(Asset.code.in_(select(Asset.code).where(Asset.grid.has(code=grid))))
            ).all()
            db.session.remove()
        assert landed in latest_due  # the most days late (ties: any of them)
        assert landed in page.locator("main").inner_text()
        watched.assert_clean()
    finally:
        watched.close()


@pytest.mark.parametrize("device", DEVICES_PHONE_ON_ONE_DATABASE)
def test_the_worst_grids_lead_to_every_grid(playwright_and_browser, demo_app, device):
    """With fewer grid rows allowed than the demo's 20 grids, the dashboard lists the worst
    grids (most overdue inspections, then hazards, then code) and links to every grid, worst
    first, a page at a time; on a phone without sideways scrolling."""
    app = create_app(
        helpers.test_config(
            demo_app.config["SQLALCHEMY_DATABASE_URI"], MAP_TILES="none", DASHBOARD_GRID_ROWS=5
        )
    )
    with app.app_context():
        expected = [
            line.row.code
            for line in overdue.worst_first(
                overdue.grid_lines(overdue.overdue_by_grid(district_today()))
            )
        ]
        db.session.remove()
    with served(app) as base_url:
        watched = officer_page(playwright_and_browser, base_url, device, "en")
        try:
            page = watched.page
            page.goto(base_url + "/")
            page.wait_for_selector("body[data-charts-drawn]")
            shown = page.locator("#overdue-by-grid tbody tr").evaluate_all(
                "rows => rows.map(row => row.dataset.grid)"
            )
            assert shown == expected[:5]
            assert "of 20" in page.locator("#worst-grids-note").inner_text()
            assert page.locator("#grid-map-chart").is_hidden()
            with page.expect_navigation():
                page.locator("#all-grids-link").click()
            listed = page.locator("#grid-list tbody tr").evaluate_all(
                "rows => rows.map(row => row.dataset.grid)"
            )
            assert listed == expected
            # a page at a time: 8 a page, the next page goes on where the first stopped
            page.goto(base_url + "/dashboard/grids?per_page=8")
            with page.expect_navigation():
                page.locator("a[rel=next]").click()
            listed = page.locator("#grid-list tbody tr").evaluate_all(
                "rows => rows.map(row => row.dataset.grid)"
            )
            assert listed == expected[8:16]
            width = page.evaluate("() => document.scrollingElement.scrollWidth - innerWidth")
            assert width <= 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"dashboard-grids-{device}.png"), full_page=True)
            assert serious_violations(page) == []
            watched.assert_clean()
        finally:
            watched.close()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
