"""The Users pages in a real browser (Debian's headless Chromium through Playwright, the app
served on 127.0.0.1): an administrator creates an officer with a grid scope through the
form, the officer signs in in a second browser and finds his grid's assets, the
administrator deactivates him, and his next page load and his API token are refused.
axe-core finds no serious or critical violation on the pages."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright import sync_api as playwright_api
from sqlalchemy import select

from accounts.models import ApiToken
from accounts.services import user_by_email
from core.audit import AuditEntry
from core.extensions import db
from tests import factories
from tests.factories import PASSWORD, blocker_data, charging_station_data
from tests.helpers import CHROMIUM, Watched, served

pytestmark = pytest.mark.alternate_databases

OFFICER = "grid.officer@example.org"
OFFICER_PASSWORD = "patrol the grid 7"


@pytest.fixture(scope="module")
def browser():
    # bin/test installs Debian's chromium: a missing browser fails, it is never skipped
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def district_app(app, district, admin):
    """The test district with CS-001 in G1-01 and EB-0001 in G2-02, and an administrator."""
    with app.app_context():
        factories.gen_asset(charging_station_data(1))
        factories.gen_asset(blocker_data(1))
        factories.gen_contractor("Fixers Ltd")
        db.session.commit()
    return app


@pytest.fixture
def server(district_app) -> Iterator[str]:
    with served(district_app) as base_url:
        yield base_url


class AdminBrowser(Watched):
    """An administrator's browser: it accepts the confirmations it is asked (deactivate)."""

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept()


def serious_violations(page) -> list:
    violations = Axe().run(page).response["violations"]
    return [
        (violation["id"], [node["target"] for node in violation["nodes"]])
        for violation in violations
        if violation["impact"] in ("serious", "critical")
    ]


def api_status(base_url: str, token: str) -> int:
    """A program's request with the bearer token (no cookies)."""
    request = urllib.request.Request(  # noqa: S310 - the loopback server of this test
        base_url + "/api/v1/assets", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_admin_creates_a_scoped_officer_then_deactivates_him(browser, server, district_app):
    admin = AdminBrowser(browser, server)
    officer = Watched(browser, server)
    try:
        admin.sign_in("admin@example.org", PASSWORD)
        page = admin.page

        # The Users page, then the form
        page.goto(server + "/users/")
        assert page.locator('#user-table tr[data-user="admin@example.org"]').count() == 1
        assert serious_violations(page) == []
        page.click("text=New user")
        page.wait_for_selector("#user-form")
        assert serious_violations(page) == []
        page.fill("#email", OFFICER)
        page.fill("#name", "Wang Fang")
        page.select_option("#role", "officer")
        page.select_option("#grid", "G1")
        page.fill("#password", OFFICER_PASSWORD)
        page.fill("#confirm", OFFICER_PASSWORD)
        with page.expect_navigation():
            page.click("#user-form button[type=submit]")
        assert "/users/" in page.url
        assert page.locator("#user-scope").inner_text().startswith("G1")
        assert serious_violations(page) == []
        officer_page_url = page.url

        # A token issued for a program of his (the command line's service)
        with district_app.app_context():
            token = factories.gen_token(OFFICER)
            db.session.commit()
        assert api_status(server, token) == 200

        # The officer signs in through the form, in a browser of his own
        officer.page.goto(server + "/login")
        officer.page.fill("#email", OFFICER)
        officer.page.fill("#password", OFFICER_PASSWORD)
        with officer.page.expect_navigation():
            officer.page.click("form button[type=submit]")
        officer.page.goto(server + "/assets/")
        rows = officer.page.locator("#asset-table tbody tr")
        assert [rows.nth(i).get_attribute("data-code") for i in range(rows.count())] == ["CS-001"]
        assert officer.page.locator("#filter-grid").input_value() == "G1"

        # The administrator deactivates him
        page.goto(officer_page_url)
        with page.expect_navigation():
            page.click("form[action$='/deactivate'] button")
        assert page.locator("#user-status").inner_text() == "Deactivated"
        assert len(admin.dialogs) == 1
        assert serious_violations(page) == []

        # His next page load lands on the sign-in page; his token answers 401
        officer.page.goto(server + "/assets/")
        assert "/login" in officer.page.url
        assert officer.page.locator("#asset-table").count() == 0
        assert api_status(server, token) == 401

        admin.dialogs.clear()
        admin.assert_clean()
        officer.assert_clean()
    finally:
        admin.close()
        officer.close()

    with district_app.app_context():
        user = user_by_email(OFFICER)
        assert (user.role, user.name, user.grid.code, user.active) == (
            "officer",
            "Wang Fang",
            "G1",
            False,
        )
        assert user.session_version == 2 and user.check_password(OFFICER_PASSWORD)
        assert db.session.scalar(select(ApiToken.revoked_at)) is not None
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity_key == OFFICER).order_by(AuditEntry.id)
        ).all()
        assert [(entry.action, entry.actor) for entry in entries] == [
            ("create", "admin@example.org"),
            ("issue_token", "cli"),
            ("login", OFFICER),
            ("update", "admin@example.org"),
            ("revoke_tokens", "admin@example.org"),
        ]
        assert entries[0].after["grid"] == "G1"
        assert (entries[3].before, entries[3].after) == ({"active": True}, {"active": False})
        db.session.remove()
