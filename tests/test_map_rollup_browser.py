"""The map's roll-up in Chromium: an officer opens the map of a (small, but treated as large)
province; the clusters the roll-up counted hold every asset; after a write they say their
counts are as of the build's time, and after the next refresh they no longer do."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import select

from assets.models import Asset, AssetStatus
from core.clock import district_time
from core.extensions import db
from demo.province import Province, load_province
from maps import rollup, viewport
from maps.rollup import refresh_map_rollup
from tests import factories
from tests.helpers import CHROMIUM, DRAWN_READY, Watched, served
from tests.test_map_rollup import NOW, PROVINCE_ASSETS, PROVINCE_INSPECTIONS, SEED, TODAY

pytestmark = pytest.mark.one_database

AS_OF = "() => document.getElementById('drawn-count').dataset.asOf"


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_rolled_up_clusters_and_their_as_of_note(browser, app, frozen_clock, monkeypatch):
    frozen_clock.set(NOW)
    monkeypatch.setattr(viewport, "POINT_LIMIT", 50)
    monkeypatch.setattr(rollup, "THRESHOLD", 100)
    app.config["MAP_TILES"] = "none"
    with app.app_context():
        load_province(Province(PROVINCE_ASSETS, PROVINCE_INSPECTIONS, SEED, TODAY))
        factories.gen_user("officer@example.org", "officer")
        db.session.commit()
        build = refresh_map_rollup()
    with served(app) as base_url:
        watched = Watched(browser, base_url)
        try:
            watched.sign_in("officer@example.org", factories.PASSWORD)
            answers: list[dict] = []
            watched.page.on(
                "response",
                lambda response: (
                    answers.append(response.json())
                    if "/api/v1/map/assets" in response.url and response.status == 200
                    else None
                ),
            )
            watched.open_map(expected=PROVINCE_ASSETS)
            page = watched.page
            assert any("as_of" in answer for answer in answers)  # the roll-up answered
            assert page.locator(".leaflet-marker-icon.sar-marker").count() == 0
            assert page.evaluate(AS_OF) == ""  # current: no note
            assert "as of" not in page.locator("#drawn-count").inner_text()
            # A write: the roll-up is behind until its next refresh, and says since when.
            with app.app_context():
                asset = db.session.scalar(select(Asset).where(Asset.status == "active").limit(1))
                asset.status = AssetStatus.RETIRED
                db.session.commit()
            answers.clear()
            watched.open_map(expected=PROVINCE_ASSETS)
            with app.app_context():
                as_of = district_time(build.built_at)
            page.wait_for_function(f"() => {AS_OF[6:]} === {as_of!r}")
            note = page.locator("#drawn-count").inner_text()
            assert f"Counts as of {as_of}." in note
            assert all(answer.get("stale") for answer in answers if "as_of" in answer)
            # Refreshed: counted anew, the note gone.
            with app.app_context():
                refresh_map_rollup()
            watched.open_map(expected=PROVINCE_ASSETS)
            page.wait_for_function(DRAWN_READY, arg=PROVINCE_ASSETS)
            page.wait_for_function(f"() => {AS_OF[6:]} === ''")
            assert "as of" not in page.locator("#drawn-count").inner_text()
            watched.assert_clean()
        finally:
            watched.close()
