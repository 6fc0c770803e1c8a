"""Latency of the inspection list (first page, one contractor: overdue only, and everything
most urgent first), of a contractor's home (its open work) and of the dashboard counts.

Usage: .venv/bin/python bench/bench_inspections.py [--assets 100000] [--inspections 1000000]
       [--contractors 5] [--runs 25] [--backends spatialite,postgis]
(BENCH_POSTGIS_URL names another PostGIS database, say when several people bench at once.)

Each backend gets a fresh migrated database (SpatiaLite: a file in a temporary directory;
PostGIS: the database ``bench_inspections``) holding 100k assets, 1M inspections over two
years of due dates split unevenly between the contractors (most completed, some cancelled,
a few percent overdue, the last 90 days' worth scheduled ahead) and 10k hazards, all through
``core.spatial.bulk_insert``. Every timed item is a small named callable in TIMED; each is
warmed up, then the median of ``--runs`` runs is printed. Target: each under 50 ms median.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from accounts.models import Contractor, User  # noqa: E402
from accounts.services import create_user  # noqa: E402
from app import create_app  # noqa: E402
from assets.models import Asset  # noqa: E402
from core.extensions import db  # noqa: E402
from core.paging import page_of_parts  # noqa: E402
from core.spatial import bulk_insert, deferred_spatial_index, point_value  # noqa: E402
from dashboard import overdue as late  # noqa: E402
from dashboard import stats  # noqa: E402
from dashboard import trend as weekly  # noqa: E402
from dashboard.work import open_work  # noqa: E402
from hazards.models import Hazard  # noqa: E402
from inspections.models import Inspection, InspectionPlan  # noqa: E402
from inspections.results import InspectionFilters, inspection_query, list_parts  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = os.environ.get(
    "BENCH_POSTGIS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_inspections"
)
TODAY = date(2026, 3, 1)
HISTORY_DAYS = 2 * 365 - 90  # due dates from here up to TODAY + 90: two years in all
AHEAD_DAYS = 90
# Contractors' shares of the assets: one big, a few small (``--contractors`` takes the first).
SHARES = (0.40, 0.25, 0.15, 0.12, 0.08)
OVERDUE_RATE, CANCELLED_RATE, FAIL_RATE = 0.015, 0.005, 0.03
HAZARDS = 10_000
PAGE = 50
TARGET_MS = 50.0
CHUNK = 100_000


# --- Seeding -------------------------------------------------------------------------------


def database_url(backend: str, directory: Path) -> str:
    if backend == "spatialite":
        return f"sqlite:///{directory / 'bench.sqlite'}"
    if backend == "postgis":
        return recreate_postgis_database(POSTGIS_URL)
    raise SystemExit(f"unknown backend {backend!r}")


def chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    while batch := [row for _, row in zip(range(size), rows, strict=False)]:
        yield batch


def asset_rows(count: int, now: datetime) -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    for number in range(1, count + 1):
        yield {
            "code": f"EB-{number:06d}",
            "kind": "elevator_blocker",
            "name": f"Blocker {number}",
            "location": point_value(
                round(rng.uniform(119.1001, 119.2999), 6), round(rng.uniform(36.7001, 36.7599), 6)
            ),
            "status": "active",
            "attributes": {},
            "created_at": now,
            "updated_at": now,
        }


def add_assets(count: int, now: datetime) -> list[int]:
    with deferred_spatial_index(db.session, "assets", "location"):
        for batch in chunks(asset_rows(count, now)):
            bulk_insert(db.session, Asset.__table__, batch)
    return list(db.session.scalars(select(Asset.id).order_by(Asset.id)))


def add_contractors_and_plans(count: int) -> list[tuple[int, int]]:
    """(contractor id, plan id) for each contractor."""
    pairs = []
    for number in range(1, count + 1):
        contractor = Contractor(name=f"Bench Fire Services {number}")
        db.session.add(contractor)
        db.session.flush()
        plan = InspectionPlan(
            name=f"Bench plan {number}",
            contractor_id=contractor.id,
            cadence_unit="day",
            cadence_every=73,
            start_on=TODAY - timedelta(days=HISTORY_DAYS),
        )
        db.session.add(plan)
        db.session.flush()
        pairs.append((contractor.id, plan.id))
    return pairs


@dataclass
class Seeded:
    contractors: list[int]  # biggest first
    inspections: int


def inspection_rows(
    asset_ids: list[int], pairs: list[tuple[int, int]], total: int, now: datetime
) -> Iterator[dict[str, Any]]:
    """``total // len(asset_ids)`` due dates per asset, evenly over two years, each asset at
    its own phase; past ones mostly completed (some late, a few failed), some cancelled, a
    few percent overdue; future ones scheduled."""
    rng = random.Random(11)
    per_asset = max(1, total // len(asset_ids))
    span = HISTORY_DAYS + AHEAD_DAYS
    step = span / per_asset
    shares = SHARES[: len(pairs)]
    first = TODAY - timedelta(days=HISTORY_DAYS)
    for asset_id in asset_ids:
        contractor_id, plan_id = rng.choices(pairs, weights=shares)[0]
        phase = rng.uniform(0, step)
        for k in range(per_asset):
            due_on = first + timedelta(days=int(phase + k * step))
            row = {
                "plan_id": plan_id,
                "asset_id": asset_id,
                "contractor_id": contractor_id,
                "due_on": due_on,
                "status": "scheduled",
                "completed_at": None,
                "result": None,
                "flagged": False,
                "cancelled_reason": None,
                "created_at": now,
            }
            if due_on < TODAY:
                draw = rng.random()
                if draw < CANCELLED_RATE:
                    row.update(status="cancelled", cancelled_reason="bench")
                elif draw >= CANCELLED_RATE + OVERDUE_RATE:
                    day = due_on + timedelta(days=rng.randint(-4, 6))
                    row.update(
                        status="completed",
                        completed_at=datetime(day.year, day.month, day.day, 3, tzinfo=UTC),
                        result="fail" if rng.random() < FAIL_RATE else "pass",
                    )
            yield row


def hazard_rows(asset_ids: list[int], now: datetime) -> Iterator[dict[str, Any]]:
    rng = random.Random(13)
    for number in range(1, HAZARDS + 1):
        found_on = TODAY - timedelta(days=rng.randint(0, HISTORY_DAYS))
        severity = "major" if rng.random() < 0.15 else "general"
        age = (TODAY - found_on).days
        status = "verified" if age > 60 or rng.random() < 0.3 else rng.choice(
            ("open", "rectifying", "rectified")
        )  # fmt: skip
        yield {
            "code": f"HZ-{found_on.year}-B{number:05d}",
            "category": "blocker_fault",
            "severity": severity,
            "description": "bench",
            "location": point_value(119.2, 36.73),
            "asset_id": rng.choice(asset_ids),
            "found_on": found_on,
            "deadline": found_on + timedelta(days=7 if severity == "major" else 30),
            "status": status,
            "status_changed_at": now,
            "created_at": now,
            "updated_at": now,
        }


def seed(assets: int, inspections: int, contractors: int) -> Seeded:
    now = datetime.now(UTC)
    asset_ids = add_assets(assets, now)
    pairs = add_contractors_and_plans(contractors)
    for batch in chunks(inspection_rows(asset_ids, pairs, inspections, now)):
        bulk_insert(db.session, Inspection.__table__, batch)
    with deferred_spatial_index(db.session, "hazards", "location"):
        bulk_insert(db.session, Hazard.__table__, list(hazard_rows(asset_ids, now)))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # what autovacuum does on a live server
        autocommit = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as connection:
            connection.execute(text("VACUUM ANALYZE"))
    count = db.session.scalar(select(func.count()).select_from(Inspection))
    return Seeded(contractors=[contractor for contractor, _ in pairs], inspections=count)


# --- What is timed -------------------------------------------------------------------------
#
def officer() -> User:
    """The staff user the pages run as (sees every contractor's inspections)."""
    user = db.session.scalar(select(User).where(User.email == "bench-officer@example.org"))
    if user is None:
        user = create_user("bench-officer@example.org", "bench officer 123", "officer")
        db.session.commit()
    return user


def list_first_page(contractor_id: int, status: str | None = None, sort: str | None = None):
    """What ``/inspections/?contractor=<name>[&status=…][&sort=…]`` runs (by default the
    most urgent first): the counts and the first page of inspections with their assets, grids
    and contractor."""
    name = db.session.get(Contractor, contractor_id).name
    filters = InspectionFilters(status=status, contractor=name)
    parts = list_parts(inspection_query(officer(), filters, today=TODAY), sort)
    options = (
        selectinload(Inspection.asset).selectinload(Asset.grid),
        selectinload(Inspection.contractor),
    )
    page = page_of_parts(parts, Inspection.id, 1, PAGE, options).items
    db.session.expunge_all()  # each run loads afresh, as each request does
    return page


def overdue_first_page(contractor_id: int) -> list:
    """(a) ``/inspections/?status=overdue&contractor=<name>``."""
    return list_first_page(contractor_id, "overdue")


def contractor_user(contractor_id: int) -> User:
    email = f"bench-contractor-{contractor_id}@example.org"
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        name = db.session.get(Contractor, contractor_id).name
        user = create_user(email, "bench contractor 123", "contractor", contractor_name=name)
        db.session.commit()
    return user


def contractor_home(contractor_id: int):
    """(c) A contractor's home (``/``): its overdue work and the next 7 days'."""
    work = open_work(contractor_user(contractor_id), TODAY)
    db.session.expunge_all()
    return work


def dashboard_counts() -> dict[str, Any]:
    """(b) Every number of the dashboard's inspection and hazard panels (``dashboard.stats``),
    as the dashboard computes them for an officer."""
    user = officer()
    by_grid, by_subgrid = stats.on_time_by_grid_levels(TODAY, user)
    numbers = {
        "overdue": stats.overdue_count(TODAY, user),
        "due_soon": stats.due_soon_count(TODAY, user),
        "on_time_by_contractor": stats.on_time_by_contractor(TODAY, user),
        "on_time_by_grid": by_grid,
        "open_hazards": stats.open_hazards_by_severity(user),
        "hazards_by_age": stats.open_hazards_by_age(TODAY, user),
        "overdue_hazards": stats.overdue_hazard_count(TODAY, user),
    }
    db.session.commit()  # as the dashboard does: keeps the rolled-up on-time totals
    return numbers


def dashboard_overdue_panels() -> dict[str, Any]:
    """(b) The dashboard's overdue panels (``dashboard.overdue``) for an officer: per grid,
    the queue, the oldest overdue items and the 12-week trend."""
    user = officer()
    panels = {
        "by_grid": late.overdue_by_grid(TODAY, user),
        "late": late.overdue_inspections(TODAY, user, more_than_days=14),
        "verify": late.awaiting_verification(TODAY, user),
        "returned": late.returned_hazards(TODAY, user),
        "oldest": late.overdue_inspections(TODAY, user),
        "oldest_hazards": late.overdue_hazards(TODAY, user),
    }
    db.session.commit()
    return panels


def dashboard_trend() -> list:
    """(b) The dashboard's 12-week overdue trend: the past Sundays from their roll-up, today
    counted."""
    trend = weekly.overdue_trend(TODAY, officer())
    db.session.commit()
    return trend


def first_dashboard_ms() -> float:
    """The first dashboard of the day rolls up the window's on-time totals: timed once."""
    started = time.perf_counter()
    dashboard_counts()
    return (time.perf_counter() - started) * 1000


def first_trend_ms() -> float:
    """The first trend after a change to past weeks rolls the 11 past Sundays up: timed once."""
    started = time.perf_counter()
    dashboard_trend()
    return (time.perf_counter() - started) * 1000


def timed_items(seeded: Seeded) -> list[tuple[str, Callable[[], Any]]]:
    biggest, smallest = seeded.contractors[0], seeded.contractors[-1]
    return [
        ("overdue list p.1, biggest contractor", lambda: overdue_first_page(biggest)),
        ("overdue list p.1, smallest contractor", lambda: overdue_first_page(smallest)),
        ("whole list p.1 (most urgent first), biggest", lambda: list_first_page(biggest)),
        (
            "whole list p.1 (latest due first), biggest",
            lambda: list_first_page(biggest, None, "-due"),
        ),
        ("contractor's home, biggest contractor", lambda: contractor_home(biggest)),
        ("dashboard counts", dashboard_counts),
        ("dashboard overdue panels", dashboard_overdue_panels),
        ("dashboard 12-week trend", dashboard_trend),
    ]


# --- Running -------------------------------------------------------------------------------


def median_ms(action: Callable[[], Any], runs: int) -> float:
    for _ in range(3):
        action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def check(seeded: Seeded) -> str:
    """A line showing the seeded data is what it claims, and the timed items return rows."""
    page = overdue_first_page(seeded.contractors[0])
    assert len(page) == PAGE, len(page)
    assert all(inspection.due_on < TODAY for inspection in page)
    urgent = list_first_page(seeded.contractors[0])  # open work first: the overdue, oldest first
    assert [row.due_on for row in urgent] == [row.due_on for row in page]
    home = contractor_home(seeded.contractors[0])
    assert home.now and home.coming
    counts = dashboard_counts()
    assert counts["overdue"] > 0 and counts["due_soon"] > 0 and counts["open_hazards"]
    assert counts["on_time_by_contractor"] and counts["on_time_by_grid"]
    summary = {key: counts[key] for key in ("overdue", "due_soon", "open_hazards")}
    shown = len(home.now) + sum(len(day.items) for day in home.coming)
    return f"{seeded.inspections} inspections; home shows {shown}; dashboard {summary}"


def bench(backend: str, directory: Path, args: argparse.Namespace) -> list[tuple[str, float]]:
    app = create_app(test_config(database_url(backend, directory), TESTING=False))
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        seeded = seed(args.assets, args.inspections, args.contractors)
        print(f"{backend}: seeded in {time.perf_counter() - started:.0f} s")
        print(f"{backend}: first dashboard of the day {first_dashboard_ms():.0f} ms (rolls up)")
        print(f"{backend}: {check(seeded)}")
        print(f"{backend}: first 12-week trend {first_trend_ms():.0f} ms (rolls up past weeks)")
        results = [(name, median_ms(action, args.runs)) for name, action in timed_items(seeded)]
        db.session.remove()
        db.engine.dispose()
    return results


def drop_postgis() -> None:
    target = make_url(POSTGIS_URL)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--inspections", type=int, default=1_000_000)
    parser.add_argument("--contractors", type=int, choices=range(2, 6), default=5)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--backends", default="spatialite,postgis")
    args = parser.parse_args()
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    results = []
    with tempfile.TemporaryDirectory() as temp:
        try:
            for backend in backends:
                results.append((backend, bench(backend, Path(temp), args)))
        finally:
            if "postgis" in backends:
                drop_postgis()
    print(
        f"{args.assets} assets, {args.inspections} inspections, {args.contractors} contractors; "
        f"median of {args.runs} runs after a warm-up; target {TARGET_MS:.0f} ms"
    )
    for backend, timings in results:
        for name, ms in timings:
            verdict = "ok" if ms < TARGET_MS else "OVER TARGET"
            print(f"  {backend:<11} {name:<40} {ms:>8.2f} ms  {verdict}")


if __name__ == "__main__":
    main()
