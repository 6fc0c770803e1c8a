"""Time composing the weekly alert: 100k assets, 1M inspections (10k overdue), 50 recipients.

Usage: .venv/bin/python bench/bench_alerts.py [--assets 100000] [--backends spatialite,postgis]

Each backend's database is filled first; the weekly run is then measured in a fresh process
(so the fill does not count towards its memory): reading what is overdue and rendering every
recipient's email in both parts, SMTP excluded. Recipients: 10 officers and admins (half in
each language), 10 contractors with a contact address and one user each, 20 grid leaders.
Memory is the measuring process's peak resident size (``getrusage``), Python included.
Targets: under 10 s and under 500 MB per backend.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from geoalchemy2 import WKTElement  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from accounts.models import Contractor, User  # noqa: E402
from app import create_app  # noqa: E402
from assets.models import Asset, Grid  # noqa: E402
from core import clock  # noqa: E402
from core.clock import now_utc  # noqa: E402
from core.extensions import db  # noqa: E402
from core.spatial import bulk_insert, deferred_spatial_index, point_value  # noqa: E402
from hazards.models import Hazard  # noqa: E402
from inspections.models import Inspection  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_alerts"
TODAY = date(2026, 3, 16)  # a Monday
NOW = datetime(2026, 3, 16, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai
INSPECTIONS_PER_ASSET = 10
OVERDUE = 10_000
CONTRACTORS = 10
STAFF = 10
CHUNK = 50_000
NO_LOGIN = "!"  # not a password hash: these accounts cannot sign in


def database_url(backend: str, directory: Path) -> str:
    if backend == "spatialite":
        return f"sqlite:///{directory / 'bench_alerts.sqlite'}"
    return recreate_postgis_database(POSTGIS_URL)


def bench_app(url: str):
    return create_app(test_config(url, TESTING=False, BASE_URL="https://registry.example.org"))


def polygon(min_lon, min_lat, max_lon, max_lat) -> WKTElement:
    wkt = (
        f"POLYGON(({min_lon} {min_lat}, {max_lon} {min_lat}, {max_lon} {max_lat}, "
        f"{min_lon} {max_lat}, {min_lon} {min_lat}))"
    )
    return WKTElement(wkt, srid=4326)


def add_grids() -> list[int]:
    """3 first-level grids, 20 second-level grids with a leader each; their ids."""
    parents = []
    for index in range(3):
        grid = Grid(
            code=f"G{index + 1}",
            name=f"Grid {index + 1}",
            level=1,
            boundary=polygon(119.1 + index * 0.07, 36.70, 119.1 + (index + 1) * 0.07, 36.76),
        )
        db.session.add(grid)
        parents.append(grid)
    db.session.flush()
    children = []
    for index in range(20):
        lon = 119.1 + index * 0.01
        grid = Grid(
            code=f"G{index % 3 + 1}-{index + 1:02d}",
            name=f"Grid {index + 1}",
            level=2,
            parent_id=parents[index % 3].id,
            boundary=polygon(lon, 36.70, lon + 0.01, 36.76),
            leader_email=f"leader{index + 1}@example.org",
        )
        db.session.add(grid)
        children.append(grid)
    db.session.flush()
    return [grid.id for grid in children]


def add_people() -> list[int]:
    contractors = []
    for index in range(CONTRACTORS):
        contractor = Contractor(
            name=f"Contractor {index + 1}", contact_email=f"office{index + 1}@contractor.example"
        )
        db.session.add(contractor)
        contractors.append(contractor)
    db.session.flush()
    users = [
        User(
            email=f"staff{index + 1}@example.org",
            password_hash=NO_LOGIN,
            role="officer" if index % 2 else "admin",
            locale="zh" if index % 2 else "en",
        )
        for index in range(STAFF)
    ] + [
        User(
            email=f"worker{index + 1}@contractor.example",
            password_hash=NO_LOGIN,
            role="contractor",
            contractor_id=contractor.id,
        )
        for index, contractor in enumerate(contractors)
    ]
    db.session.add_all(users)
    db.session.flush()
    return [contractor.id for contractor in contractors]


def add_assets(count: int, grid_ids: list[int], rng: random.Random) -> None:
    now = now_utc()
    with deferred_spatial_index(db.session, "assets", "location"):
        for start in range(1, count + 1, CHUNK):
            rows = [
                {
                    "code": f"EB-{number:06d}",
                    "kind": "elevator_blocker",
                    "name": f"Blocker {number}",
                    "location": point_value(
                        round(rng.uniform(119.1001, 119.2999), 6),
                        round(rng.uniform(36.7001, 36.7599), 6),
                    ),
                    "grid_id": rng.choice(grid_ids),
                    "status": "active",
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for number in range(start, min(start + CHUNK, count + 1))
            ]
            db.session.execute(insert(Asset.__table__), rows)


def add_inspections(assets: int, contractor_ids: list[int], rng: random.Random) -> None:
    """Per asset: 9 past inspections (completed, except one for the first 10k assets, left
    scheduled: overdue) and one scheduled in the future."""
    now = now_utc()
    overdue_assets = set(rng.sample(range(1, assets + 1), min(OVERDUE, assets)))
    rows = []
    for asset_id in range(1, assets + 1):
        contractor_id = contractor_ids[asset_id % len(contractor_ids)]
        for step in range(INSPECTIONS_PER_ASSET):
            due_on = TODAY + timedelta(days=30 * (step - INSPECTIONS_PER_ASSET + 1) - 3)
            future = step == INSPECTIONS_PER_ASSET - 1
            if future:
                due_on = TODAY + timedelta(days=20)
            overdue = asset_id in overdue_assets and step == INSPECTIONS_PER_ASSET - 2
            scheduled = future or overdue
            rows.append(
                {
                    "asset_id": asset_id,
                    "contractor_id": contractor_id,
                    "due_on": due_on,
                    "status": "scheduled" if scheduled else "completed",
                    "result": None if scheduled else "pass",
                    "completed_at": None if scheduled else now,
                    "flagged": False,
                    "created_at": now,
                }
            )
        if len(rows) >= CHUNK:
            bulk_insert(db.session, Inspection.__table__, rows)
            rows = []
    bulk_insert(db.session, Inspection.__table__, rows)


def add_hazards(grid_ids: list[int], rng: random.Random) -> None:
    for number in range(1, 201):
        db.session.add(
            Hazard(
                code=f"HZ-2026-{number:04d}",
                category="blocked_exit",
                severity="general",
                description=f"Corridor blocked, finding {number}",
                location=point_value(119.15, 36.72),
                grid_id=rng.choice(grid_ids),
                found_on=date(2026, 1, 5),
                deadline=date(2026, 2, 4),
                status="open",
            )
        )


def fill(url: str, assets: int) -> float:
    started = time.perf_counter()
    app = bench_app(url)
    rng = random.Random(7)
    with app.app_context():
        upgrade()
        grid_ids = add_grids()
        contractor_ids = add_people()
        add_assets(assets, grid_ids, rng)
        db.session.commit()
        add_inspections(assets, contractor_ids, rng)
        add_hazards(grid_ids, rng)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return time.perf_counter() - started


def measure(url: str, max_rows: str) -> None:
    """In a fresh process: the weekly run's reading and composing, timed, peak memory."""
    from alerts.services import compose_weekly, overdue_snapshot

    clock.now_utc = lambda: NOW
    app = bench_app(url)
    app.config["ALERT_MAX_ROWS"] = None if max_rows == "all" else int(max_rows)
    with app.app_context():
        baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        snapshot = overdue_snapshot()
        read = time.perf_counter() - started
        emails = compose_weekly(snapshot)
        total = time.perf_counter() - started
        size = sum(len(email.text) + len(email.html) for email in emails)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{len(snapshot.inspections)} overdue inspections, {len(snapshot.hazards)} hazards;"
            f" {len(emails)} emails ({size / 1e6:.1f} MB of bodies) in {total:.2f} s"
            f" (reading {read:.2f} s); peak memory {peak_mb:.0f} MB"
            f" (the app alone: {baseline_mb:.0f} MB)"
        )
        assert len(snapshot.inspections) == OVERDUE, len(snapshot.inspections)
        assert len(emails) == 50, len(emails)
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--backends", default="spatialite,postgis")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--max-rows", default="1000", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.max_rows)
        return
    with tempfile.TemporaryDirectory() as directory:
        for backend in args.backends.split(","):
            url = database_url(backend, Path(directory))
            seconds = fill(url, args.assets)
            print(
                f"{backend}: filled {args.assets} assets, "
                f"{args.assets * INSPECTIONS_PER_ASSET} inspections in {seconds:.0f} s"
            )
            for max_rows in ("1000", "all"):
                print(f"{backend} (rows listed per email: {max_rows}): ", end="", flush=True)
                command = [sys.executable, __file__, "--measure", url, "--max-rows", max_rows]
                subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
