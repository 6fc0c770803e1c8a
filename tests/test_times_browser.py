"""One completion, one time: in a real browser (Debian's Chromium through Playwright) on the
demo district, a failed inspection's completion time reads the same on the asset page, the
inspection page, the inspection list and the hazard page it opened; and axe-core finds no
serious or critical violation on the main pages, in Chinese and in English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import select

from core.clock import district_time
from core.extensions import db
from demo.district import ACCOUNTS
from hazards.models import Hazard
from inspections.models import Inspection
from tests.helpers import CHROMIUM, Watched, serious_violations, served

pytestmark = [pytest.mark.slow, pytest.mark.alternate_databases]

OFFICER_EMAIL, OFFICER_PASSWORD = ACCOUNTS[1][:2]


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed"
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def officer_page(demo_app, browser) -> Iterator[Watched]:
    with served(demo_app) as base_url:
        watched = Watched(browser, base_url)
        watched.sign_in(OFFICER_EMAIL, OFFICER_PASSWORD)
        yield watched
        watched.close()


def in_language(watched: Watched, language: str) -> None:
    watched.context.request.get(watched.base_url + f"/lang/{language}")


def failed_inspection(demo_app) -> tuple[int, str, str, str]:
    """A completed inspection that opened a hazard: id, asset code, hazard code, local time."""
    with demo_app.app_context():
        inspection, hazard = db.session.execute(
            select(Inspection, Hazard)
            .join(Hazard, Hazard.inspection_id == Inspection.id)
            .where(Inspection.completed_at.is_not(None))
            .order_by(Inspection.id)
            .limit(1)
        ).one()
        found = (inspection.id, inspection.asset.code, hazard.code)
        shown = district_time(inspection.completed_at)
        db.session.remove()
    return (*found, shown)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_completion_reads_the_same_time_everywhere(officer_page, demo_app, language):
    inspection_id, asset_code, hazard_code, shown = failed_inspection(demo_app)
    in_language(officer_page, language)
    page, base = officer_page.page, officer_page.base_url

    page.goto(f"{base}/inspections/{inspection_id}")
    on_inspection = page.locator("dt", has_text={"zh": "完成时间", "en": "Completed at"}[language])
    assert on_inspection.locator("xpath=following-sibling::dd[1]").inner_text() == shown

    page.goto(f"{base}/inspections/?asset={asset_code}&status=completed&per_page=100")
    row = page.locator(f'#inspection-table tr[data-id="{inspection_id}"] .completed-at')
    assert row.inner_text() == shown

    page.goto(f"{base}/assets/{asset_code}")
    link = page.locator(f'#asset-inspections a[href="/inspections/{inspection_id}"]')
    assert link.locator("xpath=ancestor::tr[1]").inner_text().count(shown) == 1

    page.goto(f"{base}/hazards/{hazard_code}")
    assert shown in page.locator("main").inner_text()

    zone = page.locator("#time-zone").inner_text()
    assert "Asia/Shanghai" in zone and "UTC" not in page.locator("body").inner_text()
    # (The hazard page's neighbourhood map asks for OpenStreetMap tiles: refused, not shown.)
    assert all("tile.openstreetmap.org" in url for url in officer_page.left)


@pytest.mark.one_database
@pytest.mark.parametrize("language", ["zh", "en"])
def test_main_pages_have_no_serious_accessibility_violations(officer_page, demo_app, language):
    _, asset_code, hazard_code, _ = failed_inspection(demo_app)
    in_language(officer_page, language)
    page, base = officer_page.page, officer_page.base_url
    found = {}
    for path in (
        "/",
        "/assets/",
        "/inspections/",
        "/hazards/",
        f"/assets/{asset_code}",
        f"/hazards/{hazard_code}",
    ):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        found[path] = serious_violations(page)
    officer_page.open_map("?q=CS-001", expected=1)
    page.click('.sar-marker[title="CS-001"]')
    page.locator('.leaflet-popup-content .sar-popup[data-code="CS-001"]').wait_for()
    page.wait_for_function(  # Leaflet fades the popup in: read it once it is fully shown
        # a function: Playwright evaluates a bare expression with eval, which the CSP refuses
        "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
    )
    found["/map (popup open)"] = serious_violations(page)
    assert {path: rules for path, rules in found.items() if rules} == {}
