"""The unfiltered inspection lists' first page without and with ``ix_inspections_due_on_id``
(migration 0014): the query plans and the median times.

Usage: .venv/bin/python bench/bench_inspections_list.py [--assets 10000]
       [--inspections 200000] [--runs 15] [--backends postgis,spatialite]
(BENCH_POSTGIS_URL names another PostGIS database, say when several people bench at once.)

Each backend gets a fresh migrated database seeded as ``bench/bench_inspections.py`` seeds
it (two years of due dates, most completed, a few percent overdue, 90 days scheduled ahead;
Core inserts). Then, first with the index dropped and then with it made again (each time
followed by ANALYZE), for each list below: the plan of its page query (EXPLAIN ANALYZE on
PostgreSQL, EXPLAIN QUERY PLAN on SQLite) and the median of ``--runs`` runs after a warm-up
(counts, page keys and the page's rows with their assets, as the page does).

- ``/inspections/`` (most urgent first: the open ones by due date, then the closed ones
  latest first), ``?sort=due`` and ``?sort=-due``, as an officer;
- ``/api/v1/inspections`` page 1 (``ORDER BY due_on, id LIMIT 100``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_inspections as seeding  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import Select, text  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from app import create_app  # noqa: E402
from assets.models import Asset  # noqa: E402
from core.extensions import db  # noqa: E402
from core.paging import page_of_parts  # noqa: E402
from inspections.models import Inspection  # noqa: E402
from inspections.results import InspectionFilters, inspection_query, list_parts  # noqa: E402
from tests.conftest import test_config  # noqa: E402

INDEX = "ix_inspections_due_on_id"
PAGE = 50
API_PAGE = 100
seeding.POSTGIS_URL = os.environ.get(
    "BENCH_POSTGIS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_inspections_list"
)


def unfiltered() -> Select:
    return inspection_query(seeding.officer(), InspectionFilters(), today=seeding.TODAY)


def list_page(sort: str | None) -> list:
    """What ``/inspections/[?sort=…]`` runs: the parts' counts, the page's keys, its rows."""
    options = (
        selectinload(Inspection.asset).selectinload(Asset.grid),
        selectinload(Inspection.contractor),
    )
    items = page_of_parts(list_parts(unfiltered(), sort), Inspection.id, 1, PAGE, options).items
    db.session.expunge_all()
    return items


def api_page() -> list:
    """What ``/api/v1/inspections`` runs for page 1 (a full page: no count)."""
    query = unfiltered().options(selectinload(Inspection.asset), selectinload(Inspection.photos))
    items = list(db.session.scalars(query.limit(API_PAGE)))
    db.session.expunge_all()
    return items


def page_queries() -> list[tuple[str, Select, Callable[[], Any]]]:
    """(name, the statement whose plan is shown, what is timed)."""
    urgent = list_parts(unfiltered(), None)
    by_due = list_parts(unfiltered(), "due")[0]
    latest = list_parts(unfiltered(), "-due")[0]

    def keys(part: Select, size: int = PAGE) -> Select:
        return part.with_only_columns(Inspection.id).limit(size)

    return [
        ("/inspections/ (most urgent first)", keys(urgent[0]), lambda: list_page(None)),
        ("/inspections/?sort=due", keys(by_due), lambda: list_page("due")),
        ("/inspections/?sort=-due", keys(latest), lambda: list_page("-due")),
        ("/api/v1/inspections page 1", keys(by_due, API_PAGE), api_page),
    ]


def plan(statement: Select) -> str:
    compiled = statement.compile(dialect=db.engine.dialect)
    connection = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        sql, params = "EXPLAIN (ANALYZE, COSTS OFF) " + str(compiled), compiled.params
    else:
        sql = "EXPLAIN QUERY PLAN " + str(compiled)
        params = tuple(compiled.params[name] for name in compiled.positiontup)
    rows = connection.exec_driver_sql(sql, params).all()
    return "\n".join("    " + str(row[-1]) for row in rows)


def analyze() -> None:
    db.session.execute(text("ANALYZE inspections"))
    db.session.commit()


def measure(label: str, runs: int) -> list[tuple[str, float]]:
    analyze()
    results = []
    for name, statement, action in page_queries():
        print(f"  {label}, {name}:")
        print(plan(statement))
        db.session.rollback()
        results.append((name, seeding.median_ms(action, runs)))
    return results


def bench(backend: str, directory: Path, args: argparse.Namespace):
    app = create_app(test_config(seeding.database_url(backend, directory), TESTING=False))
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        seeded = seeding.seed(args.assets, args.inspections, 5)
        print(f"{backend}: {seeded.inspections} inspections seeded in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        seeding.officer()
        db.session.execute(text(f"DROP INDEX {INDEX}"))
        db.session.commit()
        before = measure("without the index", args.runs)
        db.session.execute(text(f"CREATE INDEX {INDEX} ON inspections (due_on, id)"))
        db.session.commit()
        after = measure("with the index", args.runs)
        db.session.remove()
        db.engine.dispose()
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--inspections", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--backends", default="postgis,spatialite")
    args = parser.parse_args()
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    results = []
    with tempfile.TemporaryDirectory() as temp:
        try:
            for backend in backends:
                results.append((backend, *bench(backend, Path(temp), args)))
        finally:
            if "postgis" in backends:
                seeding.drop_postgis()
    print(f"{args.inspections} inspections; median of {args.runs} runs after a warm-up (ms)")
    for backend, before, after in results:
        for (name, without), (_, with_index) in zip(before, after, strict=True):
            print(f"{backend:10} {name:36} without {without:8.1f}   with {with_index:8.1f}")


if __name__ == "__main__":
    main()
