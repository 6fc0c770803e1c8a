"""The map's view endpoint (issue 14) at a zoomed-out, a mid and a street view, and /map's
server time and bytes, per backend and registry size, in one run.

Usage: .venv/bin/python bench/bench_map_viewport.py [--sizes 10000,100000]
           [--backends spatialite,postgis] [--repeat 20]

The registry is the one bench/bench_map.py builds (assets spread over the test district,
each with an inspection: about 8 % overdue, 10 % due soon; 1 % with an open hazard), grown
size by size. Each view is asked ``--repeat`` times through the app (login once; each
request without If-None-Match, so the map query runs every time): p50 and p95 of the
server time, and the answer's bytes; /map is asked a quarter as often (at least 3 times).
``run(...)`` returns every timing for ``bench/run`` (and drops its PostGIS database).
Targets at 1M assets: p95 < 100 ms on PostGIS and < 200 ms on SpatiaLite; /map flat in size
and time (< 300 KB).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_map  # noqa: E402
from bench_map import add_assets, database_url  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import core.clock  # noqa: E402
from accounts.models import Contractor  # noqa: E402
from app import create_app  # noqa: E402
from core.extensions import db  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import test_config  # noqa: E402

# Its own database (bench/bench_map.py's may be in use at the same time).
bench_map.POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_map_viewport"
VIEWS = {
    # the whole district on a desktop screen
    "zoomed out z12": "zoom=12&bbox=119.05,36.66,119.35,36.80",
    # a quarter of it
    "mid z14": "zoom=14&bbox=119.15,36.71,119.22,36.74",
    # a few streets
    "street z17": "zoom=17&bbox=119.195,36.725,119.205,36.731",
}


def drop_postgis_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def time_view(client, query: str, repeat: int) -> dict:
    """``repeat`` timings (ms) of one view, its answer's bytes and mode."""
    times, size, mode = [], 0, ""
    for _attempt in range(repeat):
        started = time.perf_counter()
        response = client.get(f"/api/v1/map/assets?{query}")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
        size, mode = len(response.data), response.get_json()["mode"]
    return {"times_ms": times, "bytes": size, "mode": mode}


def time_page(client, repeat: int) -> dict:
    """``repeat`` timings (ms) of /map (the whole response) and its bytes."""
    times, size = [], 0
    for _attempt in range(repeat):
        started = time.perf_counter()
        response = client.get("/map")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        size = len(response.data)
    return {"times_ms": times, "bytes": size}


def bench(backend: str, sizes: list[int], repeat: int, directory: Path) -> dict[int, dict]:
    """{size: {"views": {name: time_view(...)}, "map": time_page(...)}}, printed as it goes."""
    app = create_app(test_config(database_url(backend, directory), TESTING=False, MAP_TILES="none"))
    with app.app_context():
        upgrade()
        factories.gen_district()
        factories.gen_user("bench@example.org", "officer")
        contractor = Contractor(name="Bench Fire Services")
        db.session.add(contractor)
        db.session.commit()
        contractor_id = contractor.id
    client = app.test_client()
    client.post("/login", data={"email": "bench@example.org", "password": factories.PASSWORD})
    loaded, results = 0, {}
    for size in sizes:
        with app.app_context():
            add_assets(loaded + 1, size, contractor_id)
            db.session.remove()
        loaded = size
        views = {}
        for name, query in VIEWS.items():
            views[name] = figures = time_view(client, query, repeat)
            print(
                f"{backend:10} {size:>8} assets {name:15} {figures['mode']:8} "
                f"p50 {percentile(figures['times_ms'], 0.5):7.1f} ms  "
                f"p95 {percentile(figures['times_ms'], 0.95):7.1f} ms  "
                f"{figures['bytes'] / 1000:7.1f} KB",
                flush=True,
            )
        page = time_page(client, max(3, repeat // 4))
        print(
            f"{backend:10} {size:>8} assets /map           best {min(page['times_ms']):7.1f} ms"
            f"  {page['bytes'] / 1000:7.1f} KB",
            flush=True,
        )
        results[size] = {"views": views, "map": page}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return results


def run(
    sizes: tuple[int, ...] = (10_000, 100_000),
    backends: tuple[str, ...] = ("spatialite", "postgis"),
    repeat: int = 20,
) -> dict[str, dict[int, dict]]:
    """{backend: bench(...)}; the clock set to the registry's day while it runs, the PostGIS
    database dropped at the end."""
    real_now = core.clock.now_utc
    core.clock.now_utc = lambda: real_now().replace(year=2026, month=3, day=16, hour=4)
    try:
        with tempfile.TemporaryDirectory() as directory:
            return {
                backend: bench(backend, list(sizes), repeat, Path(directory))
                for backend in backends
            }
    finally:
        core.clock.now_utc = real_now
        if "postgis" in backends:
            drop_postgis_database(bench_map.POSTGIS_URL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="spatialite,postgis")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    run(sizes, tuple(args.backends.split(",")), args.repeat)


if __name__ == "__main__":
    main()
