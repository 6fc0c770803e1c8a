"""The lists in a real browser (Debian's headless Chromium through Playwright, the app served
on 127.0.0.1): printed, a list shows its title, the line naming its filters and the table,
and nothing else of the page; a long list pages on past its count cap, on a desktop and on a
contractor's phone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import select

from assets.models import Asset
from core.extensions import db
from inspections.models import Inspection, InspectionStatus
from tests import factories
from tests.factories import blocker_data, charging_station_data
from tests.helpers import CHROMIUM, Watched, serious_violations, served
from tests.test_phone_browser import Phone

pytestmark = pytest.mark.alternate_databases

NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def playwright_and_browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield playwright, browser
        browser.close()


@pytest.fixture(scope="module")
def browser(playwright_and_browser):
    return playwright_and_browser[1]


@pytest.fixture
def server(app, district, officer, frozen_clock) -> Iterator[str]:
    frozen_clock.set(NOW)
    with app.app_context():
        factories.gen_asset(charging_station_data(1))
        factories.gen_asset(blocker_data(1))
        factories.gen_inspection("CS-001", date(2026, 3, 1))
        factories.gen_inspection("EB-0001", date(2026, 3, 20), contractor="Other Co")
        factories.gen_inspection("CS-001", date(2026, 3, 25), contractor="Other Co")
        db.session.commit()
    with served(app) as base_url:
        yield base_url


def test_printed_list_is_the_table_its_title_and_its_filters(browser, server):
    watched = Watched(browser, server)
    try:
        watched.sign_in("officer@example.org", factories.PASSWORD)
        page = watched.page
        page.goto(server + "/inspections/?contractor=Other+Co&kind=charging_station&per_page=1")
        filters = page.locator("#print-filters")
        assert not filters.is_visible()  # on screen: the form says it
        assert page.locator("form.filters").is_visible()
        page.emulate_media(media="print")
        assert page.locator("h1").is_visible()
        assert page.locator("#inspection-table").is_visible()
        assert filters.is_visible()
        text = filters.inner_text()
        assert "Contractor: Other Co" in text and "Kind: charging_station" in text
        for hidden in (
            "header.topbar",
            "form.filters",
            ".filter-box",
            "nav.pagination",
            "#export-csv",
            "#export-xlsx",
            "#inspection-table a.button",
        ):
            locator = page.locator(hidden)
            assert locator.count() == 0 or not locator.first.is_visible(), hidden
        for path in ("/assets/?status=active", "/hazards/?severity=major"):
            page.goto(server + path)
            assert page.locator("#print-filters").is_visible(), path
            assert not page.locator("form.filters").is_visible(), path
            assert not page.locator("#export-csv").is_visible(), path
        page.goto(server + "/assets/?status=active")
        assert "Status: Active" in page.locator("#print-filters").inner_text()
        watched.assert_clean()
    finally:
        watched.close()


def test_a_long_list_says_more_than_and_pages_on_to_its_end(app, browser, server):
    """Past LIST_COUNT_CAP rows a list is not counted to its end (a province's ten million
    inspections): it says "more than", and Next leads page by page to the last row, where
    the count is exact. The same for the hazards, overdue first."""
    app.config["LIST_COUNT_CAP"] = 1
    with app.app_context():
        factories.gen_hazard("YH-2026-0001", "general", deadline=date(2026, 3, 20))
        factories.gen_hazard(  # overdue
            "YH-2026-0002", "major", found_on=date(2026, 3, 1), deadline=date(2026, 3, 5)
        )
        factories.gen_hazard("YH-2026-0003", "general", status="verified")
        db.session.commit()
    watched = Watched(browser, server)
    try:
        watched.sign_in("officer@example.org", factories.PASSWORD)
        page = watched.page
        hazards = ["YH-2026-0002", "YH-2026-0001", "YH-2026-0003"]
        for path, key, expected, noun in (
            ("/inspections/?per_page=1", "data-id", None, "inspections"),
            ("/hazards/?per_page=1", "data-code", hazards, "hazards"),
        ):
            page.goto(server + path)
            seen, shown = [], []
            while True:
                seen += page.locator(f"tbody tr[{key}]").evaluate_all(
                    f"rows => rows.map(row => row.getAttribute('{key}'))"
                )
                counted = page.locator("#result-count").inner_text()
                shown.append((counted, page.locator("nav.pagination span").inner_text()))
                following = page.locator("nav.pagination a[rel=next]")
                if following.count() == 0:
                    break
                following.click()
                page.wait_for_load_state()
            assert shown == [
                (f"More than 1 {noun} found.", "Page 1 of more than 1"),
                (f"More than 2 {noun} found.", "Page 2 of more than 2"),
                (f"3 {noun} found.", "Page 3 of 3"),
            ]
            if expected is not None:
                assert seen == expected
            else:
                with app.app_context():
                    urgent = sorted(
                        db.session.execute(select(Inspection.due_on, Inspection.id)).all()
                    )  # all three are open: the most urgent order is by due date
                assert seen == [str(number) for _, number in urgent]
        watched.assert_clean()
    finally:
        watched.close()


def test_a_contractor_pages_its_long_list_to_its_end_on_a_phone(
    app, playwright_and_browser, server, contractor_user
):
    """The same journey as a contractor in the field, on a Pixel 7: tapping Next past the
    count cap to the last row, which shows every inspection of its own company in the most
    urgent order and none of another's; no page scrolls sideways and axe-core finds nothing
    serious on the first page or the last."""
    app.config["LIST_COUNT_CAP"] = 2
    with app.app_context():
        factories.gen_inspection("CS-001", date(2026, 3, 3))  # overdue
        factories.gen_inspection("EB-0001", date(2026, 3, 12))
        done = factories.gen_inspection("CS-001", date(2026, 2, 1))
        done.status, done.result = InspectionStatus.COMPLETED, "pass"
        done.completed_at = datetime(2026, 2, 1, 3, tzinfo=UTC)
        factories.gen_inspection("EB-0001", date(2026, 2, 15)).status = InspectionStatus.CANCELLED
        db.session.commit()
        ours = db.session.execute(
            select(Inspection.id, Inspection.due_on, Inspection.status).where(
                Inspection.contractor_id == factories.gen_contractor("Fixers Ltd").id
            )
        ).all()
        theirs = db.session.scalars(
            select(Inspection.id).where(Inspection.id.not_in([row.id for row in ours]))
        ).all()
    open_first = sorted(
        (row for row in ours if row.status == InspectionStatus.SCHEDULED),
        key=lambda row: (row.due_on, row.id),
    )
    closed_latest_first = sorted(
        (row for row in ours if row.status != InspectionStatus.SCHEDULED),
        key=lambda row: (row.due_on, row.id),
        reverse=True,
    )
    expected = [str(row.id) for row in open_first + closed_latest_first]
    assert len(expected) == 5 and len(theirs) == 2
    phone = Phone(playwright_and_browser, server)
    try:
        phone.sign_in(contractor_user, factories.PASSWORD, language="en")
        phone.open("/inspections/?per_page=2")
        page = phone.page
        seen, shown = [], []
        while True:
            seen += page.locator("tbody tr[data-id]").evaluate_all(
                "rows => rows.map(row => row.getAttribute('data-id'))"
            )
            counted = page.locator("#result-count").inner_text()
            shown.append((counted, page.locator("nav.pagination span").inner_text()))
            assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth"), shown
            following = page.locator("nav.pagination a[rel=next]")
            if len(shown) == 1 or following.count() == 0:
                assert serious_violations(page) == [], shown
            if following.count() == 0:
                break
            with page.expect_navigation():
                following.tap()
        assert shown == [
            ("More than 2 inspections found.", "Page 1 of more than 1"),
            ("More than 4 inspections found.", "Page 2 of more than 2"),
            ("5 inspections found.", "Page 3 of 3"),
        ]
        assert seen == expected
        phone.assert_clean()
    finally:
        phone.close()


def test_a_contractor_pages_its_long_asset_list_to_its_end_on_a_phone(
    app, playwright_and_browser, server, contractor_user
):
    """The asset list past its count cap, as a contractor on a Pixel 7: "More than" on the
    first page, Next to the last, where the count is exact; the rows are the assets its own
    company inspects, by code, and none that only another company inspects."""
    app.config["LIST_COUNT_CAP"] = 1
    with app.app_context():
        for number in (2, 3):
            factories.gen_asset(charging_station_data(number))
            factories.gen_inspection(f"CS-{number:03d}", date(2026, 3, 12))
        factories.gen_asset(charging_station_data(4))
        factories.gen_inspection("CS-004", date(2026, 3, 12), contractor="Other Co")
        db.session.commit()
        company = factories.gen_contractor("Fixers Ltd").id
        expected = sorted(
            set(
                db.session.scalars(
                    select(Asset.code)
                    .join(Inspection, Inspection.asset_id == Asset.id)
                    .where(Inspection.contractor_id == company)
                )
            )
        )
    assert expected == ["CS-001", "CS-002", "CS-003"]
    phone = Phone(playwright_and_browser, server)
    try:
        phone.sign_in(contractor_user, factories.PASSWORD, language="en")
        phone.open("/assets/?per_page=1")
        page = phone.page
        seen, counts = [], []
        while True:
            seen += page.locator("tbody tr[data-code]").evaluate_all(
                "rows => rows.map(row => row.getAttribute('data-code'))"
            )
            counts.append(page.locator("#result-count").inner_text())
            assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth"), counts
            following = page.locator("nav.pagination a[rel=next]")
            if len(counts) == 1 or following.count() == 0:
                assert serious_violations(page) == [], counts
            if following.count() == 0:
                break
            with page.expect_navigation():
                following.tap()
        assert seen == expected
        assert counts[0].startswith("More than") and counts[-1] == "3 assets found."
    finally:
        phone.close()
