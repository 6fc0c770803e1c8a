"""The hazard loop in a real browser (Debian's Chromium through Playwright, on a desktop and an
emulated Pixel 7, against the app served on 127.0.0.1; every request leaving it is refused): a
contractor rectifies with an "after" photo through the real form, an officer returns it for
rework with a reason, the contractor rectifies again and the officer verifies; each step is
confirmed in the browser's dialog. Then the database is read back. Accessibility by axe-core."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from accounts.services import user_by_email
from core.audit import AuditEntry
from core.extensions import db
from evidence.models import Photo
from hazards.models import Hazard
from hazards.services import add_hazard_photos, create_hazard
from tests import factories
from tests.helpers import CHROMIUM, WAIT_MS, Watched, serious_violations, served

pytestmark = pytest.mark.alternate_databases

DEVICES = ["desktop", "Pixel 7"]


@pytest.fixture(scope="module")
def browser() -> Iterator[tuple[playwright_api.Browser, dict]]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        phone = {
            key: value
            for key, value in playwright.devices["Pixel 7"].items()
            if key != "default_browser_type"
        }
        yield launched, {"desktop": {"viewport": {"width": 1440, "height": 900}}, "Pixel 7": phone}
        launched.close()


class Confirming(Watched):
    """``Watched`` on a given device, accepting every confirm() (and recording its text)."""

    def __init__(self, browser, device: dict, base_url: str):
        self.base_url = base_url
        self.context = browser.new_context(**device, locale="en-US")
        self.context.set_default_timeout(WAIT_MS)
        self.left: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept()

    def go(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, path

    def submit(self, button: str) -> None:
        with self.page.expect_navigation():
            self.page.click(button)
        assert self.page.locator(".flash-error").count() == 0, self.page.content()


@pytest.fixture
def live(app, district, officer, contractor_user) -> Iterator[tuple[str, str]]:
    """A rectifying hazard at CS-001 that Fixers Ltd must fix, with a "before" photo."""
    app.config["MAP_TILES"] = "none"
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        fixers = factories.gen_contractor("Fixers Ltd")
        values = {
            "category": "charger_fault",
            "severity": "general",
            "description": "Charger cover broken",
            "asset_code": "CS-001",
            "responsible_contractor_id": fixers.id,
        }
        hazard = create_hazard(values, found_by=user_by_email(officer))
        hazard.status = "rectifying"
        before = FileStorage(io.BytesIO(factories.png_bytes(40, 30)), filename="b.png")
        add_hazard_photos(hazard, [before], "before", user_by_email(officer))
        db.session.commit()
        code = hazard.code
    with served(app) as base_url:
        yield base_url, code


@pytest.mark.parametrize("device", DEVICES)
def test_rectify_with_a_photo_return_for_rework_then_verify(app, browser, live, device, tmp_path):
    launched, devices = browser
    base_url, code = live
    photo = tmp_path / "fixed.png"
    photo.write_bytes(factories.png_bytes(40, 30, (30, 160, 30)))
    fixer = Confirming(launched, devices[device], base_url)
    officer = Confirming(launched, devices[device], base_url)
    try:
        fixer.sign_in("fixer@example.org", factories.PASSWORD)
        officer.sign_in("officer@example.org", factories.PASSWORD)

        fixer.go(f"/hazards/{code}")
        assert fixer.page.locator("#button-verified, #button-rework").count() == 0
        fixer.page.fill("#note-rectified", "New cover fitted")
        fixer.page.set_input_files("#status-photos", str(photo))
        fixer.submit("#button-rectified")

        officer.go(f"/hazards/{code}")
        assert officer.page.locator("#compare-before img").count() == 1
        assert officer.page.locator("#compare-after img").count() == 1
        assert serious_violations(officer.page) == []
        officer.page.fill("#rework-reason", "Cover still loose")
        officer.submit("#button-rework")
        assert "Cover still loose" in officer.page.inner_text("#hazard-timeline")

        fixer.go(f"/hazards/{code}")
        fixer.page.set_input_files("#status-photos", str(photo))
        fixer.submit("#button-rectified")

        officer.go(f"/hazards/{code}")
        assert officer.page.locator("#compare-after img").count() == 2
        officer.submit("#button-verified")
        assert serious_violations(officer.page) == []

        assert fixer.dialogs == [
            "Mark this hazard rectified with these photos?",
            "Mark this hazard rectified with these photos?",
        ]
        assert officer.dialogs == [
            "Return this hazard for rework?",
            "Verify this rectification? The hazard will be closed.",
        ]
        for watched in (fixer, officer):
            assert watched.left == [] and watched.errors == []
    finally:
        fixer.close()
        officer.close()

    with app.app_context():
        hazard = db.session.scalar(select(Hazard).where(Hazard.code == code))
        assert hazard.status == "verified"
        assert [(event.from_status, event.to_status) for event in hazard.events][1:] == [
            ("rectifying", "rectified"),
            ("rectified", "rectifying"),
            ("rectifying", "rectified"),
            ("rectified", "verified"),
        ]
        assert hazard.events[2].note == "Cover still loose"
        stages = db.session.scalars(
            select(Photo.stage).where(Photo.hazard_id == hazard.id).order_by(Photo.id)
        ).all()
        assert stages == ["before", "after", "after"]
        audited = db.session.scalars(
            select(AuditEntry.after)
            .where(AuditEntry.entity_key == code, AuditEntry.action == "status")
            .order_by(AuditEntry.id)
        ).all()
        assert [entry["status"] for entry in audited] == [
            "rectified",
            "rectifying",
            "rectified",
            "verified",
        ]
        assert audited[1]["returned_for_rework"] is True
        assert audited[1]["note"] == "Cover still loose"
