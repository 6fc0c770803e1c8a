"""Issue 14 at province size: each item timed on a synthetic province (``demo.province``).

Usage: .venv/bin/python bench/bench_province.py [--assets 100000] [--per-asset 10]
           [--backends postgis,spatialite] [--runs 5] [--database-url URL]

Per backend, a province of ``--assets`` assets (``--per-asset`` inspections each) is loaded
into a new database (PostGIS: ``bench_province_items`` on 127.0.0.1:5432, created and dropped
here; SpatiaLite: a file in a temporary directory), or ``--database-url`` names one already
loaded (``flask demo province``; its backend is the URL's and the header gives its counted
size; it is changed: the last item regenerates inspections). Then,
server side, through the app's test client signed in as the province's officer (pages) or the
service functions (jobs), each after a warm-up:

- the dashboard (``/``), the overdue list by the biggest contractor and by one grid, the
  hazard list, the unfiltered inspection list (most urgent first, counted up to
  ``LIST_COUNT_CAP``): median and p95 of ``--runs`` runs;
- the dashboard's first view after a write (its cached numbers stale), counted live, then
  read from the dashboard's snapshot (``dashboard.snapshot``; its build timed once between):
  median and p95 of ``--runs`` writes and views, the writes untimed;
- the exports (overdue inspections, hazards, every asset; CSV, streamed): time of one run,
  then tracemalloc's peak while the body is read in another (uncompressed: the test client
  asks for no encoding);
- the biggest contractor's calendar feed (streamed): the same;
- composing the weekly alert (snapshot and every email, SMTP excluded): time and peak;
- generation over the 90-day horizon: a first run after the future scheduled inspections are
  deleted, then an idle rerun.

Targets (issue 14, at 10M inspections on PostGIS): dashboard and overdue list < 100 ms,
generation < 5 min first run and < 30 s idle rerun (1M assets), alert < 60 s and < 1 GB.
``run(...)`` returns the figures as a dict (``bench/run`` calls it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, delete, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from accounts.models import Contractor  # noqa: E402
from alerts.services import compose_weekly, overdue_snapshot  # noqa: E402
from app import create_app  # noqa: E402
from assets.models import Asset, Grid  # noqa: E402
from core.clock import district_today  # noqa: E402
from core.extensions import db  # noqa: E402
from dashboard.snapshot import refresh_dashboard_snapshot  # noqa: E402
from demo.province import EMAIL_DOMAIN, PASSWORDS, Province, load_province  # noqa: E402
from inspections.calendar import create_feed  # noqa: E402
from inspections.models import Inspection, InspectionStatus  # noqa: E402
from inspections.services import generate_inspections  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_province_items"
OFFICER = f"officer@{EMAIL_DOMAIN}"


def timed(
    action: Callable[[], Any], runs: int, before: Callable[[], Any] | None = None
) -> dict[str, float]:
    """Median and p95 (the slowest of fewer than 20) of ``runs`` runs after a warm-up, ms;
    ``before`` runs untimed before each."""
    action()
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"median_ms": statistics.median(times), "p95_ms": p95}


def once_with_peak(action: Callable[[], Any]) -> dict[str, float]:
    """One run timed (ms), then one under tracemalloc for its peak (MB; tracemalloc slows a
    run several times over, so it is not the timed one)."""
    started = time.perf_counter()
    action()
    milliseconds = (time.perf_counter() - started) * 1000
    tracemalloc.start()
    try:
        action()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"median_ms": milliseconds, "p95_ms": milliseconds, "peak_mb": peak / 2**20}


def page(client, path: str) -> Callable[[], int]:
    def get() -> int:
        response = client.get(path)
        size = sum(len(chunk) for chunk in response.response)  # streamed bodies too
        response.close()
        assert response.status_code == 200, (path, response.status_code)
        return size

    return get


def biggest_contractor() -> Contractor:
    counts = (
        select(Inspection.contractor_id, func.count())
        .group_by(Inspection.contractor_id)
        .order_by(func.count().desc())
        .limit(1)
    )
    contractor_id = db.session.execute(counts).first()[0]
    return db.session.get(Contractor, contractor_id)


def some_grid_code() -> str:
    return db.session.scalar(select(Grid.code).where(Grid.level == 2).order_by(Grid.code))


def alert_composition() -> int:
    emails = compose_weekly(overdue_snapshot(), send_empty=False)
    db.session.rollback()
    return len(emails)


def generation_runs() -> dict[str, dict[str, float]]:
    """A first run over the horizon (the future scheduled inspections deleted), a rerun."""
    today = district_today()
    db.session.execute(
        delete(Inspection).where(
            Inspection.status == InspectionStatus.SCHEDULED,
            Inspection.completed_at.is_(None),
            Inspection.due_on >= today,
        )
    )
    db.session.commit()
    figures = {}
    for name in ("generation, first run", "generation, idle rerun"):
        started = time.perf_counter()
        created = generate_inspections(today)
        db.session.commit()
        seconds = time.perf_counter() - started
        figures[name] = {"median_ms": seconds * 1000, "p95_ms": seconds * 1000, "rows": created}
    return figures


def dashboard_after_a_write(app, client, runs: int) -> dict[str, dict[str, float]]:
    """The dashboard after a committed write: counted live, then from the snapshot (read
    whatever the registry's size), and the snapshot's build."""

    def write() -> None:
        with app.app_context():
            asset = db.session.scalar(select(Asset).order_by(Asset.id).limit(1))
            asset.name = asset.name[:-1] if asset.name.endswith(".") else f"{asset.name}."
            db.session.commit()

    threshold = app.config["DASHBOARD_SNAPSHOT_THRESHOLD"]
    figures = {}
    try:
        app.config["DASHBOARD_SNAPSHOT_THRESHOLD"] = sys.maxsize
        figures["dashboard / after a write, live"] = timed(page(client, "/"), runs, write)
        with app.app_context():
            started = time.perf_counter()
            refresh_dashboard_snapshot()
            milliseconds = (time.perf_counter() - started) * 1000
        figures["dashboard snapshot build"] = {"median_ms": milliseconds, "p95_ms": milliseconds}
        app.config["DASHBOARD_SNAPSHOT_THRESHOLD"] = 0
        figures["dashboard / after a write, snapshot"] = timed(page(client, "/"), runs, write)
    finally:
        app.config["DASHBOARD_SNAPSHOT_THRESHOLD"] = threshold
    return figures


def measure(app, runs: int) -> dict[str, dict[str, float]]:
    client = app.test_client()
    response = client.post("/login", data={"email": OFFICER, "password": PASSWORDS["officer"]})
    assert response.status_code == 302, "the province's officer could not sign in"
    with app.app_context():
        contractor = biggest_contractor()
        name, grid = contractor.name, some_grid_code()
        token = create_feed(contractor, None)
        db.session.commit()
    figures: dict[str, dict[str, float]] = {}
    pages = {
        "dashboard /": "/",
        "overdue list, biggest contractor": f"/inspections/?status=overdue&contractor={name}",
        f"overdue list, grid {grid}": f"/inspections/?status=overdue&grid={grid}",
        "hazard list": "/hazards/",
        "inspection list, unfiltered": "/inspections/",
    }
    for item, path in pages.items():
        figures[item] = timed(page(client, path), runs)
    figures.update(dashboard_after_a_write(app, client, runs))
    downloads = {
        "export overdue inspections (csv)": "/inspections/export.csv?status=overdue",
        "export hazards (csv)": "/hazards/export.csv",
        "export assets (csv)": "/assets/export.csv",
        "calendar feed, biggest contractor": f"/calendar/{token}.ics",
    }
    for item, path in downloads.items():
        figures[item] = once_with_peak(page(client, path))
    with app.app_context():
        figures["weekly alert composition"] = once_with_peak(alert_composition)
        figures.update(generation_runs())
    return figures


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


def bench_backend(backend: str, assets: int, per_asset: int, runs: int, url: str | None):
    with tempfile.TemporaryDirectory() as directory:
        own = url is None
        url = url or database_url(backend, Path(directory))
        app = create_app(
            test_config(
                url,
                TESTING=False,
                PHOTO_DIR=str(Path(directory) / "photos"),
                BASE_URL="https://registry.example.org",
            )
        )
        try:
            with app.app_context():
                if own:
                    upgrade()
                    load_province(Province(assets, assets * per_asset))
                db.session.remove()
            return measure(app, runs)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if own and backend == "postgis":
                drop_postgis_database(url)


def run(
    assets: int = 100_000,
    per_asset: int = 10,
    backends: tuple[str, ...] = ("postgis", "spatialite"),
    runs: int = 5,
    database_url: str | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """{backend: {item: {"median_ms", "p95_ms"[, "peak_mb"][, "rows"]}}}."""
    return {
        backend: bench_backend(backend, assets, per_asset, runs, database_url)
        for backend in backends
    }


def backend_of(url: str) -> str:
    return "spatialite" if make_url(url).get_backend_name() == "sqlite" else "postgis"


def loaded_size(url: str) -> tuple[int, int]:
    """(assets, inspections) in an already loaded database."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assets = connection.scalar(text("SELECT count(*) FROM assets"))
            inspections = connection.scalar(text("SELECT count(*) FROM inspections"))
    finally:
        engine.dispose()
    return assets, inspections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--per-asset", type=int, default=10)
    parser.add_argument("--backends", default="postgis,spatialite")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--database-url",
        help="an already loaded province (its backend is the URL's; --assets, --per-asset and "
        "--backends are not used)",
    )
    args = parser.parse_args()
    if args.database_url:
        # The header says what was measured: the loaded province's size, not the defaults.
        backends = (backend_of(args.database_url),)
        assets, inspections = loaded_size(args.database_url)
        size = f"{assets} assets, {inspections} inspections (loaded)"
    else:
        backends = tuple(name.strip() for name in args.backends.split(",") if name.strip())
        size = f"{args.assets} assets, {args.per_asset} inspections each"
    results = run(args.assets, args.per_asset, backends, args.runs, args.database_url)
    print(f"{size}; {args.runs} runs")
    print(f"  {'backend':<11} {'item':<40} {'median ms':>10} {'p95 ms':>10} {'peak MB':>8}")
    for backend, figures in results.items():
        for item, figure in figures.items():
            peak = f"{figure['peak_mb']:8.1f}" if "peak_mb" in figure else f"{'':8}"
            print(
                f"  {backend:<11} {item:<40} {figure['median_ms']:10.1f} "
                f"{figure['p95_ms']:10.1f} {peak}"
            )


if __name__ == "__main__":
    main()
