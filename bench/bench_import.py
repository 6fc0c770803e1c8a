"""Time `assets import` of a large CSV on fresh migrated databases, per backend.

Usage: .venv/bin/python bench/bench_import.py [--rows 100000] [--backends spatialite,postgis]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from assets.io import csv_columns, import_assets  # noqa: E402
from assets.models import Asset  # noqa: E402
from core.extensions import db  # noqa: E402
from demo.district import SITE_NAMES, add_companies_and_sites, add_grids, demo_plan  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sar_bench_import"


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(7)
    columns = csv_columns()
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        for number in range(1, rows + 1):
            row = {
                "name": f"资产 {number}",
                "longitude": repr(round(rng.uniform(119.1001, 119.2999), 6)),
                "latitude": repr(round(rng.uniform(36.7001, 36.7599), 6)),
                "site": rng.choice(SITE_NAMES),
                "installed_on": "2024-05-01",
                "manufacturer": "潍坊梯安电子有限公司",
            }
            if number % 5 == 0:
                row.update(
                    code=f"CS-{number:06d}", kind="charging_station", ports="12", canopy="true"
                )
            else:
                row.update(
                    code=f"EB-{number:06d}",
                    kind="elevator_blocker",
                    building=str(number % 30 + 1),
                    unit="1",
                    elevator_number="2",
                    detection_method="ai_camera",
                )
            writer.writerow(row)


def database_url(backend: str, directory: Path) -> str:
    if backend == "spatialite":
        return f"sqlite:///{directory / 'bench.sqlite'}"
    return recreate_postgis_database(POSTGIS_URL)


def bench(backend: str, csv_path: Path, directory: Path) -> float:
    app = create_app(test_config(database_url(backend, directory), TESTING=False))
    with app.app_context():
        upgrade()
        plan = demo_plan()
        add_grids(plan.grids)
        add_companies_and_sites(plan)
        db.session.commit()
        started = time.perf_counter()
        result = import_assets(csv_path)
        elapsed = time.perf_counter() - started
        assert not result.problems, result.problems[:5]
        assert db.session.scalar(select(func.count()).select_from(Asset)) == result.imported
        db.session.remove()
        db.engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="spatialite,postgis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        csv_path = directory / "assets.csv"
        write_csv(csv_path, args.rows)
        for backend in args.backends.split(","):
            seconds = bench(backend.strip(), csv_path, directory)
            print(f"{backend}: imported {args.rows} assets in {seconds:.2f} s")
        if "postgis" in args.backends:
            drop_postgis()


def drop_postgis() -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(POSTGIS_URL)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    main()
