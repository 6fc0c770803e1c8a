"""Load a synthetic province (``demo.province``) into a new, migrated database per backend:
time and rows per second, and how much of it is generating the rows in Python.

Usage: .venv/bin/python bench/bench_province_load.py [--assets 100000] [--per-asset 10]
           [--backends spatialite,postgis] [--seed S]

For each backend: the load (COPY on PostGIS, executemany with deferred spatial indexes on
SpatiaLite; sequences, ANALYZE and the dashboard's roll-ups included, shown apart), then the
same rows generated again without a database (the Python share). The PostGIS database is
``bench_province`` on 127.0.0.1:5432, created and dropped here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import create_app  # noqa: E402
from core.extensions import db  # noqa: E402
from demo.province import Province, load_province  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_province"


def database_url(backend: str, directory: Path) -> str:
    if backend == "spatialite":
        return f"sqlite:///{directory / 'province.sqlite'}"
    return recreate_postgis_database(POSTGIS_URL)


def drop_postgis_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def bench(backend: str, assets: int, per_asset: int, seed: int, directory: Path) -> None:
    url = database_url(backend, directory)
    app = create_app(test_config(url, PHOTO_DIR=str(directory / f"photos-{backend}")))
    try:
        with app.app_context():
            upgrade()
            result = load_province(Province(assets, assets * per_asset, seed))
            rows = sum(result.counts.values())
            print(
                f"{backend:10} {assets} assets, {result.counts['inspections']} inspections, "
                f"{rows} rows: {result.seconds:7.1f} s, {rows / result.seconds:8.0f} rows/s "
                f"(roll-ups {result.roll_up_seconds:.1f} s)",
                flush=True,
            )
            started = time.perf_counter()
            generated = sum(
                len(rows)
                for batch in Province(assets, assets * per_asset, seed).batches()
                for rows in batch.values()
            )
            seconds = time.perf_counter() - started
            print(
                f"{'':10} generating the {generated} batch rows alone: {seconds:7.1f} s "
                f"({generated / seconds:.0f} rows/s)",
                flush=True,
            )
            db.session.remove()
            db.engine.dispose()
    finally:
        if backend == "postgis":
            drop_postgis_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--per-asset", type=int, default=10)
    parser.add_argument("--backends", default="spatialite,postgis")
    parser.add_argument("--seed", type=int, default=20261130)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for backend in args.backends.split(","):
            bench(backend, args.assets, args.per_asset, args.seed, Path(directory))


if __name__ == "__main__":
    main()
