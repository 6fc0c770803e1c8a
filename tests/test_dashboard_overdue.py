"""The officer's dashboard panels (dashboard.overdue): overdue per grid, the queue, the oldest
overdue items and the twelve-week trend, against a hand-built fixture with the clock frozen;
then the page's links, followed to the lists they filter."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape

import pytest
from sqlalchemy import select

from accounts.models import User
from assets.models import Grid
from core.extensions import db
from dashboard import overdue
from dashboard import trend as weekly
from hazards.models import HazardEvent
from inspections.models import InspectionStatus
from tests import factories

TODAY = date(2026, 3, 11)  # a Wednesday of 2026-W11
NOW = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def grid_id(code: str) -> int:
    return db.session.scalar(select(Grid.id).where(Grid.code == code))


def completed(inspection, at: datetime):
    inspection.status = InspectionStatus.COMPLETED
    inspection.completed_at = at
    inspection.result = "pass"


def event(hazard, from_status, to_status, at, note=None):
    db.session.add(
        HazardEvent(
            hazard_id=hazard.id,
            from_status=from_status,
            to_status=to_status,
            actor="Officer",
            at=at,
            note=note,
        )
    )


@pytest.fixture
def late(app, district, officer, contractor_user):
    """CS-001 in G1-01, CS-002 in G1-02, EB-0001 in G2-02. Returns the inspections' ids."""
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        factories.gen_asset(factories.charging_station_data(2, longitude=119.15, latitude=36.745))
        factories.gen_asset(factories.blocker_data(1))
        gen = factories.gen_inspection
        ids = {
            "A": gen("CS-001", date(2026, 2, 1)).id,  # 38 days late
            "B": gen("CS-001", date(2026, 3, 5)).id,  # 6 days late
        }
        c = gen("CS-002", date(2026, 2, 20))
        completed(c, utc(2026, 3, 4, 2))  # late, done on 03-04
        ids["D"] = gen("EB-0001", date(2026, 2, 25), "Other Co").id  # 14 days late
        gen("CS-001", date(2026, 2, 10)).status = InspectionStatus.CANCELLED
        # Due 02-27, done at 00:00 on 03-02 local (still overdue at the end of 03-01) and at
        # 23:59 on 03-01 local (not overdue then).
        completed(gen("CS-002", date(2026, 2, 27)), utc(2026, 3, 1, 16, 0))
        completed(gen("CS-002", date(2026, 2, 27), "Other Co"), utc(2026, 3, 1, 15, 59))
        ids["C"] = c.id
        hazard = factories.gen_hazard
        h1 = hazard(
            "HZ-1",
            "major",
            "CS-001",
            grid_id=grid_id("G1-01"),
            found_on=date(2026, 2, 20),
            deadline=date(2026, 3, 1),
        )
        h2 = hazard(
            "HZ-2",
            "general",
            "EB-0001",
            grid_id=grid_id("G2-02"),
            found_on=date(2026, 3, 1),
            deadline=date(2026, 3, 10),
            status="rectified",
            status_changed_at=utc(2026, 3, 9),
        )
        h3 = hazard(
            "HZ-3",
            "general",
            None,
            grid_id=grid_id("G1-01"),
            found_on=date(2026, 2, 1),
            deadline=date(2026, 2, 15),
            status="verified",
            status_changed_at=utc(2026, 3, 3, 1),
        )
        event(h3, "rectified", "verified", utc(2026, 3, 3, 1))
        h4 = hazard(
            "HZ-4",
            "general",
            "CS-002",
            grid_id=grid_id("G1-02"),
            found_on=date(2026, 3, 2),
            deadline=date(2026, 4, 1),
            status_changed_at=utc(2026, 3, 6),
        )
        event(h4, None, "open", utc(2026, 3, 2))
        event(h4, "open", "rectified", utc(2026, 3, 4))
        event(h4, "rectified", "open", utc(2026, 3, 6), note="No after photo of the repair")
        hazard(  # verified on 02-28, no history kept
            "HZ-5",
            "general",
            None,
            grid_id=grid_id("G1-01"),
            found_on=date(2026, 2, 1),
            deadline=date(2026, 2, 10),
            status="verified",
            status_changed_at=utc(2026, 2, 28, 2),
        )
        h6 = hazard(
            "HZ-6",
            "general",
            None,
            grid_id=grid_id("G1-01"),
            found_on=date(2026, 3, 5),
            deadline=date(2026, 3, 20),
        )
        event(h6, None, "open", utc(2026, 3, 5))
        del h1, h2
        db.session.commit()
        return ids


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def counts(rows) -> dict[str, tuple[int, int]]:
    flat = {}
    for row in rows:
        flat[row.code] = (row.inspections, row.hazards)
        for child in row.children:
            flat[child.code] = (child.inspections, child.hazards)
    return flat


def test_overdue_by_grid(app, late):
    with app.app_context():
        rows = overdue.overdue_by_grid(TODAY)
        assert [row.code for row in rows] == ["G1", "G2"]
        assert [child.code for child in rows[0].children] == ["G1-01", "G1-02"]
        assert counts(rows) == {
            "G1": (2, 1),
            "G1-01": (2, 1),
            "G1-02": (0, 0),
            "G2": (1, 1),
            "G2-01": (0, 0),
            "G2-02": (1, 1),
        }
        assert counts(overdue.overdue_by_grid(TODAY, grid="G1-01")) == {
            "G1": (2, 1),
            "G1-01": (2, 1),
        }
        assert counts(overdue.overdue_by_grid(TODAY, grid="all")) == counts(rows)
        # Fixers Ltd sees its own inspections and no hazard (none reported or assigned).
        fixer = counts(overdue.overdue_by_grid(TODAY, user("fixer@example.org")))
        assert fixer["G1"] == (2, 0) and fixer["G2"] == (0, 0)


def test_overdue_by_grid_the_next_day(app, late):
    with app.app_context():
        later = counts(overdue.overdue_by_grid(date(2026, 3, 21)))
        assert later["G1-01"] == (2, 2)  # HZ-6's deadline of 03-20 has passed


def test_the_officers_queue(app, late):
    with app.app_context():
        late_ones = overdue.overdue_inspections(TODAY, more_than_days=14)
        assert [(row.id, row.asset_code, row.days_late) for row in late_ones] == [
            (late["A"], "CS-001", 38)
        ]  # EB-0001's is 14 days late: not more than 14
        app.config["DASHBOARD_LATE_DAYS"] = 5
        assert overdue.late_days_setting() == 5
        five = overdue.overdue_inspections(TODAY, more_than_days=overdue.late_days_setting())
        assert [row.days_late for row in five] == [38, 14, 6]
        waiting = overdue.awaiting_verification(TODAY)
        assert [(row.code, row.asset_code, row.grid_code) for row in waiting] == [
            ("HZ-2", "EB-0001", "G2-02")
        ]
        returned = overdue.returned_hazards(TODAY)
        assert [(row.code, row.asset_code, row.days_late) for row in returned] == [
            ("HZ-4", "CS-002", 0)
        ]


def test_oldest_overdue(app, late):
    with app.app_context():
        oldest = overdue.overdue_inspections(TODAY)
        assert [(row.asset_code, row.due_on, row.days_late) for row in oldest] == [
            ("CS-001", date(2026, 2, 1), 38),
            ("EB-0001", date(2026, 2, 25), 14),
            ("CS-001", date(2026, 3, 5), 6),
        ]
        assert [row.grid_code for row in oldest] == ["G1-01", "G2-02", "G1-01"]
        assert len(overdue.overdue_inspections(TODAY, limit=2)) == 2
        hazards = overdue.overdue_hazards(TODAY)
        assert [(row.code, row.asset_code, row.days_late) for row in hazards] == [
            ("HZ-1", "CS-001", 10),
            ("HZ-2", "EB-0001", 1),
        ]
        assert [row.code for row in overdue.overdue_hazards(TODAY, grid="G2")] == ["HZ-2"]


def test_trend_days_are_the_iso_weeks_sundays():
    days = weekly.trend_days(TODAY)
    assert len(days) == 12
    assert days[-1] == TODAY
    assert days[-2] == date(2026, 3, 8)
    assert days[0] == date(2025, 12, 28)
    assert all(day.weekday() == 6 for day in days[:-1])


def test_overdue_trend(app, late):
    with app.app_context():
        trend = weekly.overdue_trend(TODAY)
        assert [point.week for point in trend][-4:] == [
            "2026-W08",
            "2026-W09",
            "2026-W10",
            "2026-W11",
        ]
        assert trend[0].week == "2025-W52"
        by_week = {point.week: (point.inspections, point.hazards) for point in trend}
        assert by_week["2026-W11"] == (3, 2)  # today's counts
        assert by_week["2026-W10"] == (3, 1)  # A, B, D; HZ-1 (HZ-3 verified on 03-03)
        assert by_week["2026-W09"] == (4, 1)  # A, C, D, the one done at 00:00 on 03-02; HZ-3
        assert by_week["2026-W08"] == (2, 2)  # A, C; HZ-3, HZ-5
        assert by_week["2026-W07"] == (1, 1)  # A (the cancelled one never counts); HZ-5
        assert by_week["2026-W06"] == (1, 0)
        assert by_week["2026-W05"] == (0, 0)  # A is due that Sunday: not yet overdue
        assert by_week["2026-W11"][0] == sum(1 for _ in overdue.overdue_inspections(TODAY))
        g2 = {
            point.week: (point.inspections, point.hazards)
            for point in weekly.overdue_trend(TODAY, grid="G2")
        }
        assert g2["2026-W11"] == (1, 1) and g2["2026-W08"] == (0, 0)
        fixer = weekly.overdue_trend(TODAY, user("fixer@example.org"))
        assert [(p.inspections, p.hazards) for p in fixer][-4:] == [(2, 0), (3, 0), (2, 0), (2, 0)]


def test_grid_map_features(app, late):
    with app.app_context():
        features = overdue.grid_map_features()["features"]
        assert [f["properties"]["name"] for f in features] == ["G1-01", "G1-02", "G2-01", "G2-02"]
        assert features[0]["geometry"]["type"] == "Polygon"
        only = overdue.grid_map_features("G2")["features"]
        assert [f["properties"]["name"] for f in only] == ["G2-01", "G2-02"]


# --- The page ---------------------------------------------------------------------------------


def links(html: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}".*?</table>', html, re.S).group(0)
    return [unescape(href) for href in re.findall(r'href="([^"]+)"', table)]


def row_of(html: str, table_id: str, attribute: str, value: str) -> str:
    table = re.search(rf'<table id="{table_id}".*?</table>', html, re.S).group(0)
    return re.search(rf'<tr[^>]*{attribute}="{value}".*?</tr>', table, re.S).group(0)


def test_dashboard_links_land_on_exactly_those_items(app, client, auth, late, frozen_clock):
    frozen_clock.set(NOW)
    auth.login("officer@example.org")
    html = client.get("/").get_data(as_text=True)
    g1_01 = row_of(html, "overdue-by-grid", "data-grid", "G1-01")
    inspections_link = unescape(
        re.search(r'href="([^"]+)" data-kind="inspections">2<', g1_01).group(1)
    )
    hazards_link = unescape(re.search(r'href="([^"]+)" data-kind="hazards">1<', g1_01).group(1))
    assert inspections_link == "/inspections/?status=overdue&grid=G1-01"
    assert hazards_link == "/hazards/?overdue=1&grid=G1-01"
    listed = client.get(inspections_link).get_data(as_text=True)
    assert {int(i) for i in re.findall(r'<tr data-id="(\d+)"', listed)} == {late["A"], late["B"]}
    listed = client.get(hazards_link).get_data(as_text=True)
    assert re.findall(r'<tr data-code="([^"]+)"', listed) == ["HZ-1"]
    g2 = row_of(html, "overdue-by-grid", "data-grid", "G2")
    assert "/inspections/?status=overdue&amp;grid=G2" in g2
    listed = client.get("/inspections/?status=overdue&grid=G2").get_data(as_text=True)
    assert {int(i) for i in re.findall(r'<tr data-id="(\d+)"', listed)} == {late["D"]}
    # the queue and the oldest lists link each item to its page
    assert "/hazards/HZ-2" in links(html, "queue-verify")
    assert "/hazards/HZ-4" in links(html, "queue-returned")
    assert links(html, "queue-late")[0] == "/assets/CS-001"
    assert re.search(r'days-late"[^>]*>38<', row_of(html, "queue-late", "data-asset", "CS-001"))
    assert links(html, "oldest-inspections")[0] == "/assets/CS-001"
    assert links(html, "oldest-hazards")[:2] == ["/hazards/HZ-1", "/assets/CS-001"]
    trend = row_of(html, "overdue-trend", "data-week", "2026-W09")
    assert re.findall(r'class="count">(\d+)<', trend) == ["4", "1"]
    assert 'id="dashboard-data"' in html and "echarts.min.js" in html
    for path in ("/static/vendor/echarts-5.6.0/echarts.min.js", "/static/js/dashboard.js"):
        response = client.get(path)
        assert response.status_code == 200
        response.close()


def test_dashboard_page_in_english_and_with_a_grid(app, client, auth, late, frozen_clock):
    frozen_clock.set(NOW)
    auth.login("officer@example.org")
    html = client.get("/?grid=G2", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Overdue by grid" in html
    assert re.findall(r'<tr class="grid-level-\d" data-grid="([^"]+)"', html) == [
        "G2",
        "G2-01",
        "G2-02",
    ]
    assert re.findall(r'data-asset="([^"]+)"', html) == ["EB-0001"]
