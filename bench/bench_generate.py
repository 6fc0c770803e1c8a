"""Time `inspections generate` over 100k assets and a 90-day horizon, then a second run.

Usage: .venv/bin/python bench/bench_generate.py [--assets 100000] [--backends spatialite,postgis]

One monthly plan covers every asset (3 due dates each in 90 days: ~300k inspections), the
worst realistic case; the second run finds everything present and must create nothing.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from accounts.models import Contractor  # noqa: E402
from app import create_app  # noqa: E402
from assets.models import Asset  # noqa: E402
from core.clock import now_utc  # noqa: E402
from core.extensions import db  # noqa: E402
from core.spatial import deferred_spatial_index, point_value  # noqa: E402
from inspections.models import Inspection, InspectionPlan  # noqa: E402
from inspections.services import generate_inspections  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_generate"
TODAY = date(2026, 3, 1)


def database_url(backend: str, directory: Path) -> str:
    if backend == "spatialite":
        return f"sqlite:///{directory / 'bench.sqlite'}"
    return recreate_postgis_database(POSTGIS_URL)


def add_assets(count: int) -> None:
    rng = random.Random(7)
    now = now_utc()
    rows = [
        {
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
        for number in range(1, count + 1)
    ]
    with deferred_spatial_index(db.session, "assets", "location"):
        for start in range(0, len(rows), 10_000):
            db.session.execute(insert(Asset.__table__), rows[start : start + 10_000])


def bench(backend: str, assets: int, directory: Path) -> tuple[float, float, int]:
    app = create_app(test_config(database_url(backend, directory), TESTING=False))
    with app.app_context():
        upgrade()
        add_assets(assets)
        contractor = Contractor(name="Bench Fire Services")
        db.session.add(contractor)
        db.session.flush()
        db.session.add(
            InspectionPlan(
                name="Every asset monthly",
                contractor_id=contractor.id,
                cadence_unit="month",
                cadence_every=1,
                start_on=date(2026, 1, 10),
            )
        )
        db.session.commit()
        started = time.perf_counter()
        created = generate_inspections(today=TODAY)
        db.session.commit()
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = generate_inspections(today=TODAY)
        db.session.commit()
        second = time.perf_counter() - started
        assert again == 0, again
        total = db.session.scalar(select(func.count()).select_from(Inspection))
        assert total == created, (total, created)
        db.session.remove()
        db.engine.dispose()
    return first, second, created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--backends", default="spatialite,postgis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for backend in args.backends.split(","):
            first, second, created = bench(backend, args.assets, Path(directory))
            print(
                f"{backend}: {created} inspections for {args.assets} assets in {first:.1f} s; "
                f"second run (nothing to do) {second:.2f} s"
            )


if __name__ == "__main__":
    main()
