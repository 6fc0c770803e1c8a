"""The dashboard's 12-week overdue trend is true to history: a history built through the
services with the clock frozen at each step (cancellations, hazards rectified, verified,
reopened and verified again), then each week's count checked; migration 0012 gives the
inspections cancelled before it the time of their audited cancellation; the past weeks are
rolled up once and emptied when their history is rewritten, not when work is done now."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text
from werkzeug.datastructures import FileStorage

from accounts.models import User
from app import create_app
from assets.models import Grid
from core.extensions import db
from dashboard import overdue
from dashboard import trend as weekly
from dashboard.models import OverdueWeek, OverdueWeekTotal
from hazards.services import change_hazard_status, reopen_hazard
from inspections.models import Inspection, InspectionStatus
from inspections.results import cancel_inspection
from tests import conftest, factories

TODAY = date(2026, 3, 11)  # a Wednesday of 2026-W11
NOW = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def officer_user() -> User:
    return db.session.scalar(select(User).where(User.email == "officer@example.org"))


def after_photo() -> FileStorage:
    return FileStorage(
        io.BytesIO(factories.png_bytes()), filename="after.png", content_type="image/png"
    )


def cancel_at(frozen_clock, inspection_id: int, moment: datetime) -> None:
    frozen_clock.set(moment)
    cancel_inspection(db.session.get(Inspection, inspection_id), officer_user(), "Site closed")
    db.session.commit()


def step_at(frozen_clock, code: str, moment: datetime, status: str) -> None:
    """The hazard ``code`` moved to ``status`` at ``moment`` (an "after" photo to rectify)."""
    from hazards.models import Hazard

    frozen_clock.set(moment)
    hazard = db.session.scalar(select(Hazard).where(Hazard.code == code))
    if status == "open":
        reopen_hazard(hazard, officer_user(), "The charger sparks again")
    else:
        photos = [after_photo()] if status == "rectified" else []
        change_hazard_status(hazard, status, officer_user(), photos=photos)
    db.session.commit()


@pytest.fixture
def history(app, district, officer, frozen_clock):
    """Inspections of CS-001 and CS-002 and hazards HA…HE, each step at its own time."""
    with app.app_context():
        frozen_clock.set(utc(2026, 1, 5, 2))
        factories.gen_asset(factories.charging_station_data(1))
        factories.gen_asset(factories.charging_station_data(2))
        gen = factories.gen_inspection
        ids = {
            "P": gen("CS-001", date(2026, 1, 20)).id,  # overdue 5 weeks, then cancelled
            "Q": gen("CS-001", date(2026, 2, 10)).id,  # cancelled 23:59 on Sunday 02-15
            "R": gen("CS-002", date(2026, 2, 10)).id,  # cancelled 00:00 on Monday 02-16
            "S": gen("CS-002", date(2026, 2, 24)).id,  # overdue still
            "T": gen("CS-002", date(2026, 2, 3)).id,  # done late, on 03-04
        }
        legacy = gen("CS-001", date(2026, 1, 10))  # cancelled before 0012: no time known
        legacy.status = InspectionStatus.CANCELLED
        in_g1_01 = db.session.scalar(select(Grid.id).where(Grid.code == "G1-01"))

        def hazard(code, severity, *args, **values):
            return factories.gen_hazard(code, severity, *args, grid_id=in_g1_01, **values)

        hazard("HA", "major", "CS-001", found_on=date(2026, 1, 20), deadline=date(2026, 2, 1))
        hazard("HB", "general", found_on=date(2026, 2, 1), deadline=date(2026, 2, 20))
        hazard("HC", "general", found_on=date(2026, 1, 25), deadline=date(2026, 2, 5))
        hazard(  # verified on 02-18, its history not kept
            "HD",
            "general",
            found_on=date(2026, 2, 1),
            deadline=date(2026, 2, 10),
            status="verified",
            status_changed_at=utc(2026, 2, 18, 2),
        )
        hazard("HE", "general", found_on=date(2026, 2, 20), deadline=date(2026, 3, 1))
        db.session.commit()

        step_at(frozen_clock, "HA", utc(2026, 2, 10, 2), "rectifying")
        step_at(frozen_clock, "HA", utc(2026, 2, 11, 2), "rectified")
        step_at(frozen_clock, "HA", utc(2026, 2, 12, 2), "verified")
        cancel_at(frozen_clock, ids["Q"], utc(2026, 2, 15, 15, 59))  # 23:59 local, Sunday
        cancel_at(frozen_clock, ids["R"], utc(2026, 2, 15, 16, 0))  # 00:00 local, Monday
        step_at(frozen_clock, "HC", utc(2026, 2, 20, 2), "rectified")
        step_at(frozen_clock, "HC", utc(2026, 2, 22, 15, 59), "verified")  # 23:59 Sunday
        step_at(frozen_clock, "HA", utc(2026, 2, 24, 2), "open")  # reopened
        cancel_at(frozen_clock, ids["P"], utc(2026, 2, 25, 2))
        step_at(frozen_clock, "HA", utc(2026, 3, 3, 2), "rectified")
        frozen_clock.set(utc(2026, 3, 4, 2))
        done = db.session.get(Inspection, ids["T"])
        done.status, done.result, done.completed_at = "completed", "pass", utc(2026, 3, 4, 2)
        db.session.commit()
        step_at(frozen_clock, "HA", utc(2026, 3, 4, 3), "verified")
        step_at(frozen_clock, "HB", utc(2026, 3, 5, 2), "rectified")
        frozen_clock.set(NOW)
    return ids


# week: (inspections, hazards) overdue at the end of its Sunday (W11: today)
EXPECTED = {
    "2025-W52": (0, 0),
    "2026-W01": (0, 0),
    "2026-W02": (0, 0),  # the legacy cancellation (due 01-10) never counts
    "2026-W03": (0, 0),
    "2026-W04": (1, 0),  # P
    "2026-W05": (1, 0),  # P; HA is due that Sunday, not yet overdue
    "2026-W06": (2, 2),  # P, T; HA, HC
    "2026-W07": (3, 2),  # P, R (cancelled at 00:00 Monday), T; HC, HD (HA verified 02-12)
    "2026-W08": (2, 1),  # P, T; HB (HC verified 23:59 that Sunday, HD on 02-18)
    "2026-W09": (2, 2),  # S, T (P cancelled 02-25); HA (reopened 02-24), HB
    "2026-W10": (1, 2),  # S (T done 03-04); HB, HE (HA verified again 03-04)
    "2026-W11": (1, 2),  # S; HB, HE: today's counts
}


def test_each_week_counts_what_was_overdue_then(app, history):
    with app.app_context():
        trend = weekly.overdue_trend(TODAY)
        assert {point.week: (point.inspections, point.hazards) for point in trend} == EXPECTED
        assert list(EXPECTED) == [point.week for point in trend]
        # the current week is today's count, as the lists have it
        assert trend[-1].inspections == len(overdue.overdue_inspections(TODAY))
        assert trend[-1].hazards == len(overdue.overdue_hazards(TODAY))


def test_a_cancellation_keeps_its_time(app, history):
    with app.app_context():
        cancelled = {
            key: db.session.get(Inspection, history[key]).cancelled_at for key in ("P", "Q", "R")
        }
        assert cancelled == {
            "P": utc(2026, 2, 25, 2),
            "Q": utc(2026, 2, 15, 15, 59),
            "R": utc(2026, 2, 15, 16, 0),
        }


def test_migration_0012_backfills_cancellations_from_the_audit_log(backend, tmp_path):
    url = conftest.migrated_database(backend, tmp_path, "_mig0012")
    app = create_app(conftest.test_config(url))
    try:
        with app.app_context():
            downgrade(revision="0009")
            factories.gen_district()
            factories.gen_contractor("Fixers Ltd")
            factories.gen_asset(factories.charging_station_data(1))
            db.session.commit()
            connection = db.session.connection()
            insert = text(
                "INSERT INTO inspections (asset_id, contractor_id, due_on, status, created_at)"
                " SELECT assets.id, contractors.id, :due, :status, :at FROM assets, contractors"
            )
            for due, status in (("2026-01-10", "cancelled"), ("2026-01-20", "cancelled")):
                connection.execute(insert, {"due": due, "status": status, "at": utc(2026, 1, 1)})
            connection.execute(insert, {"due": "2026-02-01", "status": "scheduled", "at": NOW})
            audited, unaudited, open_one = connection.execute(
                text("SELECT id FROM inspections ORDER BY due_on")
            ).scalars()
            audit = text(
                "INSERT INTO audit_entries (at, actor, action, entity_type, entity_key)"
                " VALUES (:at, 'officer@example.org', :action, :type, :key)"
            )
            for at, action, entity, key in [
                (utc(2026, 2, 3, 4), "cancel", "inspection", audited),
                (utc(2026, 2, 5, 4), "cancel", "inspection", audited),  # the latest wins
                (utc(2026, 2, 6, 4), "reschedule", "inspection", unaudited),
                (utc(2026, 2, 6, 4), "cancel", "hazard", unaudited),
            ]:
                connection.execute(
                    audit, {"at": at, "action": action, "type": entity, "key": str(key)}
                )
            db.session.commit()
            upgrade()
            db.session.expire_all()
            got = {
                number: db.session.get(Inspection, number).cancelled_at
                for number in (audited, unaudited, open_one)
            }
            assert got == {audited: utc(2026, 2, 5, 4), unaudited: None, open_one: None}
            db.session.commit()  # PostgreSQL: the read's locks would hold the migration's DDL
            downgrade(revision="0009")
            columns = db.session.execute(text("SELECT * FROM inspections")).keys()
            assert "cancelled_at" not in columns
            db.session.commit()
            upgrade()
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()


# --- The roll-up of past weeks ----------------------------------------------------------------


def rolled_up_days() -> list[date]:
    return sorted(db.session.scalars(select(OverdueWeek.day)))


def by_week() -> dict[str, tuple[int, int]]:
    return {p.week: (p.inspections, p.hazards) for p in weekly.overdue_trend(TODAY)}


def test_past_weeks_are_rolled_up_once_and_read_back(app, history):
    with app.app_context():
        assert rolled_up_days() == []
        assert by_week() == EXPECTED
        db.session.commit()
        # the 11 past Sundays, per grid (CS-001 and CS-002 lie in G1-01; HB…HE too)
        assert len(rolled_up_days()) == 11
        totals = db.session.execute(
            select(
                OverdueWeekTotal.day, OverdueWeekTotal.inspections, OverdueWeekTotal.hazards
            ).where(OverdueWeekTotal.day == date(2026, 2, 15))
        ).all()
        assert totals == [(date(2026, 2, 15), 3, 2)]  # all in G1-01
        assert by_week() == EXPECTED  # from the roll-up
        g2 = {p.week: (p.inspections, p.hazards) for p in weekly.overdue_trend(TODAY, grid="G2")}
        assert set(g2.values()) == {(0, 0)}
        g1 = {p.week: (p.inspections, p.hazards) for p in weekly.overdue_trend(TODAY, grid="G1")}
        assert g1 == EXPECTED


def test_work_done_now_keeps_the_roll_up(app, history, frozen_clock):
    """A result logged now, a cancellation now, a hazard step now: the past weeks stand."""
    with app.app_context():
        by_week()
        db.session.commit()
        cancel_at(frozen_clock, history["S"], NOW)
        step_at(frozen_clock, "HB", NOW, "verified")
        assert len(rolled_up_days()) == 11
        expected = {**EXPECTED, "2026-W11": (0, 1)}
        assert by_week() == expected


def test_a_result_logged_for_a_past_week_rewrites_it(app, history, frozen_clock):
    with app.app_context():
        by_week()
        db.session.commit()
        # S (due 02-24) was done on 03-02 (W10) and logged only today
        frozen_clock.set(NOW)
        inspection = db.session.get(Inspection, history["S"])
        inspection.status, inspection.result = "completed", "pass"
        inspection.completed_at = utc(2026, 3, 2, 2)
        db.session.commit()
        assert rolled_up_days() == []
        assert by_week() == {**EXPECTED, "2026-W10": (0, 2), "2026-W11": (0, 2)}


def test_history_rewritten_empties_the_roll_up(app, history, frozen_clock):
    from hazards.models import Hazard

    with app.app_context():
        by_week()
        db.session.commit()
        # HB's deadline moved back to 02-27: it was not overdue on 02-22 (W08) after all
        hazard = db.session.scalar(select(Hazard).where(Hazard.code == "HB"))
        hazard.deadline = date(2026, 2, 27)
        db.session.commit()
        assert rolled_up_days() == []
        expected = {**EXPECTED, "2026-W08": (2, 0)}
        assert by_week() == expected
        db.session.commit()
        # a new inspection due in a past week, never done
        factories.gen_inspection("CS-001", date(2026, 3, 2))
        db.session.commit()
        assert rolled_up_days() == []
        assert by_week() == {**expected, "2026-W10": (2, 2), "2026-W11": (2, 2)}
