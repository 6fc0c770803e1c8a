"""The export links of the three lists in a real browser (Debian's headless Chromium through
Playwright, the app served on 127.0.0.1, 1440x900): an officer filters a list with its form,
one row a page, clicks "Export CSV" and "Export Excel", and each downloaded file holds exactly
the filtered rows of every page (read with csv and openpyxl); axe-core finds nothing serious
on the filtered list."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright import sync_api as playwright_api

from core.extensions import db
from tests import factories
from tests.factories import blocker_data, charging_station_data
from tests.helpers import CHROMIUM, Watched, serious_violations, served

pytestmark = pytest.mark.alternate_databases

NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def server(app, district, officer, frozen_clock) -> Iterator[str]:
    """CS-001…CS-003 (G1-01), EB-0001 and EB-0002 (G2-02); inspections of Fixers Ltd and
    Other Co; hazards H-1 and H-3 major, H-2 general."""
    frozen_clock.set(NOW)
    with app.app_context():
        for number in (1, 2, 3):
            factories.gen_asset(charging_station_data(number))
        for number in (1, 2):
            factories.gen_asset(blocker_data(number))
        gen = factories.gen_inspection
        gen("CS-001", date(2026, 3, 1))
        gen("CS-002", date(2026, 3, 12), contractor="Other Co")
        gen("CS-003", date(2026, 3, 14), contractor="Other Co")
        gen("EB-0001", date(2026, 3, 11), contractor="Other Co")
        gen("EB-0002", date(2026, 3, 20))
        factories.gen_hazard("H-1", "major", "CS-001")
        factories.gen_hazard("H-2", "general", "CS-002")
        factories.gen_hazard("H-3", "major", "EB-0001")
        db.session.commit()
    with served(app) as base_url:
        yield base_url


def filter_with_the_form(page, choices: dict[str, str]) -> None:
    for selector, value in choices.items():
        page.select_option(selector, value)
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").click()


def downloaded(page, link: str, directory: Path) -> Path:
    with page.expect_download() as download:
        page.locator(link).click()
    target = directory / download.value.suggested_filename
    download.value.save_as(target)
    return target


def csv_rows(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.reader(text.splitlines()))


def xlsx_rows(path: Path) -> list[list]:
    sheet = load_workbook(path).worksheets[0]
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


LISTS = [
    # list, its filters as chosen in the form, the column with the code, the filtered codes
    pytest.param(
        "/assets/", {"#filter-kind": "elevator_blocker"}, 0, ["EB-0001", "EB-0002"], id="assets"
    ),
    pytest.param(
        "/inspections/",
        {"#filter-contractor": "Other Co", "#filter-kind": "charging_station"},
        1,
        ["CS-002", "CS-003"],
        id="inspections",
    ),
    pytest.param("/hazards/", {"#filter-severity": "major"}, 0, ["H-1", "H-3"], id="hazards"),
]


@pytest.mark.parametrize(("path", "choices", "column", "expected"), LISTS)
def test_an_export_link_downloads_exactly_the_filtered_rows(
    browser, server, tmp_path, path, choices, column, expected
):
    watched = Watched(browser, server)
    try:
        page = watched.page
        page.set_viewport_size({"width": 1440, "height": 900})
        watched.sign_in("officer@example.org", factories.PASSWORD)
        page.goto(server + path + "?per_page=1")  # one row a page: the export takes them all
        filter_with_the_form(page, choices)
        assert page.locator("table tbody tr").count() == 1
        assert str(len(expected)) in page.locator("#result-count").inner_text()
        assert serious_violations(page) == []

        header, *rows = csv_rows(downloaded(page, "#export-csv", tmp_path))
        assert sorted(row[column] for row in rows) == expected
        assert len(header) == len(rows[0])
        header_x, *rows_x = xlsx_rows(downloaded(page, "#export-xlsx", tmp_path))
        assert header_x == header
        assert sorted(row[column] for row in rows_x) == expected
        watched.assert_clean()
    finally:
        watched.close()
