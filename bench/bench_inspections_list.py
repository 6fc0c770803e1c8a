"""The inspection lists' first page before and after migration 0014 (indexes in the lists'
order, due date then id): the query plans and the median times.

Usage: .venv/bin/python bench/bench_inspections_list.py [--assets 10000]
       [--inspections 200000] [--runs 15] [--backends postgis,spatialite]
(BENCH_POSTGIS_URL names another PostGIS database, say when several people bench at once.)

Each backend gets a fresh migrated database seeded as ``bench/bench_inspections.py`` seeds
it (two years of due dates, most completed, a few percent overdue, 90 days scheduled ahead;
Core inserts). Then, first downgraded to revision 0012 and then upgraded again (each time
followed by ANALYZE), for each list below: the plan of its first part's page keys (EXPLAIN
ANALYZE on PostgreSQL, EXPLAIN QUERY PLAN on SQLite) and the median of ``--runs`` runs after
a warm-up (counts up to ``LIST_COUNT_CAP``, page keys and the page's rows with their assets,
as the page does; the default list's counts also alone, capped and, for comparison, exact).

- ``/inspections/`` as an officer, unfiltered (most urgent first: the open ones by due date,
  then the closed ones latest first; ``?sort=due``; ``?sort=-due``), overdue, and for the
  biggest contractor (most urgent first, by due date, overdue);
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
from flask import current_app  # noqa: E402
from flask_migrate import downgrade, upgrade  # noqa: E402
from sqlalchemy import Select, func, select, text  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from accounts.models import Contractor  # noqa: E402
from app import create_app  # noqa: E402
from assets.models import Asset  # noqa: E402
from core.extensions import db  # noqa: E402
from core.paging import page_of_parts  # noqa: E402
from inspections.models import Inspection  # noqa: E402
from inspections.results import InspectionFilters, inspection_query, list_parts  # noqa: E402
from tests.conftest import test_config  # noqa: E402

PAGE = 50
API_PAGE = 100
seeding.POSTGIS_URL = os.environ.get(
    "BENCH_POSTGIS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_inspections_list"
)


def listed(filters: InspectionFilters | None = None) -> Select:
    return inspection_query(seeding.officer(), filters or InspectionFilters(), today=seeding.TODAY)


def count_cap() -> int:
    return current_app.config["LIST_COUNT_CAP"]


def list_page(filters: InspectionFilters | None, sort: str | None) -> list:
    """What ``/inspections/?…`` runs: the parts' counts (up to ``LIST_COUNT_CAP``), the page's
    keys, its rows."""
    options = (
        selectinload(Inspection.asset).selectinload(Asset.grid),
        selectinload(Inspection.contractor),
    )
    parts = list_parts(listed(filters), sort)
    items = page_of_parts(parts, Inspection.id, 1, PAGE, options, count_up_to=count_cap()).items
    db.session.expunge_all()
    return items


def api_page() -> list:
    """What ``/api/v1/inspections`` runs for page 1 (a full page: no count)."""
    query = listed().options(selectinload(Inspection.asset), selectinload(Inspection.photos))
    items = list(db.session.scalars(query.limit(API_PAGE)))
    db.session.expunge_all()
    return items


def page_queries(contractor: str) -> list[tuple[str, Select, Callable[[], Any]]]:
    """(name, the statement whose plan is shown: the first part's page keys, what is timed)."""

    def keys(filters: InspectionFilters | None, sort: str | None, size: int = PAGE) -> Select:
        return list_parts(listed(filters), sort)[0].with_only_columns(Inspection.id).limit(size)

    def item(name: str, filters: InspectionFilters | None, sort: str | None = None):
        return name, keys(filters, sort), lambda: list_page(filters, sort)

    def counted(part: Select) -> Select:
        return select(func.count()).select_from(part.order_by(None).subquery())

    def counted_up_to(part: Select, limit: int) -> Select:
        """As ``page_of_parts`` counts a part: its keys in its order, at most ``limit``."""
        capped = part.with_only_columns(Inspection.id).limit(limit)
        return select(func.count()).select_from(capped.subquery())

    def capped_counts() -> None:
        """The default list's first page's counts alone, as every page runs them: part after
        part up to ``LIST_COUNT_CAP`` and one more."""
        limit, total = count_cap() + 1, 0
        for part in list_parts(listed(), None):
            if total >= limit:
                break
            total += db.session.scalar(counted_up_to(part, limit - total))

    def exact_counts() -> None:
        """Every part counted to its end (the list before the cap), for comparison."""
        for part in list_parts(listed(), None):
            db.session.scalar(counted(part))

    first, closed = list_parts(listed(), None)
    ours = InspectionFilters(contractor=contractor)
    ours_overdue = InspectionFilters(contractor=contractor, status="overdue")
    return [
        item("/inspections/ (most urgent first)", None),
        (
            "/inspections/: its counts alone (capped)",
            counted_up_to(first, count_cap()),
            capped_counts,
        ),
        ("/inspections/: exact counts (comparison)", counted(closed), exact_counts),
        item("/inspections/?sort=due", None, "due"),
        item("/inspections/?sort=-due", None, "-due"),
        item("/inspections/?status=overdue", InspectionFilters(status="overdue")),
        item("/inspections/?contractor=biggest", ours),
        item("/inspections/?contractor=biggest&sort=due", ours, "due"),
        item("/inspections/?status=overdue&contractor=biggest", ours_overdue),
        ("/api/v1/inspections page 1", keys(None, "due", API_PAGE), api_page),
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


def measure(label: str, contractor: str, runs: int) -> list[tuple[str, float]]:
    db.session.execute(text("ANALYZE inspections"))
    db.session.commit()
    results = []
    for name, statement, action in page_queries(contractor):
        print(f"  {label}, {name}:")
        print(plan(statement))
        db.session.rollback()
        results.append((name, seeding.median_ms(action, runs)))
        db.session.rollback()  # as a request ends: no lock left for the next migration
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
        contractor = db.session.get(Contractor, seeded.contractors[0]).name
        db.session.commit()
        downgrade(revision="0012")  # the indexes as they were
        before = measure("before 0014", contractor, args.runs)
        upgrade()
        after = measure("after 0014", contractor, args.runs)
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
        for (name, old), (_, new) in zip(before, after, strict=True):
            print(f"{backend:10} {name:52} before {old:7.1f}   after {new:7.1f}")


if __name__ == "__main__":
    main()
