"""Every kind of page under the Content-Security-Policy in a real browser (Debian's
Chromium through Playwright): the page works (the map draws its markers and opens a popup,
the small maps and the point picker draw, ECharts draws the dashboard's charts) and the
browser reports no ``securitypolicyviolation`` and no console error. Tiles come from
OpenStreetMap's address, answered by a stand-in tile server inside the browser (nothing
leaves the machine), so the policy's ``img-src`` for the configured tiles is exercised too;
what the tile server is told by ``Referer`` is the app's origin only."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright import sync_api as playwright_api
from sqlalchemy import select

from accounts.models import Contractor, User
from app import create_app
from core.extensions import db
from hazards.models import Hazard
from inspections.models import Inspection
from tests import factories, helpers
from tests.helpers import CHROMIUM, DRAWN_READY, WAIT_MS, served

pytestmark = [pytest.mark.slow, pytest.mark.one_database]

TILE_HOST = "tile.openstreetmap.org"
# A 1×1 transparent PNG: what the stand-in tile server answers for every tile.
TILE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
# Recorded from the first script of every document (frames too), before the page's own.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(
    event.violatedDirective + ' ' + (event.blockedURI || 'inline') + ' ' +
    (event.sourceFile || '') + ':' + event.lineNumber);
});
"""

# An inline script without the nonce, as injected markup would be: refused, and reported.
INJECT_SCRIPT = """() => new Promise((resolve) => {
  document.addEventListener('securitypolicyviolation',
    (event) => resolve(event.violatedDirective), {once: true});
  const script = document.createElement('script');
  script.textContent = 'window.__injected = 1';
  document.body.appendChild(script);
  setTimeout(() => resolve(window.__injected ? 'ran' : 'nothing reported'), 2000);
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class PolicyWatched:
    """A browser context that records CSP violations, console errors and page errors, lets
    tile requests reach the stand-in tile server (recording their Referer) and refuses every
    other request that would leave 127.0.0.1."""

    def __init__(self, browser, base_url: str):
        self.base_url = base_url
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(WAIT_MS)
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.left: list[str] = []
        self.errors: list[str] = []
        self.violations: list[str] = []
        self.tile_referers: list[str | None] = []
        self.referers: list[str] = []
        self.dialogs: list[str] = []
        self.dialog_answers: list[bool] = []  # the next questions' answers; then "OK"
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("dialog", self._dialog)

    def _route(self, route) -> None:
        request = route.request
        host = urlsplit(request.url).hostname
        referer = request.header_value("referer")
        if referer:
            self.referers.append(referer)
        if request.url.startswith(("data:", "blob:", "about:")) or host == "127.0.0.1":
            route.continue_()
        elif host == TILE_HOST:
            self.tile_referers.append(referer)
            route.fulfill(status=200, content_type="image/png", body=TILE_PNG)
        else:
            self.left.append(request.url)
            route.abort()

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        accept = self.dialog_answers.pop(0) if self.dialog_answers else True
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def sign_in(self, email: str, password: str) -> None:
        self.page.goto(self.base_url + "/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        with self.page.expect_navigation():
            self.page.click("main button[type=submit]")
        self.context.request.get(self.base_url + "/lang/en")

    def visit(self, path: str, ready: str | None = None) -> None:
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")
        if ready:
            self.page.wait_for_selector(ready)
        self.collect(path)

    def collect(self, where: str) -> None:
        found = self.page.evaluate("() => window.__cspViolations || []")
        self.violations.extend(f"{where}: {text}" for text in found)
        for frame in self.page.frames[1:]:
            inner = frame.evaluate("() => window.__cspViolations || []")
            self.violations.extend(f"{where} (frame): {text}" for text in inner)

    def assert_policy_enforced(self) -> None:
        """The page is under the policy: an injected inline script does not run."""
        self.collect(self.page.url)
        before = len(self.errors)
        assert self.page.evaluate(INJECT_SCRIPT) == "script-src-elem"
        assert self.page.evaluate("() => window.__injected") is None
        self.page.wait_for_timeout(300)  # the console's report of it
        self.page.evaluate("() => { window.__cspViolations = []; }")
        reported = self.errors[before:]
        assert any("Content Security Policy" in text for text in reported)
        self.errors[before:] = [text for text in reported if "Content Security Policy" not in text]

    def assert_clean(self) -> None:
        assert self.violations == []
        assert self.errors == []
        assert self.left == [], "requests left 127.0.0.1"

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def demo_server(demo_app) -> Iterator[str]:
    """The demo district (read only), with OpenStreetMap tiles (answered by the stand-in)."""
    app = create_app(
        helpers.test_config(demo_app.config["SQLALCHEMY_DATABASE_URI"], MAP_TILES="osm")
    )
    with served(app) as base_url:
        yield base_url
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def demo_password(email: str) -> str:
    from demo.district import ACCOUNTS

    return next(entry[1] for entry in ACCOUNTS if entry[0] == email)


ADMIN = "admin@xingang.example.cn"


def demo_facts(demo_app) -> dict:
    with demo_app.app_context():
        hazard = db.session.scalar(select(Hazard.code).order_by(Hazard.id))
        admin = db.session.scalar(select(User.id).where(User.email == ADMIN))
        contractor = db.session.scalar(
            select(User).where(User.role == "contractor").order_by(User.id)
        )
        inspection = db.session.scalar(
            select(Inspection.id)
            .where(
                Inspection.contractor_id == contractor.contractor_id,
                Inspection.status == "scheduled",
            )
            .order_by(Inspection.due_on, Inspection.id)
        )
        facts = {
            "hazard": hazard,
            "admin_id": admin,
            "contractor": contractor.email,
            "inspection": inspection,
        }
        db.session.remove()
    return facts


def test_every_page_kind_works_under_the_policy(browser, demo_server, demo_app):
    from demo.district import OFFICER

    facts = demo_facts(demo_app)
    assert facts["hazard"] and facts["inspection"]

    officer = PolicyWatched(browser, demo_server)
    try:
        officer.sign_in(OFFICER, demo_password(OFFICER))
        page = officer.page
        # The dashboard: both ECharts charts drawn.
        officer.visit("/", ready="body[data-charts-drawn='2']")
        for chart in ("#trend-chart", "#grid-map-chart"):
            assert page.locator(f"{chart} canvas").count() >= 1
        # The map: every asset drawn, tiles shown, a marker's popup opened.
        officer.visit("/map")
        page.wait_for_function(DRAWN_READY, arg=454)
        page.wait_for_selector(".leaflet-tile-loaded")
        officer.visit("/map?q=CS-001")
        page.wait_for_function(DRAWN_READY, arg=1)
        page.click('.sar-marker[title="CS-001"]')
        page.wait_for_selector('.leaflet-popup-content .sar-popup[data-code="CS-001"]')
        officer.collect("/map popup")
        officer.assert_policy_enforced()
        # Lists, the asset and hazard pages (their small maps), the hazard form's picker.
        for path in ("/assets/", "/inspections/", "/hazards/", "/plans/", "/contractors/"):
            officer.visit(path, ready="main table, main .empty, main h1")
        officer.visit("/alerts/", ready="main h1")
        officer.visit("/assets/CS-001", ready=".small-map .sar-marker")
        officer.visit(f"/hazards/{facts['hazard']}", ready=".small-map .leaflet-container")
        officer.visit("/hazards/new", ready="#hazard-picker .leaflet-container")
        # QR labels: one, and a grid's sheet.
        officer.visit("/assets/CS-001/label", ready=".qr-label svg")
        officer.visit("/assets/labels?grid=G1", ready=".qr-label svg")
        officer.visit("/calendar/", ready="main h1")
        officer.visit("/profile", ready="main h1")
        assert officer.tile_referers, "the map loaded no tile"
        assert set(officer.tile_referers) == {demo_server + "/"}  # the origin, nothing more
        officer.assert_clean()
    finally:
        officer.close()

    admin = PolicyWatched(browser, demo_server)
    try:
        admin.sign_in(ADMIN, demo_password(ADMIN))
        admin.visit("/imports/", ready="main form")
        admin.visit("/users/", ready="main table")
        admin.visit(f"/users/{facts['admin_id']}", ready="main h1")
        admin.visit("/assets/new", ready="#kind")
        admin.visit("/plans/new", ready="#asset_kind")
        admin.assert_clean()
    finally:
        admin.close()

    contractor = PolicyWatched(browser, demo_server)
    try:
        contractor.sign_in(facts["contractor"], demo_password(facts["contractor"]))
        contractor.visit("/", ready="main h1")
        contractor.visit(f"/inspections/{facts['inspection']}/log", ready="form")
        contractor.visit("/calendar/", ready="main h1")
        contractor.visit("/map", ready=".leaflet-marker-icon.sar-marker, .sar-cluster")
        contractor.assert_clean()
    finally:
        contractor.close()


def test_a_confirmation_still_asks_before_a_post(browser, app, officer):
    """Confirmations are script now (``data-confirm``, no inline handler): dismissing the
    question posts nothing, accepting it posts."""
    app.config["MAP_TILES"] = "none"
    with app.app_context():
        factories.gen_user("admin@example.org", "admin")
        factories.gen_token(officer)
        db.session.commit()
        officer_id = db.session.scalar(select(User.id).where(User.email == officer))
    with served(app) as base_url:
        watched = PolicyWatched(browser, base_url)
        try:
            watched.sign_in("admin@example.org", factories.PASSWORD)
            watched.visit(f"/users/{officer_id}", ready="main h1")
            watched.dialog_answers = [False]
            revoke = watched.page.locator(
                f"form[data-confirm][action='/users/{officer_id}/tokens/revoke'] button"
            )
            revoke.click()
            watched.page.wait_for_timeout(300)
            assert watched.page.url.endswith(f"/users/{officer_id}")
            assert live_tokens(app, officer) == 1  # dismissed: nothing posted
            with watched.page.expect_navigation():
                revoke.click()
            assert live_tokens(app, officer) == 0
            assert watched.dialogs == ["Revoke every API token of this user?"] * 2
            watched.collect("users")
            watched.assert_clean()
        finally:
            watched.close()


def live_tokens(app, email: str) -> int:
    from accounts.models import ApiToken

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        count = len(
            db.session.scalars(
                select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            ).all()
        )
        db.session.remove()
        return count


def test_the_calendar_secret_never_reaches_a_referer(browser, app, contractor_user):
    """The feed's address (its secret) is shown once, in the answer to a POST: no page
    address holds it, so no request made from that page or after it can carry it."""
    app.config["MAP_TILES"] = "osm"
    with served(app) as base_url:
        watched = PolicyWatched(browser, base_url)
        try:
            watched.sign_in(contractor_user, factories.PASSWORD)
            watched.visit("/calendar/", ready="main h1")
            with watched.page.expect_navigation():
                watched.page.get_by_role("button", name="Create a feed").click()
            watched.page.wait_for_selector("#new-feed")
            watched.collect("/calendar/new")
            address = watched.page.input_value(".feed-url")
            token = address.rsplit("/", 1)[-1].removesuffix(".ics")
            assert len(token) > 20
            assert token not in watched.page.url
            with app.app_context():
                assert db.session.scalar(select(Contractor.id)) is not None
                db.session.remove()
            # Onwards from the page that showed it: a link in the app, then the map's tiles.
            with watched.page.expect_navigation():
                watched.page.click("header .wide-only a[href='/map']")
            watched.page.wait_for_load_state("networkidle")
            watched.collect("/map")
            assert watched.referers, "no request carried a Referer"
            assert not [referer for referer in watched.referers if token in referer]
            assert all(referer == base_url + "/" for referer in watched.tile_referers)
            watched.assert_clean()
        finally:
            watched.close()
