"""A failure handed off, in a real phone browser: Debian's Chromium through Playwright,
emulating a Pixel 7 with its position granted, against the app served on 127.0.0.1 (every
request leaving 127.0.0.1 is refused and fails the test). Accessibility by axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import select

from core import clock
from core.extensions import db
from evidence.models import Photo
from hazards.models import Hazard
from inspections.models import Inspection
from tests import factories
from tests.helpers import CHROMIUM, WAIT_MS, Watched, serious_violations, served

pytestmark = pytest.mark.alternate_databases

PHONE = "Pixel 7"
CUTOFF = {"en": "Chargers cut off when the battery is full", "zh": "充满后自动断电"}


@pytest.fixture(scope="module")
def phone() -> Iterator[tuple[playwright_api.Browser, dict]]:
    """Chromium and the Pixel 7's description (viewport, touch, user agent)."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        device = {
            key: value
            for key, value in playwright.devices[PHONE].items()
            if key != "default_browser_type"
        }
        yield browser, device
        browser.close()


class PhoneWatched(Watched):
    """``Watched`` (nothing leaves 127.0.0.1; console errors, page errors and dialogs are
    recorded) on an emulated phone that stands at ``position`` and reads Chinese."""

    def __init__(self, browser, device: dict, base_url: str, position: tuple[float, float]):
        self.base_url = base_url
        self.context = browser.new_context(
            **device,
            locale="zh-CN",
            geolocation={"longitude": position[0], "latitude": position[1], "accuracy": 8},
            permissions=["geolocation"],
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

    def sign_in_as(self, email: str) -> None:
        response = self.context.request.post(
            self.base_url + "/login", form={"email": email, "password": factories.PASSWORD}
        )
        assert response.ok

    def go(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, path


@pytest.fixture
def live(app, district, contractor_user, officer) -> Iterator[tuple[str, int]]:
    """CS-001 with a scheduled inspection for Fixers Ltd (due today), served without tiles."""
    app.config["MAP_TILES"] = "none"
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        inspection = factories.gen_inspection("CS-001", clock.district_today())
        db.session.commit()
        inspection_id = inspection.id
    with served(app) as base_url:
        yield base_url, inspection_id


def test_a_fail_logged_on_a_phone_hands_off_to_its_hazard(app, phone, live, tmp_path):
    browser, device = phone
    base_url, inspection_id = live
    photo = tmp_path / "cable.png"
    photo.write_bytes(factories.png_bytes(40, 30))
    watched = PhoneWatched(browser, device, base_url, factories.INSIDE_G1_01)
    try:
        watched.sign_in_as("fixer@example.org")
        watched.go(f"/inspections/{inspection_id}/log")
        page = watched.page
        # the page asks for the position itself; the granted one fills the hidden field
        page.wait_for_function(
            "() => [...document.querySelectorAll('input[name=longitude]')].some(i => i.value)"
        )
        for item in page.locator("input[type=radio][name^=item_][value=pass]").all():
            item.check()
        page.check("input[type=radio][name=item_cutoff_when_full][value=fail]")
        page.check("input[type=radio][name=result][value=fail]")
        page.fill("textarea[name=notes]", "线缆发烫")
        page.set_input_files("input[type=file][name=photos]", str(photo))
        with page.expect_navigation():
            page.locator("#log-form [type=submit]").click()
        assert page.url == f"{base_url}/inspections/{inspection_id}"

        with app.app_context():
            (hazard,) = db.session.scalars(select(Hazard)).all()
            inspection = db.session.get(Inspection, inspection_id)
            assert hazard.inspection_id == inspection_id
            assert hazard.failed_items == ["cutoff_when_full"]
            assert hazard.description == "线缆发烫"
            (taken,) = inspection.photos
            (before,) = hazard.photos
            assert (before.stage, before.stored_name) == ("before", taken.stored_name)
            assert db.session.scalar(select(Photo.id).where(Photo.id == before.id))
            assert inspection.flagged is False
            code, photo_id = hazard.code, before.id

        # the confirmation links the hazard; the inspection's page names it too
        link = page.locator("#opened-hazard")
        assert link.inner_text() == code
        assert link.get_attribute("href") == f"/hazards/{code}"
        assert page.locator(f'#inspection-hazard a[href="/hazards/{code}"]').count() == 1
        with page.expect_navigation():
            link.click()

        # the hazard page in Chinese: the failed item by its label, the inspection linked
        assert page.url == f"{base_url}/hazards/{code}"
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        item = page.locator('#failed-items li[data-item="cutoff_when_full"]')
        assert item.inner_text() == CUTOFF["zh"]
        assert "cutoff_when_full" not in page.locator("main").inner_text()
        reference = page.locator(f'#hazard-inspection a[href="/inspections/{inspection_id}"]')
        assert "CS-001" in reference.inner_text()
        image = page.locator(f'#photos-before img[src="/hazards/photos/{photo_id}"]')
        image.scroll_into_view_if_needed()
        page.wait_for_function(
            "src => { const i = document.querySelector(`img[src='${src}']`);"
            " return i && i.complete && i.naturalWidth === 40; }",
            arg=f"/hazards/photos/{photo_id}",
        )
        violations = serious_violations(page)
        assert violations == [], violations

        # and in English, once the header's switch says so (on a phone, inside the menu)
        page.locator("details.menu summary").click()
        with page.expect_navigation():
            page.locator(".menu-panel .langs a", has_text="English").click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert item.inner_text() == CUTOFF["en"]
        assert re.search(r"Inspection of CS-001", reference.inner_text())
        violations = serious_violations(page)
        assert violations == [], violations
        with page.expect_navigation():
            reference.click()
        assert page.url == f"{base_url}/inspections/{inspection_id}"
        watched.assert_clean()
    finally:
        watched.close()


def test_the_profile_page_sets_the_language_and_passes_axe(app, phone, live):
    browser, device = phone
    base_url, _inspection_id = live
    watched = PhoneWatched(browser, device, base_url, factories.INSIDE_G1_01)
    try:
        watched.sign_in_as("fixer@example.org")
        watched.go("/inspections/")
        page = watched.page
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        # on a phone the header wraps, and the profile link is in it
        with page.expect_navigation():
            page.locator("details.menu summary").click()  # a phone: the header is a menu
            page.locator(".menu-panel .profile-link").click()
        assert page.url == f"{base_url}/profile"
        violations = serious_violations(page)
        assert violations == [], violations
        page.get_by_label("English").check()
        with page.expect_navigation():
            page.locator("#profile-form [type=submit]").click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator(".flash-success").inner_text() == "Your settings are saved."
        assert page.get_by_label("English").is_checked()
        violations = serious_violations(page)
        assert violations == [], violations
        watched.go("/inspections/")  # the browser still says Chinese
        assert page.locator("html").get_attribute("lang") == "en"
        with app.app_context():
            from accounts.services import user_by_email

            assert user_by_email("fixer@example.org").locale == "en"
        watched.assert_clean()
    finally:
        watched.close()
