"""Bulk actions on the real inspection list (Debian's headless Chromium through Playwright,
the app served on 127.0.0.1, at 1440x900 and on a Pixel 7): tick two rows, reschedule them
with a reason, and read the database back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import select

from core.audit import AuditEntry
from core.extensions import db
from inspections.models import Inspection
from tests import factories
from tests.factories import blocker_data, charging_station_data
from tests.helpers import CHROMIUM, WAIT_MS, Watched, serious_violations, served

pytestmark = pytest.mark.alternate_databases

NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def playwright():
    with playwright_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright):
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture
def field(app, district, officer, frozen_clock) -> dict:
    frozen_clock.set(NOW)
    with app.app_context():
        factories.gen_asset(charging_station_data(1))
        factories.gen_asset(blocker_data(1))
        ids = {
            "cs": factories.gen_inspection("CS-001", date(2026, 3, 1)).id,
            "eb": factories.gen_inspection("EB-0001", date(2026, 3, 12)).id,
            "later": factories.gen_inspection("CS-001", date(2026, 3, 25)).id,
        }
        db.session.commit()
        return ids


@pytest.fixture
def server(app, field) -> Iterator[str]:
    with served(app) as base_url:
        yield base_url


def test_reschedule_two_ticked_rows(browser, app, field, server):
    watched = Watched(browser, server)
    try:
        page = watched.page
        page.set_viewport_size({"width": 1440, "height": 900})
        watched.sign_in("officer@example.org", factories.PASSWORD)
        page.goto(server + "/inspections/")
        violations = serious_violations(page)
        assert violations == [], violations

        # select all, then untick one: the header box says "some"
        select_all = page.locator("#select-all")
        assert select_all.is_visible()
        select_all.check()
        assert page.locator('input[name="ids"]:checked').count() == 3
        page.locator(f"#select-{field['later']}").uncheck()
        assert page.evaluate("document.getElementById('select-all').indeterminate")

        # the date field shows for a reschedule only
        assert not page.locator("#bulk-due_on").is_visible()
        page.select_option("#bulk-action", "reschedule")
        assert page.locator("#bulk-due_on").is_visible()
        assert not page.locator("#bulk-contractor").is_visible()
        page.fill("#bulk-due_on", "2026-03-20")
        page.fill("#bulk-reason", "Road works at the compound")
        with page.expect_navigation():
            page.locator("#bulk-submit").click()
        assert "2 inspections changed." in page.locator("main").inner_text()
        violations = serious_violations(page)
        assert violations == [], violations
        watched.assert_clean()
    finally:
        watched.close()

    with app.app_context():
        due = {
            number: db.session.get(Inspection, number).due_on
            for number in (field["cs"], field["eb"], field["later"])
        }
        assert due == {
            field["cs"]: date(2026, 3, 20),
            field["eb"]: date(2026, 3, 20),
            field["later"]: date(2026, 3, 25),
        }
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "reschedule")
        ).all()
        assert sorted(int(entry.entity_key) for entry in entries) == sorted(
            [field["cs"], field["eb"]]
        )
        for entry in entries:
            assert entry.after["reason"] == "Road works at the compound"
            assert entry.after["due_on"] == "2026-03-20"
            assert entry.actor == "officer@example.org"


def phone(playwright, browser, base_url: str) -> Watched:
    """A Watched page in a Pixel 7's context (its viewport, touch and user agent)."""
    watched = Watched(browser, base_url)
    watched.context.close()
    watched.context = browser.new_context(**playwright.devices["Pixel 7"])
    watched.context.set_default_timeout(WAIT_MS)
    watched.context.route("**/*", watched._route)
    watched.page = watched.context.new_page()
    watched.page.on("console", watched._console)
    watched.page.on("pageerror", lambda error: watched.errors.append(f"pageerror: {error}"))
    watched.page.on("dialog", watched._dialog)
    return watched


def test_reschedule_two_inspections_on_a_phone(playwright, browser, app, field, server):
    watched = phone(playwright, browser, server)
    try:
        page = watched.page
        watched.sign_in("officer@example.org", factories.PASSWORD)
        page.goto(server + "/inspections/")
        assert page.viewport_size["width"] < 500
        violations = serious_violations(page)
        assert violations == [], violations

        # Each card has its own box, on screen and big enough to tap.
        for key in ("cs", "eb"):
            box = page.locator(f"#select-{field[key]}")
            assert box.is_visible()
            bounds = box.bounding_box()
            assert bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= 412
            box.tap()
            assert box.is_checked()
        assert page.locator('input[name="ids"]:checked').count() == 2
        assert page.evaluate("document.getElementById('select-all').indeterminate")

        page.select_option("#bulk-action", "reschedule")
        page.fill("#bulk-due_on", "2026-03-20")
        page.fill("#bulk-reason", "Lift out of service until the 20th")
        submit = page.locator("#bulk-submit")
        submit.scroll_into_view_if_needed()
        with page.expect_navigation():
            submit.tap()
        assert "2 inspections changed." in page.locator("main").inner_text()
        violations = serious_violations(page)
        assert violations == [], violations
        watched.assert_clean()
    finally:
        watched.close()

    with app.app_context():
        due = {
            number: db.session.get(Inspection, number).due_on
            for number in (field["cs"], field["eb"], field["later"])
        }
        assert due == {
            field["cs"]: date(2026, 3, 20),
            field["eb"]: date(2026, 3, 20),
            field["later"]: date(2026, 3, 25),
        }
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "reschedule")
        ).all()
        assert sorted(int(entry.entity_key) for entry in entries) == sorted(
            [field["cs"], field["eb"]]
        )
        for entry in entries:
            assert entry.after["reason"] == "Lift out of service until the 20th"
            assert entry.after["due_on"] == "2026-03-20"
            assert entry.actor == "officer@example.org"
