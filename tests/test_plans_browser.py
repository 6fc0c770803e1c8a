"""The plan form's overlap in a real browser (Debian's headless Chromium through Playwright,
the app served on 127.0.0.1, 1440x900): an administrator fills a new plan that covers the
assets of another contractor's active plan; the page names the assets, the plan and its
contractor and saves nothing until "Create anyway" is ticked; then the database has the plan
and the confirmed overlap in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.extensions import db
from inspections.models import InspectionPlan
from inspections.plans.services import create_plan
from tests import factories
from tests.factories import charging_station_data
from tests.helpers import CHROMIUM, Watched, serious_violations, served

pytestmark = pytest.mark.alternate_databases

NOW = datetime(2026, 3, 5, 2, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def district_plan(app, district, admin, frozen_clock) -> dict:
    """CS-001 and CS-002 in the plan "District" of Fixers Ltd; Others Co without a plan."""
    frozen_clock.set(NOW)
    with app.app_context():
        factories.gen_asset(charging_station_data(1))
        factories.gen_asset(charging_station_data(2))
        fixers = factories.gen_contractor("Fixers Ltd")
        others = factories.gen_contractor("Others Co")
        plan = create_plan(
            {
                "name": "District",
                "contractor_id": fixers.id,
                "asset_kind": "charging_station",
                "grid": "",
                "asset_codes": "",
                "cadence_every": "1",
                "cadence_unit": "month",
                "start_on": "2026-01-10",
                "end_on": "",
                "checklist": None,
                "active": True,
            }
        ).plan
        db.session.commit()
        return {"plan": plan.id, "others": str(others.id)}


@pytest.fixture
def server(app, district_plan) -> Iterator[str]:
    with served(app) as base_url:
        yield base_url


def plan_count() -> int:
    return db.session.scalar(select(func.count(InspectionPlan.id)))


def test_an_overlap_is_shown_and_saved_only_when_confirmed(browser, app, district_plan, server):
    watched = Watched(browser, server)
    try:
        page = watched.page
        page.set_viewport_size({"width": 1440, "height": 900})
        watched.sign_in("admin@example.org", factories.PASSWORD)
        page.goto(server + "/plans/new")
        assert serious_violations(page) == []
        page.fill("#name", "Monthly by Others")
        page.select_option("#contractor_id", district_plan["others"])
        page.select_option("#asset_kind", "charging_station")
        page.fill("#start_on", "2026-03-14")
        page.check("input[name=checklist_charging_station][value=cutoff_when_full]")
        assert not page.locator("#allow-overlap").count()  # no overlap known yet
        with page.expect_navigation():
            page.locator("form.admin-form button[type=submit]").click()

        # Refused: the overlap named with its assets, the plan and its contractor.
        overlap = page.locator("#plan-overlap")
        assert overlap.is_visible()
        assert (
            "2 assets are already covered by the plan District of Fixers Ltd: CS-001, CS-002."
            in overlap.inner_text()
        )
        assert not page.locator("#allow-overlap").is_checked()
        # What was typed is kept.
        assert page.input_value("#name") == "Monthly by Others"
        assert page.input_value("#contractor_id") == district_plan["others"]
        assert serious_violations(page) == []
        with app.app_context():
            assert plan_count() == 1

        # Saving again without the confirmation still saves nothing.
        with page.expect_navigation():
            page.locator("form.admin-form button[type=submit]").click()
        assert page.locator("#plan-overlap").is_visible()
        with app.app_context():
            assert plan_count() == 1

        page.check("#allow-overlap")
        with page.expect_navigation():
            page.locator("form.admin-form button[type=submit]").click()
        assert "Plan Monthly by Others created." in page.locator("main").inner_text()
        assert serious_violations(page) == []
        # The browser logs each refused POST (409) as a console error: those and no other.
        refused = "Failed to load resource: the server responded with a status of 409 (CONFLICT)"
        assert watched.errors == [refused, refused]
        watched.errors.clear()
        watched.assert_clean()
    finally:
        watched.close()

    with app.app_context():
        saved = db.session.scalar(
            select(InspectionPlan).where(InspectionPlan.name == "Monthly by Others")
        )
        assert saved is not None and saved.contractor.name == "Others Co"
        assert plan_count() == 2
        entry = db.session.scalar(
            select(AuditEntry).where(
                AuditEntry.entity_key == str(saved.id), AuditEntry.action == "overlap_confirmed"
            )
        )
        assert entry.actor == "admin@example.org"
        assert entry.after == {
            "overlaps": [{"plan": district_plan["plan"], "count": 2, "codes": ["CS-001", "CS-002"]}]
        }
