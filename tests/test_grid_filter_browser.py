"""The lists' filters in a real browser (Debian's headless Chromium, Playwright) on the demo
district: with ``GRID_SELECT_LIMIT`` lowered below its 23 grids, a contractor types a grid's
code into the inspection list's grid field and submits the form, and sees exactly the stored
inspections of that grid, at 1440×900 and on a Pixel 7; axe-core finds nothing serious. And
on a Pixel 7, in English and Chinese, no select or field of the list pages' filter forms cuts
off its text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from accounts.services import user_by_email
from app import create_app
from assets.models import Asset, Grid
from core.clock import district_today
from core.extensions import db
from inspections.models import Inspection
from inspections.services import overdue_clause
from tests import helpers
from tests.helpers import serious_violations, served
from tests.test_dashboard_browser import (  # noqa: F401 (a fixture)
    DEVICES_PHONE_ON_ONE_DATABASE,
    browser_page,
    playwright_and_browser,
)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LANGUAGES = ["zh", "en"]
# The demo's two contractors' accounts: which of them has overdue work depends on the day
# the demo was loaded for.
DEMO_CONTRACTORS = (
    ("inspector@anxiao.example.cn", "anxiao-inspect-2024"),
    ("inspector@yuandu.example.cn", "yuandu-inspect-2024"),
)

pytestmark = pytest.mark.alternate_databases

DEMO_OFFICER = ("officer@xingang.example.cn", "xingang-officer-2024")

# Each select must be at least as wide as the same select at its natural width (the widest
# of its options, its padding and its arrow: what Chromium needs to show any of them whole),
# measured on a copy laid out beside it under the same rules; each field holding a value
# must show it without scrolling.
CLIPPED = """form => {
  const clipped = [];
  for (const select of form.querySelectorAll('select')) {
    const probe = select.cloneNode(true);
    probe.removeAttribute('id');
    probe.removeAttribute('name');
    probe.style.cssText = 'position: absolute; visibility: hidden; left: 0; top: 0; '
      + 'width: auto; min-width: 0; max-width: none';
    select.parentElement.appendChild(probe);
    const needed = probe.getBoundingClientRect().width;
    probe.remove();
    const has = select.getBoundingClientRect().width;
    if (has + 0.5 < needed) {
      const text = select.options[select.selectedIndex].text;
      clipped.push(`${select.id} ("${text}"): ${has.toFixed(1)} px of ${needed.toFixed(1)}`);
    }
  }
  for (const input of form.querySelectorAll('input:not([type=checkbox]):not([type=hidden])')) {
    if (input.value && input.scrollWidth > input.clientWidth + 1) {
      const widths = `${input.clientWidth} px of ${input.scrollWidth}`;
      clipped.push(`${input.id} ("${input.value}"): ${widths}`);
    }
  }
  return clipped;
}"""

# The list pages with every filter of their form in use (values as long as they come)
FILTERED_PAGES = [
    "/assets/?q=Xingang+Road+charging&kind=elevator_blocker&status=faulty",
    "/inspections/?status=due_soon&kind=elevator_blocker&asset=EB-0001&due_from=2026-01-01"
    "&due_to=2026-12-31&flagged=no",
    "/hazards/?status=rectifying&severity=general&asset=EB-0001&found_from=2026-01-01"
    "&found_to=2026-12-31&overdue=1",
    "/dashboard/grids",
    "/dashboard/grids?sort=code",
]


@pytest.fixture(scope="module")
def limited_server(demo_app) -> Iterator[tuple]:
    """The demo district served with a grid field past 5 grids (it has 23)."""
    app = create_app(
        helpers.test_config(
            demo_app.config["SQLALCHEMY_DATABASE_URI"], MAP_TILES="none", GRID_SELECT_LIMIT=5
        )
    )
    with served(app) as base_url:
        yield app, base_url
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def busiest_grid(app) -> tuple[tuple[str, str], str, set[str]]:
    """The demo contractor's account, and the second-level grid, holding the most of that
    contractor's overdue inspections today, and their ids."""
    by_grid: dict[tuple[tuple[str, str], str], set[str]] = {}
    with app.app_context():
        for account in DEMO_CONTRACTORS:
            contractor_id = user_by_email(account[0]).contractor_id
            in_grid = (
                select(Grid.code, Inspection.id)
                .join(Asset, Inspection.asset_id == Asset.id)
                .join(Grid, Asset.grid_id == Grid.id)
                .where(overdue_clause(district_today()), Inspection.contractor_id == contractor_id)
            )
            for grid, inspection_id in db.session.execute(in_grid):
                by_grid.setdefault((account, grid), set()).add(str(inspection_id))
        db.session.remove()
    assert by_grid, "the demo holds overdue inspections of a contractor"
    account, code = max(sorted(by_grid), key=lambda key: len(by_grid[key]))
    return account, code, by_grid[account, code]


@pytest.mark.parametrize("device", DEVICES_PHONE_ON_ONE_DATABASE)
def test_a_contractor_types_a_grid_code_and_sees_its_inspections(
    playwright_and_browser,  # noqa: F811
    limited_server,
    device,
):
    app, base_url = limited_server
    account, code, expected = busiest_grid(app)
    watched = browser_page(playwright_and_browser, base_url, device, account, "en")
    try:
        page = watched.page
        page.goto(base_url + "/inspections/?status=overdue")
        field = page.locator("#filter-grid")
        assert field.evaluate("field => field.tagName + ' ' + field.type") == "INPUT search"
        suggestions = page.locator("#filter-grid-choices option").evaluate_all(
            "options => options.map(option => option.value)"
        )
        assert code not in suggestions and len(suggestions) == 3  # the first-level grids
        field.fill(code.lower())
        with page.expect_navigation():
            page.locator("form.filters button[type=submit]").click()
        shown = page.locator("#inspection-table tbody tr[data-id]").evaluate_all(
            "rows => rows.map(row => row.dataset.id)"
        )
        assert set(shown) == expected and len(shown) == len(expected)
        assert page.locator("#filter-grid").input_value() == code.lower()
        assert page.locator("#filter-grid-unknown").count() == 0
        assert serious_violations(page) == []
        # a code no grid has: nothing listed, and the page says why
        field = page.locator("#filter-grid")
        field.fill("XG-99")
        with page.expect_navigation():
            page.locator("form.filters button[type=submit]").click()
        assert page.locator("#inspection-table tbody tr[data-id]").count() == 0
        assert page.locator("#filter-grid-unknown").inner_text() == "No grid has the code XG-99."
        assert serious_violations(page) == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"grid-field-{device}.png"), full_page=True)
        watched.assert_clean()
    finally:
        watched.close()


@pytest.mark.one_database
@pytest.mark.parametrize("language", LANGUAGES)
def test_on_a_phone_no_filter_cuts_off_its_text(
    playwright_and_browser,  # noqa: F811
    demo_app,
    language,
):
    app = create_app(
        helpers.test_config(demo_app.config["SQLALCHEMY_DATABASE_URI"], MAP_TILES="none")
    )
    with served(app) as base_url:
        watched = browser_page(playwright_and_browser, base_url, "pixel7", DEMO_OFFICER, language)
        try:
            page = watched.page
            clipped = {}
            for path in FILTERED_PAGES:
                page.goto(base_url + path)
                form = page.locator("form.filters")
                assert form.is_visible(), path
                clipped[path] = form.evaluate(CLIPPED)
                width = page.evaluate("() => document.scrollingElement.scrollWidth - innerWidth")
                assert width <= 0, path
            ARTIFACTS.mkdir(exist_ok=True)
            page.goto(base_url + "/inspections/?status=overdue&due_from=2026-01-01")
            page.screenshot(path=str(ARTIFACTS / f"filters-pixel7-{language}.png"))
            assert clipped == {path: [] for path in FILTERED_PAGES}
            watched.assert_clean()
        finally:
            watched.close()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
