"""Chinese pages read in Chinese: no English UI string, no raw enum key, on any page the
navigation reaches (crawled on the demo district as officer, admin and contractor)."""

from __future__ import annotations

import re
from collections import deque
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale
from sqlalchemy import JSON, String, Text, select

from accounts.models import Role
from alerts.services import OverdueHazard
from assets.kinds import DETECTION_METHODS
from assets.models import AssetStatus
from core.extensions import db
from demo.district import ACCOUNTS
from hazards.models import HazardCategory, HazardSeverity, HazardStatus
from inspections.models import InspectionResult, InspectionStatus

TRANSLATIONS = Path(__file__).parent.parent / "translations"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
# Not pages to read: files, feeds, the session's own links.
SKIPPED = re.compile(
    r"^/(static|api|logout|lang|healthz|sw\.js|manifest)|\.(csv|xlsx|geojson|ics|pdf|png|svg|zip)$"
    r"|/export|/label|/photos?/|/calendar/feed/"
)
MAX_PAGES = 120
ENUM_KEYS = {
    str(member)
    for enum in (
        AssetStatus,
        InspectionStatus,
        InspectionResult,
        HazardStatus,
        HazardSeverity,
        HazardCategory,
        Role,
    )
    for member in enum
} | set(DETECTION_METHODS)


def catalog(language: str | None):
    path = TRANSLATIONS / (
        "messages.pot" if language is None else f"{language}/LC_MESSAGES/messages.po"
    )
    with path.open("rb") as file:
        return read_po(file)


def words(text: str) -> set[str]:
    text = re.sub(r"%\(\w+\)[sd]|\{\w+\}|\S+@\S+|https?://\S+", " ", text)
    return {word.lower() for word in re.findall(r"[A-Za-z]{3,}", text)}


def msg_texts(message) -> list[str]:
    value = message.id if message.id else ""
    return list(value) if isinstance(value, tuple) else [value]


@pytest.fixture(scope="module")
def ui_words() -> set[str]:
    """Words of the English UI strings that Chinese pages never show (the words a Chinese
    translation keeps, such as CSV or RFID, are not among them)."""
    english = set().union(*(words(text) for m in catalog(None) for text in msg_texts(m)))
    kept = set()
    for message in catalog("zh"):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        kept |= set().union(*(words(text or "") for text in strings))
    return english - kept


def data_words(app) -> set[str]:
    """Every ASCII word of the demo's own data (names, addresses, emails, notes…)."""
    found: set[str] = set()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            for row in db.session.execute(select(*columns)):
                for value in row:
                    if value is not None:
                        found |= words(str(value))
        db.session.remove()
    return found


class VisibleText(HTMLParser):
    """A page's text as a reader meets it: text, titles, labels, placeholders, alt text."""

    HIDDEN = {"script", "style", "noscript"}
    SHOWN_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "data-label"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
            self.parts.append(values["value"])
        self.parts.extend(v for k, v in attrs if k in self.SHOWN_ATTRIBUTES and v)

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def pattern_of(path: str) -> str:
    """One page per shape: /inspections/1 and /inspections/2 are the same page; /assets/CS-001
    and /assets/EB-0001 are not (each kind has its own attributes)."""
    return re.sub(r"\d+", "*", path)


def crawl(client) -> dict[str, VisibleText]:
    pages: dict[str, VisibleText] = {}
    seen: set[str] = set()
    queue = deque(["/", "/assets/CS-001", "/assets/EB-0001", "/no/such/page"])
    while queue and len(pages) < MAX_PAGES:
        path = queue.popleft()
        answer = client.get(path, headers=ZH)
        if answer.status_code not in (200, 404) or answer.mimetype != "text/html":
            continue
        page = VisibleText()
        page.feed(answer.get_data(as_text=True))
        pages[path] = page
        for href in page.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            if SKIPPED.search(parts.path) or pattern_of(parts.path) in seen:
                continue
            seen.add(pattern_of(parts.path))
            queue.append(parts.path)
    return pages


def english_on(pages: dict[str, VisibleText], ui: set[str], data: set[str]) -> dict:
    found = {}
    for path, page in pages.items():
        text = " ".join(page.parts)
        raw_keys = {
            key
            for key in ENUM_KEYS
            if re.search(rf"(?<![\w/.-]){re.escape(key)}(?![\w/.-])", text) and key not in data
        }
        english = (words(text) & ui) - data
        if raw_keys or english:
            found[path] = sorted(raw_keys | english)
    return found


# The words on the pages come from the templates and the catalog, the same whichever database
# filled them; the pages themselves are tested on both.
@pytest.mark.one_database
@pytest.mark.parametrize("account", [0, 1, 2], ids=["admin", "officer", "contractor"])
def test_chinese_pages_show_no_english_ui_string_or_raw_key(demo_app, ui_words, account):
    email, password, *_ = ACCOUNTS[account]
    client = demo_app.test_client()
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    pages = crawl(client)
    assert len(pages) >= 8, sorted(pages)  # the navigation's lists, a detail of each, forms
    assert english_on(pages, ui_words, data_words(demo_app)) == {}


def test_the_crawl_would_see_an_english_string(ui_words):
    page = VisibleText()
    page.feed("<h1>资产</h1><p>Not found</p><td>weight_sensor</td><script>var Plans;</script>")
    found = english_on({"/x": page}, ui_words, set())["/x"]
    assert {"not", "found", "weight_sensor"} <= set(found) and "plans" not in found
    assert english_on({"/x": page}, ui_words, {"not", "found", "weight", "sensor"}) == {
        "/x": ["weight_sensor"]
    }


def test_error_pages_read_in_chinese(client, auth, officer):
    auth.login(officer)
    html = client.get("/assets/NOPE-1", headers=ZH).get_data(as_text=True)
    assert "404 未找到" in html
    html = client.get("/no/such/page", headers=ZH).get_data(as_text=True)
    assert "404 未找到" in html and "此地址没有内容。" in html and "Not Found" not in html
    html = client.get("/users/", headers=ZH).get_data(as_text=True)
    assert "403 无权访问" in html and "Forbidden" not in html


def test_weekly_email_names_failed_items_in_the_recipients_language(app):
    hazard = OverdueHazard(
        code="YH-1",
        category="other",
        severity="general",
        typed_description="",
        failed_items=("detects_ebike",),
        kind="elevator_blocker",
        from_inspection=True,
        grid_id=None,
        grid_code="",
        deadline=date(2026, 3, 1),
        days_overdue=3,
        asset_code="EB-0001",
        link="",
    )
    with app.app_context():
        with force_locale("zh"):
            chinese = hazard.description
        with force_locale("en"):
            english = hazard.description
    assert "detects_ebike" not in chinese and "不合格项" in chinese
    assert "Detects an e-bike entering the car" in english
