"""QR labels as a person prints them: the label pages rendered by Debian's headless Chromium,
screenshotted at 1×, 2× and on a phone, and printed to an A4 PDF rasterised at 300 dpi, must
decode with real QR decoders (OpenCV and zbar) to each asset's logging URL. Every request
that would leave 127.0.0.1 is refused and fails the test."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
import segno
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright import sync_api as playwright_api
from pyzbar import pyzbar
from sqlalchemy import select

from assets.models import Asset
from core.extensions import db
from tests import factories
from tests.helpers import CHROMIUM, served

pytestmark = [pytest.mark.slow, pytest.mark.one_database]

BASE_URL = "https://sar.example.org"
SHEET_SIZE = 14  # more than one A4 page of labels
WAIT_MS = 30_000
PDF_DPI = 300
CODE_PATTERN = re.compile(r"\b(?:CS-\d{3}|EB-\d{4})\b")

# (name, context options): a desktop screen at 1× and 2×, and a phone (Pixel 7, 2.625×)
SCREENS = {
    "1x": {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1},
    "2x": {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 2},
    "phone": "Pixel 7",
}


def logging_url(code: str, base: str = BASE_URL) -> str:
    return f"{base}/inspections/asset/{code}/next"


# --- Decoders ----------------------------------------------------------------------------


def zbar_codes(image: Image.Image) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Every QR code zbar finds: (text, (left, top, width, height))."""
    found = pyzbar.decode(image.convert("L"), symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [(symbol.data.decode(), tuple(symbol.rect)) for symbol in found]


def opencv_code(image: Image.Image) -> str:
    """The one QR code OpenCV finds in ``image`` ("" when none decodes)."""
    pixels = np.array(image.convert("L"))
    text, _points, _straight = cv2.QRCodeDetector().detectAndDecode(pixels)
    return text


def decode_one(image: Image.Image) -> tuple[str, str]:
    """What zbar and OpenCV each read from an image holding one label."""
    zbar = zbar_codes(image)
    return (zbar[0][0] if len(zbar) == 1 else repr(zbar), opencv_code(image))


def modules(url: str) -> int:
    """How many modules wide the label's QR code of ``url`` is, without its quiet zone."""
    return segno.make(url, error="m", boost_error=False).symbol_size(border=0)[0]


def crop(image: Image.Image, box: tuple[float, float, float, float], pad: float) -> Image.Image:
    left, top, width, height = box
    return image.crop(
        (
            max(0, int(left - pad)),
            max(0, int(top - pad)),
            min(image.width, int(left + width + pad)),
            min(image.height, int(top + height + pad)),
        )
    )


# --- The browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright():
    # bin/test installs Debian's chromium: a missing browser fails, it is never skipped
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (bin/test installs it)"
    with playwright_api.sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


class LabelBrowser:
    """A signed-in browser context on the served app that refuses every request leaving
    127.0.0.1 and records console errors and page errors."""

    def __init__(self, playwright, browser, base_url: str, screen: str = "1x"):
        options = SCREENS[screen]
        if isinstance(options, str):
            options = {**playwright.devices[options]}
            options.pop("default_browser_type", None)
        self.base_url = base_url
        self.context = browser.new_context(**options)
        self.context.set_default_timeout(WAIT_MS)
        self.left: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.left.append(url)
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def sign_in(self, email: str, language: str = "en") -> None:
        response = self.context.request.post(
            self.base_url + "/login", form={"email": email, "password": factories.PASSWORD}
        )
        assert response.ok
        self.context.request.get(f"{self.base_url}/lang/{language}")

    def open(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, path
        self.page.wait_for_load_state("load")

    def screenshot(self) -> tuple[Image.Image, float]:
        """The whole page as pixels, and how many pixels make one CSS pixel."""
        image = Image.open(io.BytesIO(self.page.screenshot(full_page=True)))
        return image, self.page.evaluate("window.devicePixelRatio")

    def label_boxes(self) -> dict[str, tuple[float, float, float, float]]:
        """Each label's face (what is cut out) in CSS pixels of the page, by asset code."""
        return self.page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll('.qr-label')].map(label => {
                 const box = label.querySelector('.qr-label-face').getBoundingClientRect();
                 return [label.dataset.asset,
                         [box.left + window.scrollX, box.top + window.scrollY,
                          box.width, box.height]];
               }))"""
        )

    def pdf_pages(self, directory: Path) -> list[Image.Image]:
        """The page printed to an A4 PDF by Chromium, rasterised at 300 dpi by pdftoppm."""
        pdf = directory / "labels.pdf"
        self.page.pdf(path=str(pdf), format="A4")
        subprocess.run(
            ["pdftoppm", "-r", str(PDF_DPI), "-png", str(pdf), str(directory / "page")],
            check=True,
            timeout=120,
        )
        return [
            Image.open(io.BytesIO(path.read_bytes()))
            for path in sorted(directory.glob("page-*.png"))
        ]

    def pdf_texts(self, directory: Path) -> list[str]:
        """The text of each page of the PDF ``pdf_pages`` printed (pdftotext, page by page)."""
        text = subprocess.run(
            ["pdftotext", "-layout", str(directory / "labels.pdf"), "-"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        return text.split("\f")[:-1]

    def assert_clean(self) -> None:
        assert self.left == [], "requests left 127.0.0.1"
        assert self.errors == []

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def labelled_district(app, district, officer):
    """A sheet's worth of assets, all in grid G1: 10 charging stations and 4 blockers."""
    app.config["BASE_URL"] = BASE_URL
    with app.app_context():
        for number in range(1, SHEET_SIZE - 3):
            factories.gen_asset(factories.charging_station_data(number))
        for number in range(1, 5):
            factories.gen_asset(factories.blocker_data(number, longitude=119.15, latitude=36.715))
        db.session.commit()
    return app


@pytest.fixture
def server(labelled_district) -> Iterator[str]:
    with served(labelled_district) as base_url:
        yield base_url


@pytest.fixture
def open_browser(playwright, browser, server):
    """Opens signed-in officer browsers on the served app; closes them after the test."""
    opened: list[LabelBrowser] = []

    def open_one(screen: str = "1x", language: str = "en") -> LabelBrowser:
        watched = LabelBrowser(playwright, browser, server, screen)
        watched.sign_in("officer@example.org", language)
        opened.append(watched)
        return watched

    yield open_one
    for watched in opened:
        watched.close()


def sheet_codes(app) -> list[str]:
    with app.app_context():
        codes = list(db.session.scalars(select(Asset.code).order_by(Asset.code)))
        db.session.remove()
    return codes


# --- On screen -----------------------------------------------------------------------------


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_single_label_decodes_on_screen(open_browser, screen):
    watched = open_browser(screen)
    watched.open("/assets/CS-001/label")
    image, ratio = watched.screenshot()
    # the whole page: exactly one code, read by both decoders
    assert [text for text, _box in zbar_codes(image)] == [logging_url("CS-001")]
    assert opencv_code(image) == logging_url("CS-001")
    # the QR drawing keeps its quiet zone inside the label: the label alone decodes too
    box = watched.label_boxes()["CS-001"]
    label = crop(image, tuple(value * ratio for value in box), pad=0)
    assert decode_one(label) == (logging_url("CS-001"), logging_url("CS-001"))
    watched.assert_clean()


@pytest.mark.parametrize("screen", ["1x", "2x"])
def test_each_label_of_a_sheet_decodes_to_its_own_asset(labelled_district, open_browser, screen):
    codes = sheet_codes(labelled_district)
    assert len(codes) == SHEET_SIZE
    watched = open_browser(screen)
    watched.open("/assets/labels?grid=G1")
    image, ratio = watched.screenshot()
    boxes = watched.label_boxes()
    assert sorted(boxes) == codes
    for code, box in boxes.items():
        label = crop(image, tuple(value * ratio for value in box), pad=0)
        assert decode_one(label) == (logging_url(code), logging_url(code)), code
    # and in the page as a whole, whatever code zbar finds lies within its own label (zbar
    # does not find every code of a page at 1×, which is why each label is read on its own)
    found = zbar_codes(image)
    assert found
    for text, (left, top, width, height) in found:
        code = text.split("/")[-2]
        x, y, w, h = (value * ratio for value in boxes[code])
        assert x <= left and left + width <= x + w and y <= top and top + height <= y + h
    watched.assert_clean()


# --- Printed -------------------------------------------------------------------------------


def test_single_label_decodes_printed_to_pdf(open_browser, tmp_path):
    watched = open_browser()
    watched.open("/assets/CS-001/label")
    pages = watched.pdf_pages(tmp_path)
    assert len(pages) == 1
    page = pages[0]
    assert page.size == pytest.approx((2480, 3508), abs=5)  # A4 at 300 dpi
    found = zbar_codes(page)
    assert [text for text, _box in found] == [logging_url("CS-001")]
    assert opencv_code(page) == logging_url("CS-001")
    watched.assert_clean()


@pytest.mark.parametrize("notice", ["", "&notice=1"], ids=["plain", "notice"])
def test_sheet_prints_on_a4_and_each_label_decodes(
    labelled_district, open_browser, tmp_path, notice
):
    codes = sheet_codes(labelled_district)
    watched = open_browser()
    watched.open("/assets/labels?grid=G1" + notice)
    assert watched.page.locator(".qr-label-notice").count() == (len(codes) if notice else 0)
    pages = watched.pdf_pages(tmp_path)
    texts = watched.pdf_texts(tmp_path)
    assert len(pages) == len(texts) >= 2  # the sheet runs onto a second page
    decoded: list[str] = []
    for page, text in zip(pages, texts, strict=True):
        assert page.size == pytest.approx((2480, 3508), abs=5)
        found = zbar_codes(page)
        on_page = sorted(text.split("/")[-2] for text, _box in found)
        # no label is split by a page break: the codes printed on a page are those whose
        # QR codes decode on it, whole
        assert sorted(set(CODE_PATTERN.findall(text))) == on_page
        for url, box in found:
            # OpenCV reads the same code, cut out with a margin of its quiet zone's size
            module = box[2] / modules(url)
            assert opencv_code(crop(page, box, pad=4 * module)) == url
        decoded.extend(on_page)
    assert sorted(decoded) == codes  # one label per asset, each once
    watched.assert_clean()


# --- BASE_URL still on this machine --------------------------------------------------------


def test_loopback_base_url_is_warned_on_screen_and_printed_on_each_label(
    labelled_district, open_browser, tmp_path
):
    labelled_district.config["BASE_URL"] = "http://127.0.0.1:5000"  # the default
    watched = open_browser()
    watched.open("/assets/labels?grid=G1")
    banner = watched.page.locator(".label-base-url-warning")
    assert banner.is_visible()
    assert "http://127.0.0.1:5000" in banner.inner_text()
    assert watched.page.locator(".qr-label-warning:visible").count() == SHEET_SIZE
    pages = watched.pdf_pages(tmp_path)
    printed = "".join(watched.pdf_texts(tmp_path))
    assert "BASE_URL is" not in printed  # the banner is for the screen
    assert " ".join(printed.split()).count("Not for use") == SHEET_SIZE  # each label says so
    found = [text for page in pages for text, _box in zbar_codes(page)]
    assert sorted(found) == sorted(
        logging_url(code, "http://127.0.0.1:5000") for code in sheet_codes(labelled_district)
    )
    watched.assert_clean()


def test_no_warning_with_a_real_base_url(open_browser):
    watched = open_browser()
    for path in ("/assets/labels?grid=G1", "/assets/CS-001/label"):
        watched.open(path)
        assert watched.page.locator(".label-base-url-warning").count() == 0
        assert watched.page.locator(".qr-label-warning").count() == 0
    watched.assert_clean()


# --- Accessibility -------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh"])
def test_label_pages_have_no_serious_accessibility_violations(
    labelled_district, open_browser, language
):
    # with the loopback warnings: every element a label page can show
    labelled_district.config["BASE_URL"] = "http://127.0.0.1:5000"
    axe = Axe()
    for screen in ("1x", "phone"):
        watched = open_browser(screen, language)
        for path in (
            "/assets/CS-001/label",
            "/assets/CS-001/label?notice=1",
            "/assets/labels?grid=G1",
            "/assets/labels?grid=G1&notice=1",
        ):
            watched.open(path)
            violations = axe.run(watched.page).response["violations"]
            serious = [
                (violation["id"], [node["target"] for node in violation["nodes"]])
                for violation in violations
                if violation["impact"] in ("serious", "critical")
            ]
            assert serious == [], (screen, path)
        watched.assert_clean()
