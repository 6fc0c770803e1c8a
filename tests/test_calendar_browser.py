"""The calendar feed as a contractor makes it on a phone (Pixel 7, Debian's Chromium): the
new address, its webcal link and a QR code that a phone camera reads back; then the feed
itself, read with icalendar, and what was stored."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest
from PIL import Image
from playwright import sync_api as playwright_api
from pyzbar import pyzbar

from tests import factories
from tests.helpers import CHROMIUM, WAIT_MS, serious_violations, served
from tests.test_calendar import feeds, frozen, schedule  # noqa: F401 (fixtures)

pytestmark = pytest.mark.alternate_databases


@pytest.fixture(scope="module")
def playwright() -> Iterator[playwright_api.Playwright]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as running:
        yield running


@pytest.fixture
def phone(app, playwright, schedule):  # noqa: F811
    app.config["MAP_TILES"] = "none"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    device = dict(playwright.devices["Pixel 7"])
    device.pop("default_browser_type", None)
    with served(app) as base_url:
        context = browser.new_context(**device)
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(base_url + "/login")
        page.fill("input[name=email]", "fixer@example.org")
        page.fill("input[name=password]", factories.PASSWORD)
        page.click("button[type=submit]")
        page.goto(base_url + "/lang/en")
        yield page, base_url, errors
        context.close()
    browser.close()


def test_a_contractor_subscribes_its_phone_to_the_feed(app, phone):
    page, base_url, errors = phone
    page.goto(base_url + "/calendar/")
    assert page.locator("[data-feed=none]").is_visible()
    page.get_by_role("button", name="Create a feed").click()
    page.wait_for_selector("#new-feed")

    address = page.input_value(".feed-url")
    token = address.rsplit("/", 1)[-1].removesuffix(".ics")
    webcal = page.get_attribute("#webcal-link", "href")
    assert webcal == address.replace("https://", "webcal://", 1)
    # The QR code as the phone shows it, read by a decoder as a camera would.
    figure = page.locator(".feed-qr-figure [role=img]")
    assert figure.bounding_box()["width"] <= page.viewport_size["width"]
    shot = Image.open(io.BytesIO(figure.screenshot(scale="device")))
    codes = pyzbar.decode(shot.convert("L"), symbols=[pyzbar.ZBarSymbol.QRCODE])
    assert [code.data.decode() for code in codes] == [webcal]
    assert serious_violations(page) == []

    # What was stored: one live feed of this contractor, its token kept only as a hash.
    ((_contractor, token_hash, revoked),) = feeds(app)
    assert token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert revoked is None
    # The feed at that address lists the company's open inspections, overdue ones today.
    feed = page.context.request.get(f"{base_url}/calendar/{token}.ics")
    assert feed.ok
    events = icalendar.Calendar.from_ical(feed.body()).walk("VEVENT")
    summaries = sorted(str(event["SUMMARY"]) for event in events)
    assert len(summaries) == 3
    assert sum(summary.startswith("Overdue") for summary in summaries) == 1
    assert errors == []
