"""The profile page in a real browser (Debian's headless Chromium through Playwright, the app
served on 127.0.0.1): an officer refused a weak password, changes it, and a second browser
signed in before it lands on the sign-in page; he creates a named API token (shown once,
working), then revokes it from the list, and it answers 401. axe-core finds no serious or
critical violation on the page."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import select

from accounts.models import ApiToken, secret_hash
from accounts.services import user_by_email
from core.extensions import db
from tests import factories
from tests.factories import PASSWORD
from tests.helpers import CHROMIUM, Watched, serious_violations, served

pytestmark = pytest.mark.alternate_databases

OFFICER = "officer@example.org"
NEW_PASSWORD = "lantern orchard gravel 42"


@pytest.fixture(scope="module")
def browser():
    # bin/test installs Debian's chromium: a missing browser fails, it is never skipped
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def server(app):
    with app.app_context():
        factories.gen_user(OFFICER, "officer")
        db.session.commit()
    with served(app) as base_url:
        yield base_url


def api_status(base_url: str, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - the loopback server of this test
        base_url + "/api/v1/assets", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def sign_in_through_the_form(person: Watched, password: str) -> None:
    page = person.page
    page.goto(person.base_url + "/lang/en")
    page.goto(person.base_url + "/login")
    page.fill("#email", OFFICER)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")


def test_an_officer_changes_his_password_and_makes_and_revokes_a_token(app, browser, server):
    officer = Watched(browser, server)
    elsewhere = Watched(browser, server)
    try:
        sign_in_through_the_form(officer, PASSWORD)
        sign_in_through_the_form(elsewhere, PASSWORD)
        page = officer.page
        page.goto(server + "/profile")
        assert page.locator("#session-table tbody tr").count() == 2
        assert serious_violations(page) == []

        # A common password is refused, with the reason under the field
        page.fill("#current_password", PASSWORD)
        page.fill("#password", "password")
        page.fill("#confirm", "password")
        with page.expect_navigation():
            page.click("#password-form button[type=submit]")
        assert "too easy to guess" in page.locator("#password-form").inner_text()
        assert serious_violations(page) == []
        # the refusal's status (400) is the only console error, as for every refused form
        assert officer.errors == [
            "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"
        ]
        officer.errors.clear()

        # A good one is taken: this browser goes on, the other one is signed out
        page.fill("#current_password", PASSWORD)
        page.fill("#password", NEW_PASSWORD)
        page.fill("#confirm", NEW_PASSWORD)
        with page.expect_navigation():
            page.click("#password-form button[type=submit]")
        assert "Your password is changed" in page.inner_text("body")
        assert page.locator("#session-table tbody tr").count() == 1
        elsewhere.page.goto(server + "/assets/")
        assert "/login" in elsewhere.page.url

        # A named token, shown once
        page.fill("#name", "field tablet")
        page.fill("#days", "30")
        with page.expect_navigation():
            page.click("#token-form button[type=submit]")
        token = page.locator("#new-token-value").inner_text()
        assert len(token) >= 40 and api_status(server, token) == 200
        assert serious_violations(page) == []
        page.goto(server + "/profile")
        assert page.locator("#new-token-value").count() == 0
        assert token not in page.content()
        row = page.locator("#token-table tbody tr")
        assert row.count() == 1 and "field tablet" in row.inner_text()

        # Revoked from the list: it answers 401 and leaves the list
        with page.expect_navigation():
            row.locator("button").click()
        assert page.locator("#token-table tbody tr").count() == 0
        assert api_status(server, token) == 401

        officer.assert_clean()
        elsewhere.assert_clean()
    finally:
        officer.close()
        elsewhere.close()

    with app.app_context():
        user = user_by_email(OFFICER)
        assert user.check_password(NEW_PASSWORD)
        stored = db.session.scalar(select(ApiToken))
        assert stored.token_hash == secret_hash(token) and stored.revoked_at is not None
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        db.session.remove()
