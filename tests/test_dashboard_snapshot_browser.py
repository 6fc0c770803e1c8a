"""The dashboard's snapshot in Chromium: an officer opens the dashboard of the demo district
(treated as large); after a write it says its numbers are as of the build's time, its charts
draw and axe-core finds nothing serious; after the next build the note is gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright import sync_api as playwright_api

from core.extensions import db
from dashboard.snapshot import refresh_dashboard_snapshot
from tests import factories
from tests.helpers import CHROMIUM, Watched, serious_violations, served
from tests.test_dashboard_snapshot import OFFICER, demo, retire_an_active_asset  # noqa: F401

pytestmark = pytest.mark.alternate_databases


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_the_dashboard_from_the_snapshot_says_as_of_when_behind(browser, app, demo):  # noqa: F811
    app.config["MAP_TILES"] = "none"
    with app.app_context():
        refresh_dashboard_snapshot()
    retire_an_active_asset(app)
    with served(app) as base_url:
        watched = Watched(browser, base_url)
        try:
            watched.page.set_viewport_size({"width": 1440, "height": 900})
            watched.sign_in(OFFICER, factories.PASSWORD)
            page = watched.page
            page.goto(base_url + "/")
            page.wait_for_selector("body[data-charts-drawn='2']")
            assert page.locator("#numbers-as-of").inner_text() == "Numbers as of 10:00."
            assert page.locator("#overdue-trend tbody tr").count() == 12
            assert serious_violations(page) == []
            watched.assert_clean()
            with app.app_context():
                refresh_dashboard_snapshot()
                db.session.remove()
            page.goto(base_url + "/dashboard/grids")
            assert page.locator("#numbers-as-of").count() == 0
            page.goto(base_url + "/")
            page.wait_for_selector("body[data-charts-drawn='2']")
            assert page.locator("#numbers-as-of").count() == 0
            watched.assert_clean()
        finally:
            watched.close()
