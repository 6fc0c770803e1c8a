"""The Imports page in Debian's Chromium: an administrator uploads through the real form,
watches its progress, reads every bad row, confirms a good file; then the database is read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import func, select

from assets.models import Asset
from core.extensions import db
from tests import factories
from tests.helpers import CHROMIUM, Watched, serious_violations, served
from tests.test_import_export import BLOCKER, STATION, write_csv

pytestmark = pytest.mark.alternate_databases

# Reports every new text of the progress line (its upload percentages, then "checking").
REPORT_PROGRESS = """() => {
  let last = null;
  new MutationObserver(() => {
    document.querySelectorAll('.import-progress-text').forEach(node => {
      const text = node.textContent;
      if (text && text !== last) {
        last = text;
        window.reportProgress(text);
      }
    });
  }).observe(document, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def admin_page(app, browser, admin, district) -> Iterator[Watched]:
    app.config["MAP_TILES"] = "none"
    with app.app_context():
        factories.gen_site()
        db.session.commit()
    with served(app) as base_url:
        watched = Watched(browser, base_url)
        watched.sign_in(admin, factories.PASSWORD)
        yield watched
        watched.close()


def asset_codes(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(Asset.code).order_by(Asset.code)).all()


def station(number: int) -> dict:
    return {**STATION, "code": f"CS-{number:03d}", "name": f"充电站 {number}"}


def test_an_admin_imports_a_large_file_watching_its_progress(app, admin_page, tmp_path):
    rows = [station(number) for number in range(1, 3001)] + [BLOCKER]
    path = write_csv(tmp_path / "district.csv", rows)
    page = admin_page.page
    page.goto(admin_page.base_url + "/imports/")
    assert serious_violations(page) == []
    card = page.locator("#import-assets")
    card.locator("input[type=file]").set_input_files(str(path))
    card.get_by_role("button", name="Upload and check").click()
    page.wait_for_selector("#import-ready")
    assert page.locator("#import-count").inner_text() == "3001"
    assert asset_codes(app) == []  # checked, not written
    assert serious_violations(page) == []

    page.get_by_role("button", name="Import 3001").click()
    page.wait_for_selector(".flash-success")
    assert "imported from district.csv: 3001" in page.locator(".flash-success").inner_text()
    codes = asset_codes(app)
    assert len(codes) == 3001
    assert codes[0] == "CS-001" and codes[-1] == "EB-0001"
    with app.app_context():
        grids = db.session.scalar(select(func.count(Asset.id)).where(Asset.grid_id.is_not(None)))
    assert grids == 3001
    admin_page.assert_clean()


def test_the_progress_line_shows_the_upload_then_the_check(app, admin_page, tmp_path):
    rows = [station(number) for number in range(1, 3001)]
    path = write_csv(tmp_path / "district.csv", rows)
    page = admin_page.page
    page.goto(admin_page.base_url + "/imports/")
    progress_texts: list[str] = []
    page.expose_function("reportProgress", lambda text: progress_texts.append(text))
    page.evaluate(REPORT_PROGRESS)
    card = page.locator("#import-assets")
    card.locator("input[type=file]").set_input_files(str(path))
    card.get_by_role("button", name="Upload and check").click()
    page.wait_for_selector("#import-ready")
    assert progress_texts[-1] == "Checking every row…"
    assert all(text.startswith("Uploading…") for text in progress_texts[:-1])
    assert asset_codes(app) == []


def test_a_bad_file_shows_every_bad_row_and_writes_nothing(app, admin_page, tmp_path):
    rows = [
        station(1),
        {**station(2), "latitude": "200"},
        {**station(3), "ports": "many"},
        {**BLOCKER, "kind": "fire_hose"},
        {**station(4), "name": "<img src=x onerror=window.__xss=1>"},
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    page = admin_page.page
    page.goto(admin_page.base_url + "/imports/")
    card = page.locator("#import-assets")
    card.locator("input[type=file]").set_input_files(str(path))
    card.get_by_role("button", name="Upload and check").click()
    page.wait_for_selector("#import-refused")
    where = page.locator("#import-problems tbody tr td:first-child").all_inner_texts()
    assert sorted(set(where)) == ["line 3", "line 4", "line 5"]
    assert "Nothing was imported: 3 places in the file are bad." in page.inner_text(
        "#import-refused"
    )
    assert page.get_by_role("button", name="Import").count() == 0
    assert serious_violations(page) == []
    assert asset_codes(app) == []
    # The refusal is the page's answer (422), which Chromium logs; nothing else went wrong.
    assert admin_page.errors == [
        "Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"
    ]
    admin_page.errors.clear()
    admin_page.assert_clean()
