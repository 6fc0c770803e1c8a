"""`flask demo province`: the synthetic province is deterministic, keeps every rule the app
relies on, and the app works on it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask_migrate import upgrade
from geoalchemy2 import Geometry
from geoalchemy2.shape import to_shape
from sqlalchemy import JSON, delete, func, select, text

from accounts.models import Contractor, User
from app import create_app
from assets.grids import GridLocator
from assets.models import Asset, Grid, Site
from core import clock
from core.clock import district_zone
from core.extensions import db
from core.spatial import distance_m
from dashboard.models import OverdueWeek, OverdueWeekTotal
from dashboard.stats import on_time_by_contractor
from dashboard.trend import _counted_live, overdue_trend
from demo.province import PASSWORDS, LoadResult, Province, load_province, shape_for
from evidence.models import Photo
from evidence.photos import photo_dir
from hazards.models import Hazard, HazardCodeCounter, HazardEvent
from hazards.services import next_hazard_code
from inspections.models import Inspection, InspectionPlan, OnTimeDay, OnTimeTotal
from inspections.plans.services import plan_overlaps, validated_plan_values
from inspections.services import overdue_clause, plan_assets
from tests import conftest, factories, helpers

TODAY = date(2026, 3, 16)  # a Monday
NOW = datetime.combine(TODAY, time(10), ZoneInfo("Asia/Shanghai"))
ASSETS, INSPECTIONS, SEED = 300, 3000, 7


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# Counts of writes, not rows the province wrote: a new counter starts at random
# (core.versions.first_version).
COUNTERS = frozenset({"data_versions"})


def table_digest() -> dict[str, str]:
    """Every table's rows in primary-key order, hashed (geometries as WKT, JSON with sorted
    keys): equal digests, equal rows."""
    digests = {}
    for table in db.metadata.sorted_tables:
        if table.name in COUNTERS:
            continue
        columns = [
            func.ST_AsText(column) if isinstance(column.type, Geometry) else column
            for column in table.columns
        ]
        query = select(*columns).order_by(*table.primary_key.columns)
        digest = hashlib.sha256()
        for row in db.session.execute(query):
            values = [
                json.dumps(value, sort_keys=True, ensure_ascii=False)
                if isinstance(column.type, JSON)
                else repr(value)
                for column, value in zip(table.columns, row, strict=True)
            ]
            digest.update(("\x1f".join(values) + "\n").encode())
        digests[table.name] = digest.hexdigest()
    return digests


@dataclass
class Loaded:
    app: Flask
    result: LoadResult
    digest: dict[str, str]


@pytest.fixture(scope="module")
def loaded(backend, tmp_path_factory) -> Iterator[Loaded]:
    """The province loaded once on a database of its own (per backend), at its today, with
    the digest of its rows taken right after; the tests that use it only read."""
    directory = tmp_path_factory.mktemp(f"province-{backend}")
    if backend == "spatialite":
        url = f"sqlite:///{directory / 'province.sqlite'}"
    else:
        url = conftest.recreate_postgis_database(conftest.POSTGIS_URL, "_province")
    app = create_app(helpers.test_config(url, PHOTO_DIR=str(directory / "photos")))
    clock.freeze(NOW)
    try:
        with app.app_context():
            upgrade()
            result = load_province(province_plan(), assets_per_batch=100)
            digest = table_digest()
            db.session.remove()
    finally:
        clock.freeze(None)
    yield Loaded(app, result, digest)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def province_app(loaded, frozen_clock) -> Flask:
    frozen_clock.set(NOW)
    return loaded.app


@pytest.fixture
def province(app, frozen_clock) -> LoadResult:
    """A smaller province loaded on the test database (which the test may change)."""
    frozen_clock.set(NOW)
    with app.app_context():
        return load_province(Province(60, 600, SEED, TODAY), assets_per_batch=25)


def province_plan() -> Province:
    return Province(ASSETS, INSPECTIONS, SEED, TODAY)


def schema(backend: str) -> list:
    """Every index, constraint and trigger, as the database describes it."""
    if backend == "spatialite":
        query = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type != 'table'"
    else:
        query = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            " UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE connamespace = 'public'::regnamespace"
        )
    return sorted(tuple(row) for row in db.session.execute(text(query)))


def test_the_same_arguments_give_the_same_rows(app, loaded, frozen_clock, backend):
    """Loaded again on the test database, in bigger batches: the same rows, table by table,
    and the indexes and constraints set aside for the load all back."""
    frozen_clock.set(NOW)
    with app.app_context():
        migrated = schema(backend)
        assert len(migrated) > 40
        load_province(province_plan(), assets_per_batch=10_000)
        assert schema(backend) == migrated
        assert count(Inspection) == INSPECTIONS  # the digest is of something
        assert table_digest() == loaded.digest


def test_another_seed_gives_another_province(app):
    with app.app_context():

        def rows(seed: int) -> str:
            batches = list(Province(40, 200, seed, TODAY).batches())
            return json.dumps(batches, default=lambda value: getattr(value, "data", str(value)))

        assert rows(1) == rows(1)
        assert rows(1) != rows(2)


def test_sizes_and_levels(province_app, loaded):
    app = province_app
    shape = shape_for(ASSETS)
    with app.app_context():
        assert loaded.result.counts["assets"] == count(Asset) == ASSETS
        assert loaded.result.counts["inspections"] == count(Inspection) == INSPECTIONS
        assert count(Grid, Grid.level == 1) == shape.cities
        assert count(Grid, Grid.level == 2) == shape.grids
        assert count(Asset, Asset.kind == "charging_station") > 0
        assert count(Asset, Asset.kind == "elevator_blocker") > count(Asset) / 2
        for grid in db.session.scalars(select(Grid).where(Grid.level == 2)):
            city, district, number = grid.code.split("-")
            assert grid.parent.code == city and grid.parent.level == 1
            assert to_shape(grid.parent.boundary).covers(to_shape(grid.boundary))
    assert shape_for(1_000_000).grids >= 2500  # a million assets: about 400 a grid


def test_every_asset_lies_in_its_grid(province_app, loaded):
    app = province_app
    with app.app_context():
        locator = GridLocator.from_database()
        rows = db.session.execute(
            select(Asset.grid_id, func.ST_X(Asset.location), func.ST_Y(Asset.location))
        ).all()
        assert len(rows) == ASSETS
        assert all(locator.grid_for(lon, lat).id == grid_id for grid_id, lon, lat in rows)
        contained = count(
            Asset.__table__.join(Grid, Grid.id == Asset.grid_id),
            func.ST_Contains(Grid.boundary, Asset.location),
        )
        assert contained == ASSETS
        sites = db.session.execute(
            select(Site.id, func.ST_X(Site.location), func.ST_Y(Site.location))
        ).all()
        assert all(locator.grid_for(lon, lat) is not None for _id, lon, lat in sites)
        assert count(Asset, Asset.site_id.is_(None)) == 0


def test_inspections_are_consistent(province_app, loaded):
    app = province_app
    with app.app_context():
        flag = app.config["INSPECTION_FLAG_DISTANCE_M"]
        statuses = set()
        registered = dict(db.session.execute(select(Asset.id, Asset.created_at)).all())
        points = {
            asset_id: (lon, lat)
            for asset_id, lon, lat in db.session.execute(
                select(Asset.id, func.ST_X(Asset.location), func.ST_Y(Asset.location))
            )
        }
        for inspection in db.session.scalars(select(Inspection)):
            statuses.add((inspection.status, inspection.result))
            done = inspection.status == "completed"
            assert (inspection.completed_at is not None) == done
            assert (inspection.result is not None) == done
            assert (inspection.inspector_id is not None) == done
            assert (inspection.answers is not None) == done
            assert (inspection.status == "cancelled") == (inspection.cancelled_at is not None)
            if done:
                local = inspection.completed_at.astimezone(district_zone()).date()
                assert local < TODAY and inspection.logged_at > inspection.completed_at
                failed = "fail" in inspection.answers.values()
                assert (inspection.result == "fail") == failed
                assert inspection.flagged == (inspection.distance_m > flag)
                stood = (inspection.stood_longitude, inspection.stood_latitude)
                walked = distance_m(*stood, *points[inspection.asset_id])
                assert abs(walked - inspection.distance_m) < 0.1
                assert inspection.inspector.contractor_id == inspection.contractor_id
            if inspection.due_on >= TODAY:
                assert inspection.status == "scheduled"
            assert inspection.created_at > registered[inspection.asset_id]
        assert statuses == {
            ("completed", "pass"), ("completed", "fail"), ("scheduled", None),
            ("cancelled", None),
        }  # fmt: skip
        assert count(Inspection, overdue_clause(TODAY)) > 0
        keys = select(Inspection.plan_id, Inspection.asset_id, Inspection.due_on).distinct()
        assert count(keys.subquery()) == INSPECTIONS


def test_plans_cover_their_assets_once(province_app, loaded):
    app = province_app
    with app.app_context():
        plans = db.session.scalars(select(InspectionPlan)).all()
        assert len(plans) == 2 * shape_for(ASSETS).cities
        covered = []
        for plan in plans:
            values = {
                "name": plan.name,
                "contractor_id": plan.contractor_id,
                "asset_kind": plan.asset_kind,
                "grid": plan.grid.code,
                "cadence_unit": plan.cadence_unit,
                "cadence_every": plan.cadence_every,
                "start_on": plan.start_on.isoformat(),
            }
            assert plan_overlaps(validated_plan_values(values), plan.id) == []
            ids = set(db.session.scalars(plan_assets(plan).with_only_columns(Asset.id)))
            inspected = set(
                db.session.scalars(select(Inspection.asset_id).where(Inspection.plan_id == plan.id))
            )
            assert inspected == ids
            wrong = count(Inspection, Inspection.plan_id == plan.id,
                          Inspection.contractor_id != plan.contractor_id)  # fmt: skip
            assert wrong == 0
            covered += ids
        assert sorted(covered) == list(range(1, ASSETS + 1))


def test_hazards_codes_and_faulty_assets(province_app, loaded):
    app = province_app
    with app.app_context():
        hazards = db.session.scalars(select(Hazard).order_by(Hazard.id)).all()
        failed = count(Inspection, Inspection.result == "fail")
        assert failed > 0
        assert sum(hazard.inspection_id is not None for hazard in hazards) == failed
        by_year: dict[int, list[int]] = {}
        for hazard in hazards:
            year, number = hazard.code.split("-")[1:]
            assert int(year) == hazard.found_on.year
            by_year.setdefault(int(year), []).append(int(number))
            events = sorted(hazard.events, key=lambda event: event.id)
            assert events[0].to_status == "open" and events[0].from_status is None
            assert events[-1].to_status == hazard.status
            assert [e.from_status for e in events[1:]] == [e.to_status for e in events[:-1]]
            assert all(a.at <= b.at for a, b in zip(events, events[1:], strict=False))
            assert hazard.status_changed_at == events[-1].at
            afters = [photo for photo in hazard.photos if photo.stage == "after"]
            assert bool(afters) == (hazard.status in ("rectified", "verified"))
            assert hazard.deadline >= hazard.found_on
            if hazard.inspection_id is not None:
                inspection = db.session.get(Inspection, hazard.inspection_id)
                assert inspection.asset_id == hazard.asset_id
                assert hazard.failed_items == [
                    key for key, answer in inspection.answers.items() if answer == "fail"
                ]
        counters = dict(
            db.session.execute(select(HazardCodeCounter.year, HazardCodeCounter.last)).all()
        )
        assert counters == {year: max(numbers) for year, numbers in by_year.items()}
        assert all(
            sorted(numbers) == list(range(1, len(numbers) + 1)) for numbers in by_year.values()
        )
        year = max(counters)
        assert next_hazard_code(date(year, 6, 1)) == f"HZ-{year}-{counters[year] + 1:04d}"
        db.session.rollback()
        faulty = set(db.session.scalars(select(Asset.id).where(Asset.status == "faulty")))
        unverified = set(
            db.session.scalars(
                select(Hazard.asset_id).where(
                    Hazard.status != "verified", Hazard.asset_id.is_not(None)
                )
            )
        )
        assert faulty == unverified
        photo = db.session.scalars(select(Photo).limit(1)).one()
        assert (photo_dir() / photo.stored_name).stat().st_size == photo.size_bytes
        assert count(HazardEvent) > len(hazards)


def test_roll_ups_equal_what_the_dashboard_counts_live(province_app, loaded):
    app = province_app
    with app.app_context():
        rolled = sorted(db.session.scalars(select(OverdueWeek.day)))
        assert len(rolled) == 11  # the trend's past Sundays
        totals = dict(
            db.session.execute(
                select(
                    OverdueWeekTotal.day,
                    func.sum(OverdueWeekTotal.inspections) * 100_000
                    + func.sum(OverdueWeekTotal.hazards),
                ).group_by(OverdueWeekTotal.day)
            ).all()
        )
        live = _counted_live(rolled, None, "")
        assert {day: totals.get(day, 0) for day in rolled} == {
            day: inspections * 100_000 + hazards for day, (inspections, hazards) in live.items()
        }
        assert sum(inspections for inspections, _ in live.values()) > 0
        trend = overdue_trend(TODAY)
        assert trend[-1].inspections == count(Inspection, overdue_clause(TODAY))
        on_time = on_time_by_contractor(TODAY)
        assert count(OnTimeDay) == 90 and sum(rate.counted for rate in on_time) > 0
        db.session.execute(delete(OnTimeTotal))
        db.session.execute(delete(OnTimeDay))
        assert on_time_by_contractor(TODAY) == on_time
        db.session.rollback()


def test_the_app_works_on_it(province_app):
    app, client = province_app, province_app.test_client()
    with app.app_context():
        asset = db.session.scalars(select(Asset).order_by(Asset.id).limit(1)).one()
        hazard = db.session.scalars(select(Hazard).order_by(Hazard.id).limit(1)).one()
        grid = db.session.get(Grid, asset.grid_id)
        west, south, east, north = to_shape(grid.boundary).bounds
        in_grid = count(Asset, Asset.grid_id == grid.id)
        inspector = db.session.scalars(
            select(User).where(User.role == "contractor").order_by(User.id).limit(1)
        ).one()
        token = factories.gen_token("admin@province.example.cn")
        db.session.commit()
        asset_code, hazard_code, inspector_email = asset.code, hazard.code, inspector.email
    client.post("/login", data={"email": "admin@province.example.cn",
                                "password": PASSWORDS["admin"]})  # fmt: skip
    for path, shown in (
        ("/", "C01"),
        ("/map", "sar-map"),
        ("/assets/", "C01-"),
        ("/inspections/", "C01-"),
        ("/hazards/", "HZ-"),
        (f"/assets/{asset_code}", asset_code),
        (f"/hazards/{hazard_code}", hazard_code),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert shown in response.get_data(as_text=True), path
    bbox = ",".join(map(str, (west, south, east, north)))
    response = client.get(
        f"/api/v1/assets?bbox={bbox}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json["numberMatched"] == in_grid
    drawn = client.get("/api/v1/map/assets?zoom=12", headers={"Authorization": f"Bearer {token}"})
    assert drawn.status_code == 200 and asset_code in drawn.json["points"]["code"]
    client.post("/logout")
    client.post("/login", data={"email": inspector_email, "password": PASSWORDS["contractor"]})
    response = client.get("/inspections/")
    assert response.status_code == 200 and "C01-" in response.get_data(as_text=True)


def test_generation_after_the_load_adds_without_duplicates(app, province, runner):
    with app.app_context():
        before = count(Inspection)
    result = runner.invoke(args=["inspections", "generate", "--today", TODAY.isoformat()])
    assert result.exit_code == 0 and "Created 0 " in result.output  # the horizon is full
    later = (TODAY + timedelta(days=45)).isoformat()
    result = runner.invoke(args=["inspections", "generate", "--today", later])
    assert result.exit_code == 0, result.output
    with app.app_context():
        after = count(Inspection)
        keys = select(Inspection.plan_id, Inspection.asset_id, Inspection.due_on).distinct()
        assert after > before and count(keys.subquery()) == after
        assert db.session.scalar(select(func.max(Inspection.id))) == after  # the sequence moved
    result = runner.invoke(args=["inspections", "generate", "--today", later])
    assert "Created 0 " in result.output


def test_the_command_refuses_a_database_with_data(app, runner, frozen_clock):
    frozen_clock.set(NOW)
    arguments = ["demo", "province", "--assets", "30", "--inspections", "100", "--seed", "3"]
    result = runner.invoke(args=[*arguments, "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "30 assets, 100 inspections" in result.output and "rows/s" in result.output
    with app.app_context():
        rows = table_digest()
    result = runner.invoke(args=[*arguments, "--today", TODAY.isoformat()])
    assert result.exit_code != 0
    assert "not empty" in result.output
    with app.app_context():
        assert table_digest() == rows


def test_one_row_is_enough_to_refuse(app, runner):
    with app.app_context():
        db.session.add(Contractor(name="Fixers Ltd"))
        db.session.commit()
    result = runner.invoke(args=["demo", "province", "--assets", "30"])
    assert result.exit_code != 0 and "not empty" in result.output
    with app.app_context():
        assert count(Grid) == count(Asset) == count(User) == 0
