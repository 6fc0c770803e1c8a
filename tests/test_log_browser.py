"""The contractor's logging form on a phone: Debian's headless Chromium emulating a Pixel 7
with geolocation granted, driven by Playwright against the app served on 127.0.0.1 (every
request leaving 127.0.0.1 is refused), with CSRF on as in production. Each journey submits
the real form and then reads the database: the position and its distance, a 12 MB photo made
small on the phone with its EXIF kept, a result logged without signal that waits in the
outbox across a reload and is sent once when the signal returns, and a double tap, a second
tab and a replayed key giving one result. axe-core checks the form and the outbox."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright import sync_api as playwright_api
from sqlalchemy import func, select

from core import clock
from core.audit import AuditEntry
from core.extensions import db
from evidence.models import Photo
from evidence.photos import photo_path
from inspections.models import Inspection
from tests.factories import (
    CS_ITEMS,
    INSIDE_G1_01,
    PASSWORD,
    charging_station_data,
    gen_asset,
    gen_inspection,
)
from tests.helpers import CHROMIUM, served

pytestmark = [pytest.mark.slow, pytest.mark.alternate_databases]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
WAIT_MS = 30_000
ASSET = INSIDE_G1_01
METRES_NORTH = 1 / 111_195  # degrees of latitude per metre
EXIF_TIME = "2026:03:10 09:41:27"
# Whether the phone has kept the draft with these photos and notes. wait_for_function takes a
# returned Promise as a truthy answer at once, so each poll reads the store for the next one
# and answers with what the previous read found.
DRAFT_KEPT = """({photos, notes}) => {
  const form = document.getElementById('log-form');
  const id = document.body.dataset.user + ':' + form.dataset.inspection;
  const wanted = JSON.stringify([id, photos, notes]);
  window.__draftKept = window.__draftKept || {};
  SAR.store.get('drafts', id).then(draft => {
    window.__draftKept[wanted] =
      Boolean(draft) && draft.photos.length === photos && draft.values.notes === notes;
  });
  return window.__draftKept[wanted] === true;
}"""


@pytest.fixture(scope="module")
def playwright() -> Iterator[playwright_api.Playwright]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def chromium(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture
def field(app, district, contractor_user):
    """CS-001 with three inspections of Fixers Ltd due this week (the user's) and a server
    that checks CSRF tokens as production does."""
    app.config["WTF_CSRF_ENABLED"] = True
    with app.app_context():
        gen_asset(charging_station_data(1))
        today = clock.district_today()
        ids = [gen_inspection("CS-001", today + timedelta(days=days)).id for days in (0, 2, 5)]
        db.session.commit()
    return ids


@pytest.fixture
def server(app, field) -> Iterator[str]:
    with served(app) as base_url:
        yield base_url


class Phone:
    """A Pixel 7 signed in as the contractor, standing ``metres`` north of the asset."""

    def __init__(
        self,
        playwright,
        browser,
        base_url: str,
        metres: float,
        accuracy: float,
        service_workers: str = "allow",
    ):
        device = dict(playwright.devices["Pixel 7"])
        device.pop("default_browser_type", None)
        self.base_url = base_url
        self.context = browser.new_context(
            **device,
            geolocation={
                "longitude": ASSET[0],
                "latitude": ASSET[1] + metres * METRES_NORTH,
                "accuracy": accuracy,
            },
            permissions=["geolocation"] if accuracy else [],
            service_workers=service_workers,
        )
        self.context.set_default_timeout(WAIT_MS)
        self.left: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.watch(self.context.new_page())

    def watch(self, page):
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        return page

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.left.append(url)
            route.abort()

    def sign_in(self, language: str = "en") -> None:
        login = self.context.request.get(self.base_url + "/login").text()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
        response = self.context.request.post(
            self.base_url + "/login",
            form={"email": "fixer@example.org", "password": PASSWORD, "csrf_token": token},
        )
        assert response.ok
        self.context.request.get(self.base_url + f"/lang/{language}")

    def open_log(self, inspection_id: int, page=None):
        page = page or self.page
        page.goto(f"{self.base_url}/inspections/{inspection_id}/log")
        page.wait_for_selector("#log-form", state="attached")
        return page

    def fill(self, page=None, result: str = "pass", notes: str = "All fine") -> None:
        page = page or self.page
        for key in CS_ITEMS:
            page.check(f".check-item[data-item={key}] input[value=pass]")
        page.check(f"input[name=result][value={result}]")
        page.fill("textarea[name=notes]", notes)

    def wait_for_position(self, page=None) -> str:
        page = page or self.page
        page.wait_for_function(
            "() => document.getElementById('position-status').dataset.distanceM !== undefined"
        )
        return page.inner_text("#position-status")

    def wait_for_offline_copy(self) -> None:
        """The service worker controls the page and has kept the user's pages."""
        self.page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        self.page.wait_for_selector("body[data-offline-ready]", state="attached")

    def assert_clean(self) -> None:
        assert self.left == [], "requests left 127.0.0.1"
        assert self.errors == []

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def phone_at(playwright, chromium, server):
    phones = []

    def make(metres: float = 20, accuracy: float = 12, language: str = "en", **options) -> Phone:
        phone = Phone(playwright, chromium, server, metres, accuracy, **options)
        phone.sign_in(language)
        phones.append(phone)
        return phone

    yield make
    for phone in phones:
        phone.close()


def completed(app) -> list[Inspection]:
    with app.app_context():
        rows = db.session.scalars(select(Inspection).where(Inspection.status == "completed"))
        found = list(rows)
        db.session.expunge_all()
        return found


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).where(Inspection.status == "completed")),
            db.session.scalar(select(func.count(Photo.id))),
            db.session.scalar(
                select(func.count(AuditEntry.id)).where(AuditEntry.entity_type == "inspection")
            ),
        )


def serious(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is."""
    violations = Axe().run(page).response["violations"]
    return [
        {"id": found["id"], "nodes": [node["target"] for node in found["nodes"]]}
        for found in violations
        if found["impact"] in ("serious", "critical")
    ]


def detail_page_text(phone: Phone, inspection_id: int) -> str:
    phone.page.wait_for_url(f"**/inspections/{inspection_id}")
    return phone.page.inner_text("main")


# The position


def test_the_position_the_phone_reported_is_stored(app, phone_at, field):
    phone = phone_at(metres=20, accuracy=12)
    phone.open_log(field[0])
    status = phone.wait_for_position()
    assert "Position captured (± 12 m)." in status and "20 m from the asset." in status
    assert "flagged" not in status
    assert serious(phone.page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    phone.fill()
    # The README's picture (docs/phone-log.png): the lower half of the form, position shown.
    phone.page.locator(".log-actions").scroll_into_view_if_needed()
    phone.page.screenshot(path=str(ARTIFACTS / "phone-log.png"))
    phone.page.click("#save-result")
    text = detail_page_text(phone, field[0])
    assert "Result saved." in text
    (inspection,) = completed(app)
    assert inspection.stood_longitude == pytest.approx(ASSET[0], abs=1e-6)
    assert inspection.stood_latitude == pytest.approx(ASSET[1] + 20 * METRES_NORTH, abs=1e-6)
    assert inspection.stood_accuracy_m == 12
    assert inspection.distance_m == pytest.approx(20, abs=1)
    assert inspection.flagged is False
    assert "± 12 m" in text and "20 m" in text
    phone.assert_clean()


@pytest.mark.parametrize(
    ("metres", "accuracy", "on_the_form", "flagged", "on_the_record"),
    [
        (
            500,
            10,
            "More than 150 m from the asset: the result will be flagged for review.",
            True,
            "More than 150 m from the asset: flagged for review.",
        ),
        (
            20,
            400,
            "The position is imprecise: ± 400 m is more than 150 m.",
            False,
            "The position was imprecise: ± 400 m is more than 150 m",
        ),
        (
            20,
            0,  # geolocation refused
            "No position captured",
            False,
            "No position was captured.",
        ),
    ],
)
def test_a_doubtful_position_is_shown_before_and_after_saving(
    app, phone_at, field, metres, accuracy, on_the_form, flagged, on_the_record
):
    phone = phone_at(metres=metres, accuracy=accuracy)
    phone.open_log(field[0])
    phone.page.wait_for_selector("#position-status.position-warn")
    assert on_the_form in phone.page.inner_text("#position-status")
    phone.fill()
    phone.page.click("#save-result")
    text = detail_page_text(phone, field[0])
    assert on_the_record in text
    (inspection,) = completed(app)
    assert inspection.flagged is flagged
    if accuracy:
        assert inspection.stood_accuracy_m == accuracy
        assert inspection.distance_m == pytest.approx(metres, abs=2)
    else:
        assert inspection.stood_longitude is None and inspection.distance_m is None
    if flagged:
        assert "Flagged" in text
        assert f"Result saved. You were {metres} m from the asset" in text
    phone.assert_clean()


# Photos


def phone_photo(path: Path) -> int:
    """A 4000 × 3000 JPEG of 12–14 MB, as a phone takes it, with its time and GPS in EXIF."""
    width, height = 4000, 3000
    pixels = random.Random(10).randbytes(width * height * 3)
    image = Image.frombytes("RGB", (width, height), pixels)
    exif = Image.Exif()
    exif[0x0110] = "Pixel 7"  # Model
    exif.get_ifd(0x8769)[0x9003] = EXIF_TIME  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (36.0, 42.0, 54.0), 3: "E", 4: (119.0, 9.0, 0.0)})
    image.save(path, "JPEG", quality=70, subsampling=0, exif=exif)
    return path.stat().st_size


def test_a_12_mb_phone_photo_is_made_small_on_the_phone_and_kept_across_errors(
    app, phone_at, field, tmp_path
):
    original = tmp_path / "IMG_20260310_094127.jpg"
    size = phone_photo(original)
    assert 12 * 2**20 <= size <= 14 * 2**20
    assert size > app.config["PHOTO_MAX_BYTES"]
    phone = phone_at()
    page = phone.open_log(field[0])
    phone.wait_for_position()
    phone.fill()
    page.set_input_files("input[name=photos]", str(original))
    page.wait_for_selector("body[data-photos='1']", state="attached")
    assert page.locator("#photo-list img").count() == 1
    assert page.get_attribute("#photo-list button", "aria-label") == "Remove photo 1"
    # A reload loses nothing: answers, notes and the photo come back from the phone.
    page.wait_for_function(DRAFT_KEPT, arg={"photos": 1, "notes": "All fine"})
    page.reload()
    page.wait_for_selector("#draft-restored:not([hidden])")
    page.wait_for_selector("body[data-photos='1']", state="attached")
    assert page.input_value("textarea[name=notes]") == "All fine"
    assert page.is_checked("input[name=result][value=pass]")
    # The server refuses a completion time in the future: shown in place, the photo kept.
    tomorrow = (clock.now_utc() + timedelta(days=1)).astimezone(ZoneInfo(app.config["TIMEZONE"]))
    page.fill("input[name=completed_at]", tomorrow.strftime("%Y-%m-%dT%H:%M"))
    page.click("#save-result")
    page.wait_for_selector("[data-error-for=completed_at]:not([hidden])")
    assert "Must not be in the future." in page.inner_text("[data-field=completed_at]")
    assert page.is_visible("#form-errors")
    assert page.locator("#photo-list img").count() == 1
    assert counts(app) == (0, 0, 0)
    page.fill("input[name=completed_at]", "")
    page.click("#save-result")
    detail_page_text(phone, field[0])

    (inspection,) = completed(app)
    with app.app_context():
        (photo,) = db.session.scalars(select(Photo)).all()
        stored = photo_path(photo)
        assert photo.content_type == "image/jpeg"
        assert max(photo.width, photo.height) == 1600
        assert photo.size_bytes <= app.config["PHOTO_MAX_BYTES"]
    with Image.open(stored) as image:
        assert image.size == (1600, 1200)
        exif = image.getexif()
        assert exif.get_ifd(0x8769)[0x9003] == EXIF_TIME
        gps = exif.get_ifd(0x8825)
        assert gps[1] == "N" and float(gps[2][0]) == 36.0 and float(gps[4][1]) == 9.0
        assert exif.get(0x0112, 1) == 1  # upright already
    phone.errors = [error for error in phone.errors if "status of 422" not in error]
    phone.assert_clean()


def test_the_server_still_refuses_what_is_not_an_image(app, phone_at, field, tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_bytes(b"GIF89a this is not a photo")
    phone = phone_at()
    page = phone.open_log(field[0])
    phone.wait_for_position()
    phone.fill()
    page.set_input_files("input[name=photos]", str(fake))
    page.wait_for_selector("body[data-photos='1']", state="attached")
    page.click("#save-result")
    page.wait_for_selector("[data-error-for=photos]:not([hidden])")
    assert "notes.jpg is not a readable image." in page.inner_text("[data-field=photos]")
    assert counts(app) == (0, 0, 0)
    # Removed, the form goes through.
    page.click("#photo-list button")
    page.wait_for_selector("body[data-photos='0']", state="attached")
    page.click("#save-result")
    detail_page_text(phone, field[0])
    assert counts(app) == (1, 0, 1)
    phone.errors = [error for error in phone.errors if "status of 422" not in error]
    phone.assert_clean()


# Without signal


def test_a_result_logged_without_signal_waits_and_is_sent_once(app, phone_at, field, tmp_path):
    phone = phone_at(language="zh")
    page = phone.open_log(field[0])
    phone.wait_for_offline_copy()
    assert page.get_attribute("body", "data-offline-ready") == "5"  # 2 lists + 3 forms
    phone.wait_for_position()
    phone.fill(notes="电梯间无信号")
    small = tmp_path / "plate.png"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(small)
    page.set_input_files("input[name=photos]", str(small))
    page.wait_for_selector("body[data-photos='1']", state="attached")

    phone.context.set_offline(True)
    page.click("#save-result")
    page.wait_for_selector("#log-queued:not([hidden])")
    page.wait_for_selector("#outbox:not([hidden])")
    assert page.inner_text("#outbox-count") == "1 条结果等待发送"
    assert counts(app) == (0, 0, 0)
    assert serious(page) == []
    page.screenshot(path=str(ARTIFACTS / "phone-outbox.png"))  # docs/phone-outbox.png

    # A reload without signal: the page comes from the phone, the result still waits.
    page.reload()
    page.wait_for_selector("#outbox:not([hidden])")
    assert page.inner_text("#outbox-count") == "1 条结果等待发送"
    assert page.is_visible("#log-queued") and not page.is_visible("#log-form")
    # Another inspection of the week opens without signal too, with its checklist.
    other = phone.open_log(field[2], phone.watch(phone.context.new_page()))
    assert other.locator(".check-item").count() == len(CS_ITEMS)
    other.close()
    assert counts(app) == (0, 0, 0)

    phone.context.set_offline(False)
    page.wait_for_selector("body[data-outbox='0']", state="attached")
    page.wait_for_selector("#outbox", state="hidden")
    assert counts(app) == (1, 1, 1)
    (inspection,) = completed(app)
    assert inspection.id == field[0] and inspection.notes == "电梯间无信号"
    assert inspection.idempotency_key and inspection.distance_m == pytest.approx(20, abs=1)
    # Offline the browser logs its failed fetches; nothing else went wrong.
    phone.errors = [error for error in phone.errors if "ERR_INTERNET_DISCONNECTED" not in error]
    phone.assert_clean()


def test_the_signal_returning_during_a_send_is_not_missed(app, phone_at, field):
    """The signal comes back while the page is still trying to send (a slow answer, the
    "online" event arriving mid-try): once that try fails, the page tries again at once
    rather than leaving the result waiting for the next page load. No service worker here:
    its Background Sync would send the result and hide what the page did."""
    phone = phone_at(service_workers="block")
    page = phone.open_log(field[0])
    phone.wait_for_position()
    phone.fill(notes="back mid-send")
    phone.context.set_offline(True)
    page.click("#save-result")
    page.wait_for_selector("#log-queued:not([hidden])")
    page.wait_for_selector("body[data-outbox='1']", state="attached")

    held = []

    def hold_the_first_try(route) -> None:
        if held:
            route.fallback()
        else:
            held.append(route)

    page.route("**/inspections/offline.json*", hold_the_first_try)
    phone.context.set_offline(False)  # "online": the page starts a try, held here
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    page.evaluate("window.dispatchEvent(new Event('online'))")  # the signal, again, mid-try
    held[0].abort("internetdisconnected")  # and that try fails
    page.wait_for_selector("body[data-outbox='0']", state="attached", timeout=10_000)
    assert counts(app) == (1, 0, 1)
    (inspection,) = completed(app)
    assert (inspection.id, inspection.notes) == (field[0], "back mid-send")
    phone.errors = [e for e in phone.errors if "ERR_INTERNET_DISCONNECTED" not in e]
    phone.assert_clean()


# Twice


def test_a_double_tap_a_second_tab_and_a_replayed_key_give_one_result(app, phone_at, field):
    phone = phone_at()
    first = phone.page
    served_html = first.goto(f"{phone.base_url}/inspections/{field[0]}/log").text()
    served_key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', served_html)
    phone.wait_for_position()
    phone.fill(notes="first tab")
    first.wait_for_function("() => document.body.dataset.outbox !== undefined")
    # A second tab of the same form takes up the draft, and its key.
    second = phone.open_log(field[0], phone.watch(phone.context.new_page()))
    second.wait_for_selector("#draft-restored:not([hidden])")
    assert second.input_value("textarea[name=notes]") == "first tab"
    key = first.input_value("input[name=idempotency_key]")
    assert second.input_value("input[name=idempotency_key]") == key
    # The phone made the key (the page's own serves the plain form).
    assert re.fullmatch(r"[0-9a-f-]{36}", key) and key != served_key.group(1)

    first.dblclick("#save-result")
    second.click("#save-result")
    detail_page_text(phone, field[0])
    second.wait_for_url(f"**/inspections/{field[0]}")
    assert counts(app) == (1, 0, 1)
    (inspection,) = completed(app)
    assert inspection.idempotency_key == key

    # The same key sent to the API again: the original result, nothing written.
    session = phone.context.request.get(phone.base_url + "/inspections/offline.json").json()
    url = f"{phone.base_url}/api/v1/inspections/{field[0]}/result"
    values = {"answers": dict.fromkeys(CS_ITEMS, "fail"), "result": "fail"}
    headers = {"X-CSRFToken": session["csrf_token"], "Idempotency-Key": key}
    replay = phone.context.request.post(url, data=values, headers=headers)
    assert replay.status == 200
    original = phone.context.request.get(f"{phone.base_url}/api/v1/inspections/{field[0]}")
    assert replay.json() == original.json()
    assert replay.json()["result"] == "pass" and replay.json()["notes"] == "first tab"
    other = phone.context.request.post(
        url, data=values, headers={**headers, "Idempotency-Key": "x"}
    )
    assert other.status == 409
    assert counts(app) == (1, 0, 1)
    phone.assert_clean()


def test_the_page_works_without_javascript(app, playwright, chromium, server, field):
    """Progressive enhancement: the plain form post, position left empty, still logs."""
    device = dict(playwright.devices["Pixel 7"])
    device.pop("default_browser_type", None)
    context = chromium.new_context(**device, java_script_enabled=False)
    try:
        phone = Phone.__new__(Phone)
        phone.context, phone.base_url = context, server
        phone.sign_in()
        page = context.new_page()
        page.goto(f"{server}/inspections/{field[1]}/log")
        phone.fill(page)
        page.click("#save-result")
        page.wait_for_url(f"**/inspections/{field[1]}")
        assert "Result saved." in page.inner_text("main")
        assert counts(app)[0] == 1
    finally:
        context.close()


def test_the_outbox_survives_a_phone_restart_and_a_lost_session(
    app, playwright, server, field, tmp_path
):
    """The phone is switched off with a result waiting, and back on without signal; the
    session is gone by then. The page still opens, the result still waits; back online it
    asks to sign in again, and once signed in it is sent, once."""
    device = dict(playwright.devices["Pixel 7"])
    device.pop("default_browser_type", None)
    position = {"longitude": ASSET[0], "latitude": ASSET[1], "accuracy": 8}

    def switch_on(offline: bool) -> Phone:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "phone"),
            executable_path=CHROMIUM,
            args=["--no-sandbox"],
            geolocation=position,
            permissions=["geolocation"],
            offline=offline,
            **device,
        )
        phone = Phone.__new__(Phone)
        phone.base_url, phone.context, phone.left, phone.errors = server, context, [], []
        context.set_default_timeout(WAIT_MS)
        context.route("**/*", phone._route)
        phone.page = phone.watch(context.pages[0] if context.pages else context.new_page())
        return phone

    phone = switch_on(offline=False)
    try:
        phone.sign_in()
        page = phone.open_log(field[1])
        phone.wait_for_offline_copy()
        phone.wait_for_position()
        phone.fill(notes="before the restart")
        phone.context.set_offline(True)
        page.click("#save-result")
        page.wait_for_selector("#log-queued:not([hidden])")
    finally:
        phone.close()

    phone = switch_on(offline=True)
    try:
        phone.context.clear_cookies()  # the session did not outlive the restart
        page = phone.open_log(field[1])
        page.wait_for_selector("#outbox:not([hidden])")
        assert page.inner_text("#outbox-count") == "1 result waiting to send"
        assert page.is_visible("#log-queued")
        phone.context.set_offline(False)
        page.wait_for_selector("#outbox-list li[data-state=signin]")
        assert "Sign in again" in page.inner_text("#outbox")
        assert counts(app) == (0, 0, 0)
        phone.sign_in()
        page.reload()
        page.wait_for_selector("body[data-outbox='0']", state="attached")
        assert counts(app) == (1, 0, 1)
        (inspection,) = completed(app)
        assert (inspection.id, inspection.notes) == (field[1], "before the restart")
        phone.errors = [e for e in phone.errors if "ERR_INTERNET_DISCONNECTED" not in e]
        phone.assert_clean()
    finally:
        phone.close()
