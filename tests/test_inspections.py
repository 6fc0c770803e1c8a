"""Inspection plans, idempotent generation, and the one definition of overdue and due soon."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from accounts.models import Contractor
from assets.models import Asset, Grid
from assets.services import asset_by_code, retire_asset
from core.clock import district_today
from core.extensions import db
from core.spatial import point_value
from inspections import services
from inspections.cadence import add_months, occurrences
from inspections.models import Inspection, InspectionPlan, InspectionStatus
from inspections.services import (
    derived_status,
    due_soon_clause,
    generate_inspections,
    is_due_soon,
    is_overdue,
    overdue_clause,
    plan_assets,
    regenerate_plan,
)
from tests.factories import INSIDE_G1_01, blocker_data, charging_station_data, gen_asset

D = date.fromisoformat

# --- Cadence (pure) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2028-01-31", 1, "2028-02-29"),  # leap year
        ("2026-01-31", 2, "2026-03-31"),
        ("2026-01-31", 3, "2026-04-30"),
        ("2026-11-15", 2, "2027-01-15"),  # across the year end
        ("2028-02-29", 12, "2029-02-28"),
        ("2028-02-29", 48, "2032-02-29"),
        ("2026-03-10", -1, "2026-02-10"),
    ],
)
def test_add_months_clamps_to_month_end(anchor, months, expected):
    assert add_months(D(anchor), months) == D(expected)


@pytest.mark.parametrize(
    ("start", "unit", "every", "window", "end_on", "expected"),
    [
        # Monthly from 31 January: computed from the anchor each time, never drifting to the 28th.
        (
            "2026-01-31",
            "month",
            1,
            ("2026-01-01", "2026-06-30"),
            None,
            ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30"],
        ),
        (
            "2028-01-31",
            "month",
            1,
            ("2028-02-01", "2028-03-31"),
            None,
            ["2028-02-29", "2028-03-31"],
        ),
        # "Monthly on the 10th", window starting and ending exactly on occurrences.
        (
            "2026-01-10",
            "month",
            1,
            ("2026-03-10", "2026-05-10"),
            None,
            ["2026-03-10", "2026-04-10", "2026-05-10"],
        ),
        # Window edges just off the occurrences exclude them.
        ("2026-01-10", "month", 1, ("2026-03-11", "2026-05-09"), None, ["2026-04-10"]),
        # The window starts before the plan does.
        (
            "2026-04-05",
            "month",
            1,
            ("2026-01-01", "2026-05-31"),
            None,
            ["2026-04-05", "2026-05-05"],
        ),
        # Quarterly (3 months) and every 2 months.
        (
            "2025-11-30",
            "quarter",
            1,
            ("2026-01-01", "2026-12-31"),
            None,
            ["2026-02-28", "2026-05-30", "2026-08-30", "2026-11-30"],
        ),
        (
            "2026-01-31",
            "month",
            2,
            ("2026-01-01", "2026-07-31"),
            None,
            ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31"],
        ),  # fmt: skip
        # Weeks and days.
        (
            "2026-03-02",
            "week",
            2,
            ("2026-03-10", "2026-04-30"),
            None,
            ["2026-03-16", "2026-03-30", "2026-04-13", "2026-04-27"],
        ),
        (
            "2026-02-27",
            "day",
            1,
            ("2026-02-28", "2026-03-02"),
            None,
            ["2026-02-28", "2026-03-01", "2026-03-02"],
        ),  # fmt: skip
        (
            "2026-01-01",
            "day",
            10,
            ("2026-01-05", "2026-01-31"),
            None,
            ["2026-01-11", "2026-01-21", "2026-01-31"],
        ),  # fmt: skip
        # Yearly from a leap day.
        (
            "2024-02-29",
            "year",
            1,
            ("2025-01-01", "2028-12-31"),
            None,
            ["2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"],
        ),
        # end_on stops the plan (inclusive), whatever the window says.
        (
            "2026-01-10",
            "month",
            1,
            ("2026-01-01", "2026-12-31"),
            "2026-03-10",
            ["2026-01-10", "2026-02-10", "2026-03-10"],
        ),
        (
            "2026-01-10",
            "month",
            1,
            ("2026-01-01", "2026-12-31"),
            "2026-03-09",
            ["2026-01-10", "2026-02-10"],
        ),  # fmt: skip
        # Nothing: window before the start, or after the end.
        ("2026-06-01", "month", 1, ("2026-01-01", "2026-05-31"), None, []),
        ("2026-01-01", "week", 1, ("2026-03-01", "2026-03-31"), "2026-02-01", []),
    ],
)
def test_occurrences(start, unit, every, window, end_on, expected):
    found = occurrences(
        D(start), unit, every, D(window[0]), D(window[1]), D(end_on) if end_on else None
    )
    assert found == [D(day) for day in expected]


def test_occurrences_far_from_anchor_match_stepping_from_the_anchor():
    start = D("2020-01-31")
    every_month = occurrences(start, "month", 1, start, D("2030-12-31"))
    assert len(every_month) == 132
    window = occurrences(start, "month", 1, D("2029-03-01"), D("2029-05-31"))
    assert window == [D("2029-03-31"), D("2029-04-30"), D("2029-05-31")]
    assert window == [day for day in every_month if D("2029-03-01") <= day <= D("2029-05-31")]


@pytest.mark.parametrize(("unit", "every"), [("fortnight", 1), ("month", 0), ("day", -1)])
def test_occurrences_refuse_bad_cadences(unit, every):
    with pytest.raises(ValueError):
        occurrences(D("2026-01-01"), unit, every, D("2026-01-01"), D("2026-12-31"))


# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture
def registry(app, district):
    """Two charging stations in G1-01, one elevator blocker in G2-02, one contractor."""
    with app.app_context():
        gen_asset(charging_station_data(1))
        gen_asset(charging_station_data(2))
        gen_asset(blocker_data(1))
        db.session.add(Contractor(name="Fixers Ltd"))
        db.session.commit()
        yield


def contractor_id() -> int:
    return db.session.scalar(select(Contractor.id).where(Contractor.name == "Fixers Ltd"))


def grid_id(code: str) -> int:
    return db.session.scalar(select(Grid.id).where(Grid.code == code))


def gen_plan(**values) -> InspectionPlan:
    plan = InspectionPlan(
        name=values.pop("name", "Monthly on the 10th"),
        contractor_id=contractor_id(),
        cadence_unit=values.pop("cadence_unit", "month"),
        cadence_every=values.pop("cadence_every", 1),
        start_on=values.pop("start_on", D("2026-01-10")),
        **values,
    )
    db.session.add(plan)
    db.session.flush()
    return plan


def due_dates(plan: InspectionPlan, code: str | None = None) -> list[date]:
    query = select(Inspection.due_on).where(Inspection.plan_id == plan.id)
    if code:
        query = query.where(Inspection.asset_id == asset_by_code(code).id)
    return sorted(db.session.scalars(query))


def inspection_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Inspection))


def planned_codes(plan: InspectionPlan) -> list[str]:
    return [asset.code for asset in db.session.scalars(plan_assets(plan))]


# --- Generation ------------------------------------------------------------------------------


def test_monthly_plan_over_90_days_then_nothing_twice(registry):
    plan = gen_plan(asset_kind="charging_station")
    # Window 2026-03-01 … 2026-05-30: the 10th of March, April and May, for two stations.
    assert generate_inspections(today=D("2026-03-01"), horizon_days=90) == 6
    db.session.commit()
    assert due_dates(plan, "CS-001") == [D("2026-03-10"), D("2026-04-10"), D("2026-05-10")]
    inspection = db.session.scalars(select(Inspection)).first()
    assert inspection.status == InspectionStatus.SCHEDULED
    assert inspection.contractor_id == plan.contractor_id

    assert generate_inspections(today=D("2026-03-01"), horizon_days=90) == 0
    db.session.commit()
    assert inspection_count() == 6
    # The horizon rolls on: a day later only what entered the window is new.
    assert generate_inspections(today=D("2026-03-12"), horizon_days=90) == 2
    assert due_dates(plan, "CS-002")[-1] == D("2026-06-10")


def test_quarterly_plan_over_90_days(registry):
    plan = gen_plan(asset_kind="elevator_blocker", cadence_unit="quarter", start_on=D("2026-01-20"))
    # 2026-04-20 is in the window up to 2026-05-30; 2026-01-20 and 2026-07-20 are not.
    assert generate_inspections(today=D("2026-03-01")) == 1
    assert due_dates(plan) == [D("2026-04-20")]


def test_conflicting_rows_are_ignored_by_the_database(registry, monkeypatch):
    """A second process that did not see the first one's rows inserts nothing twice."""
    gen_plan()
    assert generate_inspections(today=D("2026-03-01")) == 9
    db.session.commit()
    monkeypatch.setattr(services, "_existing_keys", lambda *args: set())
    assert generate_inspections(today=D("2026-03-01")) == 0
    db.session.commit()
    assert inspection_count() == 9


def test_duplicate_plan_asset_due_date_is_refused_by_the_database(registry):
    plan = gen_plan()
    asset_id = asset_by_code("CS-001").id
    values = {"plan_id": plan.id, "asset_id": asset_id, "contractor_id": plan.contractor_id}
    db.session.add(Inspection(due_on=D("2026-03-10"), **values))
    db.session.commit()
    db.session.add(Inspection(due_on=D("2026-03-10"), **values))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert inspection_count() == 1


def test_plan_selects_by_kind_grid_and_list_combined(registry):
    assert planned_codes(gen_plan()) == ["CS-001", "CS-002", "EB-0001"]
    assert planned_codes(gen_plan(asset_kind="elevator_blocker")) == ["EB-0001"]
    # A first-level grid includes its second-level grids.
    assert planned_codes(gen_plan(grid_id=grid_id("G1"))) == ["CS-001", "CS-002"]
    assert planned_codes(gen_plan(grid_id=grid_id("G2-02"))) == ["EB-0001"]
    assert planned_codes(gen_plan(grid_id=grid_id("G2-01"))) == []
    assert planned_codes(gen_plan(asset_codes=["CS-002", "EB-0001"])) == ["CS-002", "EB-0001"]
    # Filters combine with AND.
    assert planned_codes(gen_plan(asset_kind="elevator_blocker", asset_codes=["CS-001"])) == []
    assert planned_codes(gen_plan(grid_id=grid_id("G1"), asset_codes=["CS-002", "EB-0001"])) == [
        "CS-002"
    ]


def test_generation_follows_the_plan_selection(registry):
    by_grid = gen_plan(grid_id=grid_id("G2"))
    by_list = gen_plan(asset_codes=["CS-002"])
    assert generate_inspections(today=D("2026-03-01")) == 6
    assert {inspection.asset.code for inspection in db.session.scalars(select(Inspection))} == {
        "EB-0001",
        "CS-002",
    }
    assert len(due_dates(by_grid)) == len(due_dates(by_list)) == 3


def test_retired_assets_and_inactive_plans_get_nothing(registry):
    retire_asset(asset_by_code("CS-001"))
    plan = gen_plan(asset_kind="charging_station")
    gen_plan(name="Paused", active=False)
    assert generate_inspections(today=D("2026-03-01")) == 3
    assert due_dates(plan, "CS-001") == []
    assert len(due_dates(plan, "CS-002")) == 3


def test_end_on_and_start_on_bound_generation(registry):
    ending = gen_plan(asset_codes=["CS-001"], end_on=D("2026-04-10"))
    starting = gen_plan(asset_codes=["CS-002"], start_on=D("2026-05-01"))
    generate_inspections(today=D("2026-03-01"))
    assert due_dates(ending) == [D("2026-03-10"), D("2026-04-10")]
    assert due_dates(starting) == [D("2026-05-01")]


def test_regeneration_keeps_past_and_completed_inspections(registry):
    plan = gen_plan(asset_codes=["CS-001"])
    generate_inspections(today=D("2026-02-01"))  # 02-10, 03-10, 04-10
    generate_inspections(today=D("2026-03-12"))  # + 05-10, 06-10
    db.session.commit()
    for due_on in (D("2026-02-10"), D("2026-04-10")):  # the second one completed early
        inspection = db.session.scalar(select(Inspection).where(Inspection.due_on == due_on))
        inspection.status = InspectionStatus.COMPLETED
        inspection.completed_at = datetime(2026, 2, 10, 3, 0, tzinfo=UTC)
        inspection.result = "pass"
    db.session.commit()

    plan.start_on = D("2026-01-20")
    result = regenerate_plan(plan, today=D("2026-03-12"))
    db.session.commit()

    assert result.removed == 2  # 05-10 and 06-10
    assert result.created == 3  # 03-20, 04-20, 05-20
    kept = {
        inspection.due_on: inspection.status
        for inspection in db.session.scalars(
            select(Inspection).where(Inspection.plan_id == plan.id)
        )
    }
    assert kept == {
        D("2026-02-10"): "completed",
        D("2026-03-10"): "scheduled",  # past, overdue: kept for the record
        D("2026-04-10"): "completed",
        D("2026-03-20"): "scheduled",
        D("2026-04-20"): "scheduled",
        D("2026-05-20"): "scheduled",
    }


def test_generation_defaults_to_the_district_today(registry, frozen_clock):
    frozen_clock.set(datetime(2026, 3, 9, 16, 0, tzinfo=UTC))
    plan = gen_plan(asset_codes=["CS-001"], cadence_unit="day", start_on=D("2026-01-01"))
    assert generate_inspections(horizon_days=0) == 1
    assert due_dates(plan) == [D("2026-03-10")]  # Shanghai's today, not UTC's 2026-03-09


# --- Overdue and due soon ---------------------------------------------------------------------


BOUNDARY_CASES = {
    # due on, stored status: derived at 15:59 UTC (Shanghai 03-09) and 16:00 UTC (Shanghai 03-10)
    ("2026-03-08", "scheduled"): ("overdue", "overdue"),
    ("2026-03-09", "scheduled"): ("due_soon", "overdue"),
    ("2026-03-16", "scheduled"): ("due_soon", "due_soon"),
    ("2026-03-17", "scheduled"): ("scheduled", "due_soon"),
    ("2026-03-18", "scheduled"): ("scheduled", "scheduled"),
    ("2026-03-01", "completed"): ("completed", "completed"),
    ("2026-03-09", "cancelled"): ("cancelled", "cancelled"),
}


@pytest.mark.parametrize(
    ("now", "column"),
    [
        (datetime(2026, 3, 9, 15, 59, 59, tzinfo=UTC), 0),
        (datetime(2026, 3, 9, 16, 0, tzinfo=UTC), 1),
    ],
)
def test_overdue_and_due_soon_agree_in_python_and_sql_at_the_day_boundary(
    registry, frozen_clock, now, column
):
    asset_id = asset_by_code("CS-001").id
    for due_on, status in BOUNDARY_CASES:
        db.session.add(
            Inspection(
                asset_id=asset_id, contractor_id=contractor_id(), due_on=D(due_on), status=status
            )
        )
    db.session.commit()
    frozen_clock.set(now)
    assert district_today() == D("2026-03-09") + (D("2026-03-10") - D("2026-03-09")) * column

    inspections = list(db.session.scalars(select(Inspection)))
    for inspection in inspections:
        expected = BOUNDARY_CASES[(inspection.due_on.isoformat(), inspection.status)][column]
        assert derived_status(inspection) == expected, inspection.due_on

    overdue_sql = set(db.session.scalars(select(Inspection.id).where(overdue_clause())))
    due_soon_sql = set(db.session.scalars(select(Inspection.id).where(due_soon_clause())))
    assert overdue_sql == {i.id for i in inspections if is_overdue(i)}
    assert due_soon_sql == {i.id for i in inspections if is_due_soon(i)}
    assert len(overdue_sql) == [1, 2][column]
    assert len(due_soon_sql) == [2, 2][column]
    assert not overdue_sql & due_soon_sql


# --- CLI --------------------------------------------------------------------------------------


@pytest.fixture
def cli_runner(runner):
    return runner


def test_cli_generate(app, registry, cli_runner):
    with app.app_context():
        gen_plan(asset_kind="charging_station")
        db.session.commit()
    args = ["inspections", "generate", "--today", "2026-03-01"]
    result = cli_runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "Created 6 inspection(s) over the next 90 days." in result.output
    result = cli_runner.invoke(args=[*args, "--horizon-days", "120"])
    assert result.exit_code == 0, result.output
    assert "Created 2 inspection(s) over the next 120 days." in result.output
    with app.app_context():
        assert inspection_count() == 8


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--today", "2026-02-30"], "'2026-02-30' is not a date (YYYY-MM-DD)"),
        (["--today", "next monday"], "is not a date"),
        (["--horizon-days", "-1"], "--horizon-days"),
    ],
)
def test_cli_generate_refuses_bad_input(app, registry, cli_runner, args, message):
    with app.app_context():
        gen_plan()
        db.session.commit()
    result = cli_runner.invoke(args=["inspections", "generate", *args])
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert inspection_count() == 0


# --- Generation over many assets ----------------------------------------------------------------


def add_many_assets(count: int) -> list[dict]:
    """``count`` assets of both kinds, over three second-level grids, every seventh retired."""
    grids = [grid_id("G1-01"), grid_id("G1-02"), grid_id("G2-01")]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "code": f"CS-{number:04d}" if number % 2 else f"EB-{number:05d}",
            "kind": "charging_station" if number % 2 else "elevator_blocker",
            "name": f"Asset {number}",
            "location": point_value(*INSIDE_G1_01),
            "grid_id": grids[number % 3],
            "status": "retired" if number % 7 == 0 else "active",
            "attributes": {},
            "created_at": now,
            "updated_at": now,
        }
        for number in range(1, count + 1)
    ]
    db.session.execute(insert(Asset.__table__), rows)
    ids = dict(db.session.execute(select(Asset.code, Asset.id)).all())
    return [{**row, "id": ids[row["code"]]} for row in rows]


def test_plan_over_many_assets_generates_exactly_the_expected_set(app, district):
    with app.app_context():
        db.session.add(Contractor(name="Fixers Ltd"))
        assets = add_many_assets(600)
        plan = gen_plan(asset_kind="charging_station", grid_id=grid_id("G1"))
        in_g1 = {grid_id("G1-01"), grid_id("G1-02")}
        covered = [
            row["id"]
            for row in assets
            if row["kind"] == "charging_station"
            and row["grid_id"] in in_g1
            and row["status"] != "retired"
        ]
        dates = [D("2026-03-10"), D("2026-04-10"), D("2026-05-10")]
        expected = {(asset_id, due_on) for asset_id in covered for due_on in dates}
        # Some are there already (one completed): generation skips them and counts the rest.
        present = sorted(expected)[::25]
        for asset_id, due_on in present:
            db.session.add(
                Inspection(
                    plan_id=plan.id,
                    asset_id=asset_id,
                    contractor_id=plan.contractor_id,
                    due_on=due_on,
                    status="completed" if asset_id == present[0][0] else "scheduled",
                )
            )
        db.session.commit()

        assert generate_inspections(today=D("2026-03-01")) == len(expected) - len(present)
        db.session.commit()
        rows = db.session.execute(
            select(
                Inspection.asset_id,
                Inspection.due_on,
                Inspection.status,
                Inspection.contractor_id,
                Inspection.created_at,
            ).where(Inspection.plan_id == plan.id)
        ).all()
        assert {(row.asset_id, row.due_on) for row in rows} == expected
        assert len(rows) == len(expected)  # each once
        assert {row.contractor_id for row in rows} == {plan.contractor_id}
        new = [row for row in rows if (row.asset_id, row.due_on) not in set(present)]
        assert {row.status for row in new} == {"scheduled"}
        assert all(row.created_at.tzinfo is not None for row in new)
        assert inspection_count() == len(expected)

        assert generate_inspections(today=D("2026-03-01")) == 0
        db.session.commit()
        assert inspection_count() == len(expected)
