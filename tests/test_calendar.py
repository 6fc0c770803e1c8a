"""The contractor's private iCalendar feed and its token management."""

from __future__ import annotations

import hashlib
import random
import re
import tracemalloc
from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
from sqlalchemy import delete, func, insert, select

from accounts.models import Contractor
from core.audit import AuditEntry
from core.extensions import db
from inspections import calendar as calendar_module
from inspections.calendar import EventWriter, FeedRow, calendar_chunks, contractor_calendar
from inspections.models import CalendarFeed, Inspection, InspectionStatus
from tests import factories

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 2, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture(autouse=True)
def frozen(frozen_clock):
    frozen_clock.set(NOW)


@pytest.fixture
def schedule(app, district, officer, admin, contractor_user):
    """Fixers Ltd: overdue 03-01, due 03-12, due 06-08 (day 90), not 06-09, a completed and
    a cancelled one. Other Co: one due 03-11 on the same asset."""
    app.config["BASE_URL"] = "https://sar.example.org"
    with app.app_context():
        factories.gen_asset(
            factories.charging_station_data(
                1, address="1 Harbour Road, Building 7; east gate, next to the long bicycle shed"
            )
        )
        factories.gen_asset(factories.blocker_data(1))
        gen = factories.gen_inspection
        gen("CS-001", date(2026, 3, 1))
        gen("CS-001", date(2026, 3, 12))
        gen("EB-0001", date(2026, 6, 8))
        gen("EB-0001", date(2026, 6, 9))
        done = gen("CS-001", date(2026, 2, 1))
        done.status = InspectionStatus.COMPLETED
        done.completed_at = datetime(2026, 2, 1, 3, tzinfo=UTC)
        gen("CS-001", date(2026, 3, 15)).status = InspectionStatus.CANCELLED
        gen("CS-001", date(2026, 3, 11), contractor="Other Co")
        db.session.commit()


def new_feed(client, contractor_id: int | None = None) -> str:
    data = {} if contractor_id is None else {"contractor": str(contractor_id)}
    response = client.post("/calendar/new", data=data)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    match = re.search(r'value="(https://sar\.example\.org/calendar/([^"]+)\.ics)"', response.text)
    assert match, response.text
    return match.group(2)


def contractor_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Contractor.id).where(Contractor.name == name))


def feeds(app) -> list[tuple[int, str, datetime | None]]:
    with app.app_context():
        return db.session.execute(
            select(
                CalendarFeed.contractor_id, CalendarFeed.token_hash, CalendarFeed.revoked_at
            ).order_by(CalendarFeed.id)
        ).all()


def audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry))


def test_feed_lists_the_contractors_due_inspections(app, client, auth, schedule):
    auth.login("fixer@example.org")
    token = new_feed(client)
    auth.logout()
    response = client.get(f"/calendar/{token}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.data)
    assert calendar["VERSION"] == "2.0"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["METHOD"] == "PUBLISH"
    assert "Fixers Ltd" in str(calendar["X-WR-CALNAME"])
    assert calendar["X-WR-TIMEZONE"] == "Asia/Shanghai"
    assert calendar["PRODID"]
    events = list(calendar.walk("VEVENT"))
    starts = [event.decoded("DTSTART") for event in events]
    # The overdue one (due 03-01) stands on today.
    assert starts == [date(2026, 3, 10), date(2026, 3, 12), date(2026, 6, 8)]
    first = events[0]
    assert first.decoded("DTEND") == date(2026, 3, 11)
    assert re.fullmatch(r"inspection-\d+@sar\.example\.org", str(first["UID"]))
    assert "CS-001" in str(first["SUMMARY"])
    assert "Charging station" in str(first["SUMMARY"])
    assert str(first["LOCATION"]).startswith("1 Harbour Road")
    geo = first["GEO"]
    assert (round(geo.latitude, 6), round(geo.longitude, 6)) == (36.715, 119.15)
    inspection_id = str(first["UID"]).split("@")[0].removeprefix("inspection-")
    link = f"https://sar.example.org/inspections/{inspection_id}"
    assert str(first["URL"]) == link
    assert link in str(first["DESCRIPTION"])
    assert first.decoded("DTSTAMP") == datetime(2026, 3, 10, 2, tzinfo=UTC)
    # All-day events: DTSTART;VALUE=DATE, never another contractor's.
    raw = response.data.decode()
    assert "DTSTART;VALUE=DATE:20260310\r\n" in raw
    assert "2026-03-11" not in raw and "DTSTART;VALUE=DATE:20260311" not in raw


def test_feed_follows_rfc_5545_line_rules(app, client, auth, schedule):
    auth.login("fixer@example.org")
    token = new_feed(client)
    data = client.get(f"/calendar/{token}.ics").data
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines)
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)  # the long LOCATION was folded
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-1] == b"END:VCALENDAR"
    assert len(icalendar.Calendar.from_ical(data).walk("VEVENT")) == 3


def test_uids_are_stable(app, client, auth, schedule):
    auth.login("fixer@example.org")
    token = new_feed(client)
    first = client.get(f"/calendar/{token}.ics").data
    second = client.get(f"/calendar/{token}.ics").data
    uids = [re.findall(rb"UID:(\S+)", body) for body in (first, second)]
    assert uids[0] == uids[1] and len(uids[0]) == 3


def test_other_contractor_sees_only_its_own(app, client, auth, schedule):
    auth.login("admin@example.org")
    token = new_feed(client, contractor_id(app, "Other Co"))
    calendar = icalendar.Calendar.from_ical(client.get(f"/calendar/{token}.ics").data)
    assert [event.decoded("DTSTART") for event in calendar.walk("VEVENT")] == [date(2026, 3, 11)]


def test_only_the_sha256_is_stored(app, client, auth, schedule):
    auth.login("fixer@example.org")
    token = new_feed(client)
    [(owner, stored, revoked)] = feeds(app)
    assert owner == contractor_id(app, "Fixers Ltd")
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert revoked is None
    with app.app_context():
        audit = db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "calendar_feed")
        ).all()
    assert [entry.action for entry in audit] == ["create"]
    assert token not in repr([(entry.before, entry.after) for entry in audit])
    # The page shows the address once; later visits do not.
    page = client.get("/calendar/").text
    assert token not in page
    assert 'data-feed="active"' in page


def test_new_token_replaces_the_old(app, client, auth, schedule):
    auth.login("fixer@example.org")
    old = new_feed(client)
    new = new_feed(client)
    assert old != new
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{new}.ics").status_code == 200
    rows = feeds(app)
    assert len(rows) == 2
    assert rows[0][2] is not None and rows[1][2] is None


def test_revoked_token_is_404_and_writes_nothing(app, client, auth, schedule):
    auth.login("fixer@example.org")
    token = new_feed(client)
    response = client.post("/calendar/revoke")
    assert response.status_code == 302
    assert client.get("/calendar/").text.count('data-feed="none"') == 1
    with app.app_context():
        revoke_entries = db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.entity_type == "calendar_feed", AuditEntry.action == "revoke")
        )
    assert revoke_entries == 1
    auth.logout()
    before_rows, before_audit = feeds(app), audit_count(app)
    response = client.get(f"/calendar/{token}.ics")
    assert response.status_code == 404
    assert b"BEGIN:VCALENDAR" not in response.data
    assert feeds(app) == before_rows
    assert audit_count(app) == before_audit


def test_unknown_token_is_404_for_a_stranger(app, client, schedule):
    before = audit_count(app)
    for token in ("nope", "x" * 43, ""):
        response = client.get(f"/calendar/{token}.ics")
        assert response.status_code == 404, token
    assert feeds(app) == []
    assert audit_count(app) == before


def test_officers_look_but_do_not_touch(app, client, auth, schedule):
    auth.login("officer@example.org")
    fixers = contractor_id(app, "Fixers Ltd")
    page = client.get(f"/calendar/?contractor={fixers}")
    assert page.status_code == 200
    assert 'data-feed="none"' in page.text
    assert "/calendar/new" not in page.text
    assert client.post("/calendar/new", data={"contractor": str(fixers)}).status_code == 403
    assert client.post("/calendar/revoke", data={"contractor": str(fixers)}).status_code == 403
    assert feeds(app) == []


def test_contractor_manages_only_its_own_feed(app, client, auth, schedule):
    auth.login("fixer@example.org")
    other = contractor_id(app, "Other Co")
    # The contractor field is ignored: a contractor user always acts for its own company.
    token = new_feed(client, other)
    [(owner, _hash, _revoked)] = feeds(app)
    assert owner == contractor_id(app, "Fixers Ltd")
    page = client.get(f"/calendar/?contractor={other}").text
    assert "Other Co" not in page
    assert client.get(f"/calendar/{token}.ics").status_code == 200


def test_admin_must_pick_a_known_contractor(app, client, auth, schedule):
    auth.login("admin@example.org")
    assert client.post("/calendar/new").status_code == 400
    assert client.post("/calendar/new", data={"contractor": "abc"}).status_code == 400
    assert client.post("/calendar/new", data={"contractor": "9999"}).status_code == 404
    assert client.post("/calendar/revoke", data={"contractor": "9999"}).status_code == 404
    assert feeds(app) == []
    page = client.get("/calendar/").text
    assert "Fixers Ltd" in page and "Other Co" in page  # the picker


def feed_events(client, token: str, language: str | None = None) -> list:
    headers = {"Accept-Language": language} if language else {}
    response = client.get(f"/calendar/{token}.ics", headers=headers)
    assert response.status_code == 200
    return list(icalendar.Calendar.from_ical(response.data).walk("VEVENT"))


def test_overdue_inspections_stand_on_today_marked_overdue(
    app, client, auth, schedule, frozen_clock
):
    auth.login("fixer@example.org")
    token = new_feed(client)
    auth.logout()
    events = feed_events(client, token, "en")
    overdue = [event for event in events if str(event["SUMMARY"]).startswith("Overdue")]
    assert len(overdue) == 1
    assert overdue[0].decoded("DTSTART") == TODAY
    assert overdue[0].decoded("DTEND") == date(2026, 3, 11)
    assert str(overdue[0]["SUMMARY"]).startswith("Overdue · CS-001")
    assert "2026-03-01" in str(overdue[0]["DESCRIPTION"])
    assert not any(str(event["SUMMARY"]).startswith("Overdue") for event in events[1:])
    # The feed's language: the calendar app's.
    chinese = feed_events(client, token, "zh-CN")
    assert str(chinese[0]["SUMMARY"]).startswith("逾期 · CS-001")
    # Two days later (16:30 UTC is past midnight in Shanghai): it moves along with today,
    # and the one due 03-12 has become overdue too.
    frozen_clock.set(datetime(2026, 3, 12, 16, 30, tzinfo=UTC))
    events = feed_events(client, token, "en")
    starts = [(event.decoded("DTSTART"), str(event["SUMMARY"])[:7]) for event in events]
    assert starts == [
        (date(2026, 3, 13), "Overdue"),
        (date(2026, 3, 13), "Overdue"),
        (date(2026, 6, 8), "EB-0001"),
        (date(2026, 6, 9), "EB-0001"),  # the horizon moved on too
    ]
    # Done: it leaves the feed.
    with app.app_context():
        from inspections.models import Inspection

        first = db.session.scalar(select(Inspection).where(Inspection.due_on == date(2026, 3, 1)))
        first.status = InspectionStatus.COMPLETED
        first.completed_at = datetime(2026, 3, 12, 17, tzinfo=UTC)
        db.session.commit()
    events = feed_events(client, token, "en")
    assert [event.decoded("DTSTART") for event in events] == [
        date(2026, 3, 13),
        date(2026, 6, 8),
        date(2026, 6, 9),
    ]


def qr_image_of_svg(svg: str, scale: int = 8):
    """Rasterise segno's inline SVG (one path of horizontal runs, one unit a module)."""
    from PIL import Image

    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    path = re.search(r'class="[^"]*qrline[^"]*"[^>]*\bd="([^"]+)"', svg)
    if path is None:
        path = re.search(r'<path[^>]*\bd="(M[^"]+)"[^>]*class="[^"]*qrline', svg)
    image = Image.new("L", (size * scale, size * scale), 255)
    x = y = 0.0
    for command, first, second in re.findall(r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path.group(1)):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            row = int(y)
            for column in range(int(x), int(x + float(first))):
                image.paste(
                    0, (column * scale, row * scale, (column + 1) * scale, (row + 1) * scale)
                )
            x += float(first)
    return image


def test_page_offers_a_webcal_link_and_its_qr_code(app, client, auth, schedule):
    from pyzbar import pyzbar

    auth.login("fixer@example.org")
    response = client.post("/calendar/new")
    token = re.search(r"/calendar/([^\"/]+)\.ics", response.text).group(1)
    webcal = f"webcal://sar.example.org/calendar/{token}.ics"
    assert f'href="{webcal}"' in response.text
    svg = re.search(r"<svg[^>]*feed-qr.*?</svg>", response.text, re.S).group(0)
    codes = pyzbar.decode(qr_image_of_svg(svg), symbols=[pyzbar.ZBarSymbol.QRCODE])
    assert [code.data.decode() for code in codes] == [webcal]
    # Shown once, like the address.
    assert webcal not in client.get("/calendar/").text


# --- A large contractor's feed is streamed ----------------------------------------------


def add_overdue_inspections(count: int) -> None:
    """``count`` more overdue inspections of CS-001 for Fixers Ltd, one a day before 03-01."""
    asset_id = factories.asset_by_code("CS-001").id
    contractor = factories.gen_contractor("Fixers Ltd").id
    first = date(2026, 2, 28)
    rows = [
        {
            "asset_id": asset_id,
            "contractor_id": contractor,
            "due_on": first - timedelta(days=number),
            "status": InspectionStatus.SCHEDULED.value,
        }
        for number in range(count)
    ]
    db.session.execute(insert(Inspection), rows)
    db.session.commit()


def test_streamed_feed_is_the_whole_calendar_byte_for_byte(app, schedule):
    with app.test_request_context():
        add_overdue_inspections(30)
        fixers = db.session.scalar(select(Contractor).where(Contractor.name == "Fixers Ltd"))
        whole = contractor_calendar(fixers, TODAY).to_ical()
        streamed = b"".join(calendar_chunks(fixers, TODAY))
    assert streamed == whole
    assert len(icalendar.Calendar.from_ical(streamed).walk("VEVENT")) == 33


ODD_TEXT = 'a,;\\:^"\n\r\\N\\n 充电站·🔥é' + "x" * 40


def odd_rows(count: int) -> list[FeedRow]:
    """Feed rows with text made to trip escaping and folding: commas, semicolons, backslashes
    (``\\N`` too), carets, line endings, 2-, 3- and 4-octet characters, at every length."""
    rng = random.Random(14)

    def text(low: int, high: int) -> str:
        return "".join(rng.choice(ODD_TEXT) for _ in range(rng.randint(low, high)))

    return [
        FeedRow(
            id=rng.randint(1, 10**9),
            due_on=TODAY + timedelta(days=rng.randint(-400, 90)),
            code=text(1, 12),
            kind=rng.choice(["charging_station", "elevator_blocker", text(1, 20)]),
            name=text(0, 120),
            address=rng.choice([None, "", text(1, 200)]),
            longitude=rng.choice([None, rng.uniform(-180, 180), 119.15]),
            latitude=rng.choice([None, rng.uniform(-90, 90), 1e-7]),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_written_events_are_icalendars_bytes(app, language):
    """The feed writes its events itself (icalendar took 0.7 ms an event): each is the bytes
    icalendar makes of the same event, and icalendar reads back what was stored."""
    app.config["BASE_URL"] = "https://sar.example.org"
    headers = {"Accept-Language": language}
    with app.test_request_context(headers=headers):
        writer = EventWriter(TODAY)
        for row in odd_rows(3_000):
            written = writer.event_text(row)
            assert written.encode() == writer.event(row).to_ical(), row
            event = icalendar.Event.from_ical(written)
            assert event.decoded("DTSTART") == max(row.due_on, TODAY)
            assert str(event["UID"]) == f"inspection-{row.id}@sar.example.org"
            if "\\" not in row.name:  # icalendar reads a line ending back as "\n"
                assert one_line_ending(row.name) in str(event["SUMMARY"])
            if row.address and "\\" not in row.address:
                assert str(event["LOCATION"]) == one_line_ending(row.address)


def one_line_ending(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def feed_peak_bytes(app, events: int) -> int:
    """tracemalloc's peak while the feed of ``events`` more events is written (and thrown
    away, as a response sends it)."""
    with app.test_request_context():
        db.session.execute(delete(Inspection).where(Inspection.due_on < date(2026, 3, 1)))
        add_overdue_inspections(events)
        fixers = db.session.scalar(select(Contractor).where(Contractor.name == "Fixers Ltd"))
        tracemalloc.start()
        try:
            sent = sum(len(chunk) for chunk in calendar_chunks(fixers, TODAY))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert sent > events * 200
        db.session.rollback()
    return peak


def test_feed_memory_does_not_grow_with_its_events(app, schedule, monkeypatch):
    """The feed is read in batches and written an event at a time: 1,500 events take no more
    memory than 150 (held whole, they took about ten times as much)."""
    monkeypatch.setattr(calendar_module, "FEED_BATCH", 50)
    small = feed_peak_bytes(app, 150)
    large = feed_peak_bytes(app, 1_500)
    assert large < small * 1.5, (small, large)
