"""Every dashboard number against a hand-built fixture, with the clock frozen."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from accounts.models import User
from core.extensions import db
from core.spatial import point_value
from dashboard import stats
from hazards.models import Hazard
from inspections.models import InspectionStatus
from tests import factories

TODAY = date(2026, 3, 10)
# 2026-03-10 09:00 in Shanghai.
NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


def completed(inspection, at: datetime, result: str = "pass"):
    inspection.status = InspectionStatus.COMPLETED
    inspection.completed_at = at
    inspection.result = result
    return inspection


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def gen_hazard(code, severity, status, found_on, deadline, reported_by=None, responsible=None):
    hazard = Hazard(
        code=code,
        category="other",
        severity=severity,
        description="test hazard",
        location=point_value(*factories.INSIDE_G1_01),
        found_on=found_on,
        deadline=deadline,
        status=status,
        reported_by_contractor_id=(
            factories.gen_contractor(reported_by).id if reported_by else None
        ),
        responsible_contractor_id=(
            factories.gen_contractor(responsible).id if responsible else None
        ),
    )
    db.session.add(hazard)
    return hazard


@pytest.fixture
def numbers(app, district, officer, contractor_user):
    """Fixers Ltd: on time 2 of 4 (one late by a minute past local midnight, one overdue);
    Other Co: 1 of 2. CS-001 in G1-01, CS-002 in G1-02, EB-0001 in G2-02."""
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        factories.gen_asset(factories.charging_station_data(2, longitude=119.15, latitude=36.745))
        factories.gen_asset(factories.blocker_data(1))
        gen = factories.gen_inspection
        # Fixers Ltd
        completed(gen("CS-001", date(2026, 3, 1)), utc(2026, 3, 1, 15, 59))  # 23:59 local
        completed(gen("CS-001", date(2026, 3, 2)), utc(2026, 3, 2, 16, 0))  # 00:00 next day
        gen("CS-001", date(2026, 2, 20))  # overdue
        gen("CS-001", date(2026, 2, 15)).status = InspectionStatus.CANCELLED
        completed(gen("CS-001", date(2025, 12, 1)), utc(2025, 12, 1, 2))  # before the window
        completed(gen("CS-001", TODAY), utc(2026, 3, 10, 0, 30))  # due today: not counted
        completed(gen("CS-002", date(2026, 3, 5)), utc(2026, 3, 3, 8), result="fail")
        gen("CS-002", date(2026, 3, 12))  # due soon
        gen("CS-002", date(2026, 3, 17))  # due soon, the last day
        gen("CS-002", date(2026, 3, 18))  # not yet
        # Other Co
        completed(gen("EB-0001", date(2026, 3, 2), "Other Co"), utc(2026, 3, 2, 3))
        gen("EB-0001", date(2026, 3, 3), "Other Co")  # overdue
        gen("EB-0001", TODAY, "Other Co")  # due soon (today)
        # Hazards: (code, severity, status, found_on, deadline, reported_by, responsible)
        gen_hazard("HZ-1", "major", "open", date(2026, 3, 10), date(2026, 3, 17), "Fixers Ltd")
        gen_hazard("HZ-2", "general", "rectifying", date(2026, 3, 3), date(2026, 4, 2))
        gen_hazard("HZ-3", "general", "open", date(2026, 3, 2), date(2026, 3, 9), "Fixers Ltd")
        gen_hazard(
            "HZ-4", "major", "rectified", date(2026, 2, 8), date(2026, 2, 15), None, "Fixers Ltd"
        )
        gen_hazard("HZ-5", "general", "open", date(2026, 2, 7), date(2026, 3, 9), "Other Co")
        gen_hazard("HZ-6", "major", "open", date(2025, 12, 10), date(2025, 12, 17))
        gen_hazard("HZ-7", "general", "open", date(2025, 12, 9), TODAY)
        gen_hazard("HZ-8", "major", "verified", date(2026, 1, 1), date(2026, 1, 8), "Fixers Ltd")
        db.session.commit()


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def rates(rows) -> dict[str, tuple[int, int]]:
    return {row.name: (row.on_time, row.counted) for row in rows}


def grid_rates(rows) -> dict[str, tuple[int, int]]:
    return {row.key: (row.on_time, row.counted) for row in rows}


def test_overdue_and_due_soon(app, numbers):
    with app.app_context():
        assert stats.overdue_count(TODAY) == 2
        assert stats.due_soon_count(TODAY) == 3
        fixer = user("fixer@example.org")
        assert stats.overdue_count(TODAY, fixer) == 1
        assert stats.due_soon_count(TODAY, fixer) == 2
        assert stats.overdue_count(TODAY, user("officer@example.org")) == 2


def test_default_today_turns_at_shanghai_midnight(app, numbers, frozen_clock):
    """EB-0001 is due 2026-03-10: due soon until 15:59 UTC on the 10th, overdue from 16:00
    UTC, which is midnight in Shanghai on the 11th; the server clock is UTC."""
    with app.app_context():
        frozen_clock.set(utc(2026, 3, 10, 15, 59, 59))
        assert stats.overdue_count() == 2
        assert stats.due_soon_count() == 3
        frozen_clock.set(utc(2026, 3, 10, 16, 0, 0))
        assert stats.overdue_count() == 3
        assert stats.due_soon_count() == 3  # CS-002 due 03-18 comes in, EB-0001 goes out


def test_on_time_by_contractor(app, numbers):
    with app.app_context():
        result = stats.on_time_by_contractor(TODAY)
        assert rates(result) == {"Fixers Ltd": (2, 4), "Other Co": (1, 2)}
        fixers = next(row for row in result if row.name == "Fixers Ltd")
        assert fixers.rate == 0.5
        assert fixers.percent == "50%"
        assert rates(stats.on_time_by_contractor(TODAY, user("fixer@example.org"))) == {
            "Fixers Ltd": (2, 4)
        }


def test_on_time_uses_the_district_day_not_utc(app, numbers):
    """The one completed at 16:00 UTC on its due date is late (00:00 next day locally); under
    UTC both completions on 2026-03-01 and 03-02 would count as on time."""
    with app.app_context():
        app.config["TIMEZONE"] = "UTC"
        assert rates(stats.on_time_by_contractor(TODAY))["Fixers Ltd"] == (3, 4)


def test_on_time_window(app, numbers):
    with app.app_context():
        # Ten days back: 2026-02-28 to 03-09; the overdue one of 02-20 drops out.
        assert rates(stats.on_time_by_contractor(TODAY, days=10))["Fixers Ltd"] == (2, 3)
        # Looking from later: the one due 03-10 and completed on time counts now.
        later = stats.on_time_by_contractor(date(2026, 3, 11))
        assert rates(later)["Fixers Ltd"] == (3, 5)


def test_on_time_by_grid(app, numbers):
    with app.app_context():
        assert grid_rates(stats.on_time_by_grid(TODAY)) == {"G1": (2, 4), "G2": (1, 2)}
        assert grid_rates(stats.on_time_by_subgrid(TODAY)) == {
            "G1-01": (1, 3),
            "G1-02": (1, 1),
            "G2-02": (1, 2),
        }
        fixer = user("fixer@example.org")
        assert grid_rates(stats.on_time_by_grid(TODAY, fixer)) == {"G1": (2, 4)}
        assert "G2-02" not in grid_rates(stats.on_time_by_subgrid(TODAY, fixer))


def test_open_hazards_by_severity_and_age(app, numbers):
    with app.app_context():
        assert stats.open_hazards_by_severity() == {"general": 4, "major": 2 + 1}
        assert stats.open_hazards_by_age(TODAY) == {"0-7": 2, "8-30": 2, "31-90": 2, "90+": 1}
        assert stats.overdue_hazard_count(TODAY) == 4
        fixer = user("fixer@example.org")
        assert stats.open_hazards_by_severity(fixer) == {"general": 1, "major": 2}
        assert stats.open_hazards_by_age(TODAY, fixer) == {
            "0-7": 1,
            "8-30": 2,
            "31-90": 0,
            "90+": 0,
        }
        assert stats.overdue_hazard_count(TODAY, fixer) == 2
        # A day later HZ-7 (deadline today) is overdue too.
        assert stats.overdue_hazard_count(date(2026, 3, 11)) == 5


def test_a_contractor_user_without_company_counts_nothing(app, numbers):
    with app.app_context():
        lone = User(email="lone@example.org", role="contractor", contractor_id=None)
        assert stats.overdue_count(TODAY, lone) == 0
        assert stats.on_time_by_contractor(TODAY, lone) == []
        assert stats.open_hazards_by_severity(lone) == {"general": 0, "major": 0}


def card(html: str, card_id: str) -> str:
    match = re.search(rf'id="{card_id}".*?<div class="stat">(\d+)</div>', html, re.S)
    assert match, card_id
    return match.group(1)


def test_dashboard_page_shows_the_numbers(app, client, auth, numbers, frozen_clock):
    frozen_clock.set(NOW)
    auth.login("officer@example.org")
    html = client.get("/").get_data(as_text=True)
    assert card(html, "card-overdue") == "2"
    assert card(html, "card-due-soon") == "3"
    assert card(html, "card-overdue-hazards") == "4"
    assert card(html, "card-total") == "3"  # the asset counts are still there
    assert "/inspections/?status=overdue" in html
    assert "/inspections/?status=due_soon" in html
    assert re.search(r'data-key="G1">.*?2 / 4.*?50%', html, re.S)
    assert re.search(r'data-severity="major">.*?<td class="count">3</td>', html, re.S)
    assert re.search(r'data-age="90\+">.*?<td class="count">1</td>', html, re.S)
    assert 'id="on-time-definition"' in html
    age_row = re.search(r'data-age="8-30">.*?</tr>', html, re.S).group(0)
    assert "status=unverified" in age_row
    assert "found_from=2026-02-08" in age_row and "found_to=2026-03-02" in age_row
    assert "/inspections/?contractor=Fixers+Ltd" in html
    assert "/inspections/?grid=G1-01" in html


def test_dashboard_page_is_scoped_for_a_contractor(app, client, auth, numbers, frozen_clock):
    frozen_clock.set(NOW)
    auth.login("fixer@example.org")
    html = client.get("/dashboard").get_data(as_text=True)  # "/" is its work
    assert card(html, "card-overdue") == "1"
    assert card(html, "card-due-soon") == "2"
    assert card(html, "card-overdue-hazards") == "2"
    assert "Other Co" not in html
    assert 'data-key="G2"' not in html


# --- The rolled-up on-time totals -----------------------------------------------------------


def test_on_time_totals_are_rolled_up_once_and_reused(app, numbers):
    from inspections.models import OnTimeDay, OnTimeTotal

    with app.app_context():
        first = rates(stats.on_time_by_contractor(TODAY))
        days = db.session.scalar(select(db.func.count()).select_from(OnTimeDay))
        assert days == 90  # every due date of the window, including days with nothing due
        totals = db.session.scalars(select(OnTimeTotal.id).order_by(OnTimeTotal.id)).all()
        assert rates(stats.on_time_by_contractor(TODAY)) == first
        assert db.session.scalars(select(OnTimeTotal.id).order_by(OnTimeTotal.id)).all() == totals


def test_logging_a_past_inspection_late_forgets_that_day(app, numbers, frozen_clock):
    """The overdue inspection due 2026-02-20, logged afterwards as done on its due date,
    now counts as on time: its day is rolled up again."""
    from inspections.models import Inspection
    from inspections.results import record_result

    frozen_clock.set(NOW)
    with app.app_context():
        assert rates(stats.on_time_by_contractor(TODAY))["Fixers Ltd"] == (2, 4)
        db.session.commit()
        overdue = db.session.scalar(
            select(Inspection).where(Inspection.due_on == date(2026, 2, 20))
        )
        answers = {
            item: "pass"
            for item in (
                "cutoff_when_full",
                "extinguisher_in_date",
                "no_flying_wire",
                "canopy_and_wiring",
                "camera_working",
                "smoke_detector_working",
            )
        }
        record_result(
            overdue,
            user("fixer@example.org"),
            {"answers": answers, "result": "pass", "completed_at": "2026-02-20T10:00:00+08:00"},
            [],
        )
        db.session.commit()
        assert rates(stats.on_time_by_contractor(TODAY))["Fixers Ltd"] == (3, 4)


def test_cancelling_a_past_inspection_forgets_that_day(app, numbers, frozen_clock):
    from inspections.models import Inspection
    from inspections.results import cancel_inspection

    frozen_clock.set(NOW)
    with app.app_context():
        assert rates(stats.on_time_by_contractor(TODAY))["Other Co"] == (1, 2)
        db.session.commit()
        overdue = db.session.scalar(select(Inspection).where(Inspection.due_on == date(2026, 3, 3)))
        cancel_inspection(overdue, user("officer@example.org"), "The lift is being replaced.")
        db.session.commit()
        assert rates(stats.on_time_by_contractor(TODAY))["Other Co"] == (1, 1)
