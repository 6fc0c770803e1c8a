"""The hazard report past ``FORM_SELECT_LIMIT`` in a real browser (Debian's headless Chromium,
Playwright; every request leaving 127.0.0.1 refused): a contractor, at 1440×900 and on a
Pixel 7 (hazards are reported from phones), types a site's name that no site has and is told
so with nothing written, then types a real site and its own company as the responsible party
and submits; the database holds exactly that, and the list's responsible filter, typed too,
finds it. axe-core finds nothing serious on any of the pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from core.extensions import db
from hazards.models import Hazard
from tests.factories import INSIDE_G1_01, PASSWORD, gen_site
from tests.helpers import serious_violations, served
from tests.test_dashboard_browser import (  # noqa: F401 (a fixture)
    DEVICES_PHONE_ON_ONE_DATABASE,
    browser_page,
    playwright_and_browser,
)

pytestmark = pytest.mark.alternate_databases

REFUSED = "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"


@pytest.fixture
def past_the_limit(app, district, contractor_user) -> Iterator[str]:
    """Five sites of five property companies, the forms' limit at 3, the app served."""
    app.config.update(FORM_SELECT_LIMIT=3, MAP_TILES="none")
    with app.app_context():
        for number in range(1, 6):
            gen_site(f"Hill Court {number}", f"Hill Property {number}")
        db.session.commit()
    with served(app) as base_url:
        yield base_url


def hazards_stored(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(Hazard.description, Hazard.site_id, Hazard.responsible_contractor_id)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("device", DEVICES_PHONE_ON_ONE_DATABASE)
def test_a_contractor_reports_a_hazard_typing_the_site_and_party(
    app,
    playwright_and_browser,  # noqa: F811
    past_the_limit,
    device,
):
    base_url = past_the_limit
    account = ("fixer@example.org", PASSWORD)
    watched = browser_page(playwright_and_browser, base_url, device, account, "en")
    try:
        page = watched.page
        page.goto(base_url + "/hazards/new")
        assert page.locator("select#site_id, select#responsible").count() == 0
        suggested = page.locator("#responsible-choices option").evaluate_all(
            "options => options.map(option => option.value)"
        )
        assert suggested == ["Fixers Ltd"]
        assert serious_violations(page) == []

        page.select_option("#category", "ebike_in_corridor")
        page.select_option("#severity", "general")
        page.fill("#description", "E-bike charging on the landing")
        page.fill("#longitude", str(INSIDE_G1_01[0]))
        page.fill("#latitude", str(INSIDE_G1_01[1]))
        page.fill("#site_name", "Hill Court 9")
        page.fill("#responsible", "Fixers Ltd")
        with page.expect_navigation():
            page.locator("form.hazard-form button[type=submit]").click()
        message = page.locator(".field:has(#site_name) p.error")
        assert message.inner_text() == "Unknown site: Hill Court 9."
        assert page.locator("#site_name").get_attribute("aria-invalid") == "true"
        assert page.locator("#description").input_value() == "E-bike charging on the landing"
        assert hazards_stored(app) == []
        assert serious_violations(page) == []
        assert watched.errors == [REFUSED]
        watched.errors.clear()

        page.fill("#site_name", "Hill Court 4")
        assert page.locator("#responsible").input_value() == "Fixers Ltd"
        with page.expect_navigation():
            page.locator("form.hazard-form button[type=submit]").click()
        assert "/hazards/HZ-" in page.url
        with app.app_context():
            hazard = db.session.scalar(select(Hazard))
            assert (hazard.site.name, hazard.responsible_contractor.name) == (
                "Hill Court 4",
                "Fixers Ltd",
            )
            assert hazard.responsible_company_id is None
            assert hazard.description == "E-bike charging on the landing"
            assert db.session.scalar(select(func.count()).select_from(Hazard)) == 1
            code = hazard.code
            db.session.remove()

        # the list's responsible filter is typed too: the contractor's own name finds it
        page.goto(base_url + "/hazards/")
        if not page.locator("details.filter-box").evaluate("box => box.open"):
            page.locator("details.filter-box summary").click()  # folded on a phone
        page.fill("#filter-responsible", "Fixers Ltd")
        with page.expect_navigation():
            page.locator("form.filters button[type=submit]").click()
        shown = page.locator("#hazard-table tbody tr[data-code]").evaluate_all(
            "rows => rows.map(row => row.dataset.code)"
        )
        assert shown == [code]
        assert serious_violations(page) == []
        watched.assert_clean()
    finally:
        watched.close()
