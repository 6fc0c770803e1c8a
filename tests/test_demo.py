"""`flask demo load`: the demo district, deterministic and idempotent."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import to_shape
from shapely import union_all
from shapely.geometry import box
from sqlalchemy import func, select

from accounts.models import Contractor, User
from assets.io import export_assets
from assets.models import Asset, Grid, PropertyCompany, Site
from core.audit import AuditEntry
from core.clock import district_today, district_zone
from core.extensions import db
from core.spatial import latitude_of, longitude_of
from demo.district import ACCOUNTS, ANXIAO, YUANDU, load_demo_district
from hazards.models import Hazard, HazardEvent
from hazards.services import hazard_overdue_clause
from inspections.models import Inspection, InspectionPlan
from inspections.services import generate_inspections, overdue_clause

pytestmark = pytest.mark.slow


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_grids_tile_the_district(demo_app):
    with demo_app.app_context():
        grids = db.session.scalars(select(Grid).order_by(Grid.code)).all()
        first = [grid for grid in grids if grid.level == 1]
        second = [grid for grid in grids if grid.level == 2]
        assert [grid.code for grid in first] == ["G1", "G2", "G3"]
        assert len(second) == 20
        assert sum(grid.code.startswith("G1-") for grid in second) == 8
        assert all(grid.parent.code == grid.code.split("-")[0] for grid in second)
        assert all(grid.name and grid.leader_name and grid.leader_phone for grid in grids)
        assert all(grid.leader_email.endswith("@xingang.example.cn") for grid in grids)
        district = box(119.10, 36.70, 119.30, 36.76)
        for level in (first, second):
            shapes = [to_shape(grid.boundary) for grid in level]
            assert union_all(shapes).equals(district)
            assert abs(sum(shape.area for shape in shapes) - district.area) < 1e-12


def test_demo_assets(demo_app):
    with demo_app.app_context():
        codes = db.session.scalars(select(Asset.code).order_by(Asset.code)).all()
        assert [c for c in codes if c.startswith("CS-")] == [f"CS-{n:03d}" for n in range(1, 71)]
        assert [c for c in codes if c.startswith("EB-")] == [f"EB-{n:04d}" for n in range(1, 385)]
        assert db.session.scalar(select(func.count()).where(Asset.grid_id.is_(None))) == 0
        assert db.session.scalar(select(func.count()).where(Asset.site_id.is_(None))) == 0
        # Faulty: exactly the assets whose failed inspection opened a hazard not yet verified.
        faulty = set(db.session.scalars(select(Asset.code).where(Asset.status == "faulty")))
        unverified = set(
            db.session.scalars(
                select(Asset.code)
                .join(Hazard, Hazard.asset_id == Asset.id)
                .where(Hazard.inspection_id.is_not(None), Hazard.status != "verified")
            )
        )
        assert faulty == unverified
        assert 3 <= len(faulty) <= 30
        assert count(AuditEntry) >= 454
        blocker = db.session.scalar(select(Asset).where(Asset.code == "EB-0001"))
        assert len(blocker.attributes["registration_code"]) == 20
        assert blocker.attributes["registration_code"].isdigit()
        station = db.session.scalar(select(Asset).where(Asset.code == "CS-001"))
        assert station.attributes["ports"] in (10, 12, 16, 20)
        years = {asset.installed_on.year for asset in db.session.scalars(select(Asset))}
        assert years <= {2023, 2024, 2025}


def test_demo_sites_companies_and_accounts(demo_app):
    with demo_app.app_context():
        assert count(PropertyCompany) == 8
        assert count(Site) == 40
        assert (
            db.session.scalar(select(func.count()).where(Site.property_company_id.is_(None))) == 0
        )
        users = {user.email: user for user in db.session.scalars(select(User))}
        assert users["admin@xingang.example.cn"].role == "admin"
        assert users["officer@xingang.example.cn"].role == "officer"
        contractor_users = [user for user in users.values() if user.role == "contractor"]
        assert len({user.contractor.name for user in contractor_users}) == 2
        assert all(
            c.contact_email and c.contact_phone for c in db.session.scalars(select(Contractor))
        )
        for email, password, *_ in ACCOUNTS:
            assert users[email].check_password(password)


HISTORY_MODELS = (InspectionPlan, Inspection, Hazard, HazardEvent)


def test_demo_load_is_idempotent_and_deterministic(app, demo_app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "454 assets" in first.output
    assert "4 plans" in first.output
    assert "admin@xingang.example.cn / xingang-admin-2024" in first.output
    assert "overdue" in first.output and "hazards" in first.output  # the summary line
    models = (Grid, Site, Asset, User, AuditEntry, *HISTORY_MODELS)
    with app.app_context():
        counts = [count(model) for model in models]
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, again.output
    assert "nothing added" in again.output
    assert "officer@xingang.example.cn / xingang-officer-2024" in again.output
    with app.app_context():
        assert [count(model) for model in models] == counts
        fresh = export_assets("csv"), export_assets("geojson")
    with demo_app.app_context():
        assert (export_assets("csv"), export_assets("geojson")) == fresh


# --- Plans, history and hazards ---------------------------------------------------------------


def test_demo_plans(demo_app):
    with demo_app.app_context():
        plans = db.session.scalars(select(InspectionPlan).order_by(InspectionPlan.id)).all()
        assert len(plans) == 4
        by_kind = {}
        for plan in plans:
            by_kind.setdefault(plan.asset_kind, []).append(plan)
            assert plan.active and plan.checklist is None  # the kind's default checklist
            assert plan.start_on <= district_today() - timedelta(days=365)
        (stations,) = by_kind["charging_station"]
        assert (stations.cadence_unit, stations.cadence_every) == ("month", 1)
        assert stations.contractor.name == ANXIAO
        blockers = by_kind["elevator_blocker"]
        assert {plan.cadence_unit for plan in blockers} == {"quarter"}
        assert sorted(plan.grid.code for plan in blockers) == ["G1", "G2", "G3"]
        assert {plan.contractor.name for plan in blockers} == {ANXIAO, YUANDU}
        # Together they cover every asset exactly once.
        covered = db.session.scalars(
            select(func.count(func.distinct(Inspection.asset_id))).where(
                Inspection.plan_id.is_not(None)
            )
        ).one()
        assert covered == 454


def local(moment: datetime) -> datetime:
    return moment.astimezone(district_zone())


def test_demo_history_is_a_realistic_year(demo_app):
    with demo_app.app_context():
        today = district_today()
        done = db.session.scalars(select(Inspection).where(Inspection.status == "completed")).all()
        assert len(done) > 2000
        due = sorted(inspection.due_on for inspection in done)
        assert today - timedelta(days=366) <= due[0] <= today - timedelta(days=330)
        assert today - timedelta(days=40) <= due[-1] < today
        inspectors = {
            user.contractor_id: user.id
            for user in db.session.scalars(select(User).where(User.role == "contractor"))
        }
        now = datetime.now(UTC)
        for inspection in done:
            assert inspection.inspector_id == inspectors[inspection.contractor_id]
            assert time(8, 30) <= local(inspection.completed_at).time() <= time(17, 30)
            assert inspection.completed_at <= inspection.logged_at < now
            assert inspection.result in ("pass", "fail") and inspection.answers
            assert (inspection.result == "fail") == ("fail" in inspection.answers.values())
        failed = [inspection for inspection in done if inspection.result == "fail"]
        assert 0.01 <= len(failed) / len(done) <= 0.05
        assert all(inspection.notes for inspection in failed)
        late = [i for i in done if local(i.completed_at).date() > i.due_on]
        assert 0.02 <= len(late) / len(done) <= 0.15
        flagged = [inspection for inspection in done if inspection.flagged]
        assert 1 <= len(flagged) <= 2
        assert all(inspection.distance_m > 150 for inspection in flagged)
        assert all(i.distance_m < 30 for i in done if not i.flagged)


def test_demo_has_a_handful_overdue_and_upcoming_inspections(demo_app):
    with demo_app.app_context():
        today = district_today()
        overdue = db.session.scalars(select(Inspection).where(overdue_clause())).all()
        assert 3 <= len(overdue) <= 10
        assert all(i.due_on < today for i in overdue)
        assert all(i.completed_at is None and i.inspector_id is None for i in overdue)
        # each contractor has some, whatever the day (its pages show overdue work)
        contractors = db.session.scalars(select(Contractor.id)).all()
        assert {i.contractor_id for i in overdue} == set(contractors)
        for inspection in overdue:  # recent: due in the last 21 days, or the latest due date
            latest = db.session.scalar(
                select(func.max(Inspection.due_on)).where(
                    Inspection.contractor_id == inspection.contractor_id,
                    Inspection.due_on < today,
                )
            )
            assert inspection.due_on >= today - timedelta(days=21) or inspection.due_on == latest
        upcoming = select(func.count()).where(
            Inspection.status == "scheduled", Inspection.due_on >= today
        )
        assert db.session.scalar(upcoming) > 454
        assert generate_inspections() == 0
        db.session.rollback()


def test_demo_failures_open_hazards(demo_app):
    with demo_app.app_context():
        failed = db.session.scalars(select(Inspection).where(Inspection.result == "fail")).all()
        hazards = {
            hazard.inspection_id: hazard
            for hazard in db.session.scalars(
                select(Hazard).where(Hazard.inspection_id.is_not(None))
            )
        }
        assert len(hazards) == len(failed)
        for inspection in failed:
            hazard = hazards[inspection.id]
            assert hazard.asset_id == inspection.asset_id
            assert hazard.found_on == local(inspection.completed_at).date()
            assert hazard.category in ("charger_fault", "blocker_fault")
            assert hazard.reported_by_contractor_id == inspection.contractor_id


def test_demo_hazards_in_several_states(demo_app):
    with demo_app.app_context():
        hazards = db.session.scalars(select(Hazard).order_by(Hazard.code)).all()
        assert {hazard.status for hazard in hazards} == {
            "open",
            "rectifying",
            "rectified",
            "verified",
        }
        direct = {hazard.category for hazard in hazards if hazard.inspection_id is None}
        assert {"flying_wire_charging", "ebike_in_corridor"} <= direct
        major_overdue = select(func.count()).where(
            hazard_overdue_clause(), Hazard.severity == "major"
        )
        assert db.session.scalar(major_overdue) >= 1
        reopened = select(func.count()).where(
            HazardEvent.to_status == "open", HazardEvent.from_status.is_not(None)
        )
        assert db.session.scalar(reopened) == 1
        officer = db.session.scalar(select(User).where(User.role == "officer"))
        now = datetime.now(UTC)
        for hazard in hazards:
            times = [event.at for event in hazard.events]
            assert times == sorted(times) and times[-1] < now
            assert local(times[0]).date() == hazard.found_on
            assert hazard.events[-1].to_status == hazard.status
            assert hazard.status_changed_at == times[-1]
            verified = [event for event in hazard.events if event.to_status == "verified"]
            assert all(event.actor_id == officer.id for event in verified)
        # Codes are numbered in the order hazards were found.
        assert [h.code for h in hazards] == [h.code for h in sorted(hazards, key=found_first)]


def found_first(hazard: Hazard):
    return hazard.found_on.year, hazard.events[0].at


FROZEN = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def history_snapshot() -> dict[str, list[tuple]]:
    """Every inspection and hazard row as plain values (not the moment generation ran)."""
    inspection_columns = [c for c in Inspection.__table__.c if c.name != "created_at"]
    hazard_columns = [c for c in Hazard.__table__.c if c.name != "location"]
    hazard_point = (longitude_of(Hazard.location), latitude_of(Hazard.location))
    event_columns = list(HazardEvent.__table__.c)
    return {
        "inspections": db.session.execute(
            select(*inspection_columns).order_by(Inspection.id)
        ).all(),
        "hazards": db.session.execute(
            select(*hazard_columns, *hazard_point).order_by(Hazard.id)
        ).all(),
        "events": db.session.execute(select(*event_columns).order_by(HazardEvent.id)).all(),
        "plans": db.session.execute(
            select(InspectionPlan.__table__).order_by(InspectionPlan.id)
        ).all(),
    }


def test_demo_is_deterministic_for_a_given_day(app, backend, backend_states, frozen_clock):
    frozen_clock.set(FROZEN)
    snapshots = []
    for _load in range(2):  # each into the empty database
        backend_states[backend].empty_database()
        with app.app_context():
            load_demo_district()
            snapshots.append(history_snapshot())
            db.session.remove()
    first, second = snapshots
    for table in first:
        assert first[table] == second[table], table
    # Dated from the frozen day: the history ends just before it.
    completed = [row for row in first["inspections"] if row.status == "completed"]
    assert max(row.due_on for row in completed) < date(2026, 3, 10)
    assert min(row.due_on for row in completed) >= date(2025, 3, 9)


def test_each_contractor_is_left_overdue_work_whatever_the_day():
    """The demo's plans fall due on set days of the month (stations on the 5th, each grid's
    blockers on the 15th of every third month): early in a month one contractor had nothing
    due in the last 21 days, so none of its work was overdue and its pages showed none. Each
    contractor now gets its share, from its latest due date when none is recent."""
    from demo.district import OVERDUE, left_undone

    anchor = date(2026, 12, 1)
    rows = [  # contractor 1: due 5 days ago; contractor 2: last due 47 days ago
        {"contractor_id": 1, "due_on": anchor - timedelta(days=5), "n": n} for n in range(10)
    ] + [
        {"contractor_id": 2, "due_on": anchor - timedelta(days=days), "n": n}
        for days in (47, 78, 139)
        for n in range(10)
    ]
    undone = left_undone(random.Random(1), rows, anchor)
    assert len(undone) == OVERDUE
    assert {row["contractor_id"] for row in undone} == {1, 2}
    assert {row["due_on"] for row in undone if row["contractor_id"] == 2} == {
        anchor - timedelta(days=47)
    }
    assert len({id(row) for row in undone}) == OVERDUE


def demo_then_one_insert(state, app) -> dict[str, list]:
    """The demo district as ``state.demo_district`` leaves it, plus one property company
    inserted (its id is the one the sequence gives next): each table's rows (by primary key,
    geometry as its bytes), and the photo files' names and bytes."""
    state.demo_district(app)
    tables = {}
    with app.app_context():
        db.session.add(PropertyCompany(name="After the load"))
        db.session.commit()
        for table in db.metadata.sorted_tables:
            rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            tables[table.name] = [
                tuple(value.desc if isinstance(value, WKBElement) else value for value in row)
                for row in rows
            ]
        db.session.remove()
    photos = sorted(
        (path.name, path.read_bytes())
        for path in Path(app.config["PHOTO_DIR"]).rglob("*")
        if path.is_file()
    )
    return {"tables": tables, "photos": photos}


def test_the_suites_copy_of_the_demo_is_the_demo_as_loaded(
    app, backend, backend_states, database_url, frozen_clock
):
    """tests/conftest.py loads the demo once a day and worker and copies it back for the next
    test that asks (BackendState.demo_district): the copy holds what a load leaves, rows,
    sequences and photos, and the next insert takes the id it would after a load."""
    frozen_clock.set(datetime(2031, 5, 6, 2, tzinfo=UTC))  # a day no other test caches
    state = backend_states[backend]
    loaded = demo_then_one_insert(state, app)
    state.empty_database()
    for path in Path(app.config["PHOTO_DIR"]).rglob("*"):
        if path.is_file():
            path.unlink()
    copied = demo_then_one_insert(state, app)
    assert copied["photos"] == loaded["photos"] and loaded["photos"]
    assert copied["tables"].keys() == loaded["tables"].keys()
    for name, rows in loaded["tables"].items():
        assert copied["tables"][name] == rows, name
    assert loaded["tables"]["assets"] and loaded["tables"]["inspections"]
