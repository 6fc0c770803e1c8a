"""The map's view endpoint (issue 14) at a zoomed-out, a mid and a street view, and /map's
server time and bytes, per backend and registry size, in one run.

Usage: .venv/bin/python bench/bench_map_viewport.py [--sizes 10000,100000]
           [--backends spatialite,postgis] [--repeat 20] [--no-rollup] [--province]

The registry is the one bench/bench_map.py builds (assets spread over the test district,
each with an inspection: about 8 % overdue, 10 % due soon; 1 % with an open hazard), grown
size by size; with ``--province``, a synthetic province (``demo/province.py``, 10
inspections an asset) loaded afresh at each size, its views the whole province, a quarter
of it two zooms closer, and a street. After loading, the map's roll-up is built
(``maps.rollup``, timed) as the scheduler would, so zoomed-out views of more than its
threshold read it; ``--no-rollup`` leaves it unbuilt (every view live: the figures before
the roll-up); ``--compare`` times each view live before building it, then again after (the
mode "rollup" is a clusters answer the roll-up gave).

Each view is asked ``--repeat`` times through the app (login once; each request without
If-None-Match, so the map query runs every time): p50 and p95 of the server time, and the
answer's bytes; /map is asked a quarter as often (at least 3 times). ``run(...)`` returns
every timing for ``bench/run`` (and drops its PostGIS database).
Targets at 1M assets: p95 < 100 ms on PostGIS and < 200 ms on SpatiaLite; /map flat in size
and time (< 300 KB).
"""

from __future__ import annotations

import argparse
import math
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
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import core.clock  # noqa: E402
import demo.province  # noqa: E402
from accounts.models import Contractor  # noqa: E402
from app import create_app  # noqa: E402
from assets.models import Asset  # noqa: E402
from core.extensions import db  # noqa: E402
from maps.rollup import refresh_map_rollup  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import test_config  # noqa: E402

TODAY = bench_map.TODAY

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
        answer = response.get_json()
        size, mode = len(response.data), "rollup" if "as_of" in answer else answer["mode"]
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


def time_views(
    client, views_asked: dict[str, str], repeat: int, backend: str, size: int, label: str
) -> dict[str, dict]:
    """{name: time_view(...)} of each view, printed; "rollup" is a clusters answer the
    roll-up gave."""
    views = {}
    for name, query in views_asked.items():
        views[name] = figures = time_view(client, query, repeat)
        print(
            f"{backend:10} {size:>8} assets {label + ' ' + name:22} {figures['mode']:8} "
            f"p50 {percentile(figures['times_ms'], 0.5):7.1f} ms  "
            f"p95 {percentile(figures['times_ms'], 0.95):7.1f} ms  "
            f"{figures['bytes'] / 1000:7.1f} KB",
            flush=True,
        )
    return views


def build_rollup(app, backend: str, size: int) -> float:
    """The map's roll-up built as the scheduler would; its seconds, printed."""
    with app.app_context():
        started = time.perf_counter()
        build = refresh_map_rollup()
        seconds = time.perf_counter() - started
        db.session.remove()
    print(
        f"{backend:10} {size:>8} assets roll-up built in {seconds:6.1f} s ({build.cells} cells)",
        flush=True,
    )
    return seconds


def province_views(app) -> dict[str, str]:
    """The whole province at the zoom that shows it on a 1440 px screen, a quarter of it two
    zooms closer, and a street at zoom 17 around its first asset; each box padded by 20 %
    as the map's script asks."""
    with app.app_context():
        west, south, east, north, lon, lat = db.session.execute(
            select(
                func.min(func.ST_X(Asset.location)),
                func.min(func.ST_Y(Asset.location)),
                func.max(func.ST_X(Asset.location)),
                func.max(func.ST_Y(Asset.location)),
                func.ST_X(select(Asset.location).order_by(Asset.id).limit(1).scalar_subquery()),
                func.ST_Y(select(Asset.location).order_by(Asset.id).limit(1).scalar_subquery()),
            )
        ).one()
        db.session.remove()

    def view(zoom: int, middle_lon: float, middle_lat: float, width: float) -> str:
        height = width * 900 / 1440
        box = (
            middle_lon - 0.7 * width,
            middle_lat - 0.7 * height,
            middle_lon + 0.7 * width,
            middle_lat + 0.7 * height,
        )
        return f"zoom={zoom}&bbox=" + ",".join(f"{value:.6f}" for value in box)

    def screen(zoom: int) -> float:
        return 1440 / 256 * 360 / 2**zoom

    width = max(east - west, 1e-3)
    zoom = max(0, min(17, int(math.floor(math.log2(1440 / 256 * 360 / width)))))
    middle = ((west + east) / 2, (south + north) / 2)
    quarter = ((3 * west + east) / 4, (3 * south + north) / 4)
    return {
        f"zoomed out z{zoom}": view(zoom, *middle, screen(zoom)),
        f"mid z{zoom + 2}": view(zoom + 2, *quarter, screen(zoom + 2)),
        "street z17": view(17, lon, lat, screen(17)),
    }


def load_province(app, size: int) -> None:
    with app.app_context():
        demo.province.load_province(demo.province.Province(size, size * 10, 14, TODAY))
        factories.gen_user("bench@example.org", "officer")
        db.session.commit()
        db.session.remove()


def bench(
    backend: str,
    sizes: list[int],
    repeat: int,
    directory: Path,
    rollup: bool = True,
    province: bool = False,
    compare: bool = False,
) -> dict[int, dict]:
    """{size: {"views": {name: time_view(...)}, "map": time_page(...), "rollup_s": …}},
    printed as it goes."""
    config = test_config(
        database_url(backend, directory),
        TESTING=False,
        MAP_TILES="none",
        PHOTO_DIR=str(directory / "photos"),
    )
    app = create_app(config)
    with app.app_context():
        upgrade()
        if not province:
            factories.gen_district()
            factories.gen_user("bench@example.org", "officer")
            contractor = Contractor(name="Bench Fire Services")
            db.session.add(contractor)
            db.session.commit()
            contractor_id = contractor.id
    loaded, results = 0, {}
    for size in sizes:
        if province:
            if loaded:
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()
                app = create_app({**config, "SQLALCHEMY_DATABASE_URI": fresh_database(backend)})
                with app.app_context():
                    upgrade()
            load_province(app, size)
            views_asked = province_views(app)
        else:
            with app.app_context():
                add_assets(loaded + 1, size, contractor_id)
                if backend == "postgis":
                    # As autovacuum would soon after (it is off on some servers, this one's
                    # included): without statistics PostgreSQL plans each asset's status
                    # probes as scans of the whole table (4 s, not 80 ms, at 10k).
                    db.session.execute(text("ANALYZE"))
                    db.session.commit()
                db.session.remove()
            views_asked = VIEWS
        loaded = size
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.org", "password": factories.PASSWORD})
        live = None
        if rollup and compare:
            live = time_views(client, views_asked, repeat, backend, size, "live")
        rollup_seconds = build_rollup(app, backend, size) if rollup else None
        views = time_views(client, views_asked, repeat, backend, size, "")
        page = time_page(client, max(3, repeat // 4))
        print(
            f"{backend:10} {size:>8} assets /map           best {min(page['times_ms']):7.1f} ms"
            f"  {page['bytes'] / 1000:7.1f} KB",
            flush=True,
        )
        results[size] = {"views": views, "map": page, "rollup_s": rollup_seconds}
        if live is not None:
            results[size]["live_views"] = live
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return results


def fresh_database(backend: str) -> str:
    """An empty database for the next province (one cannot be grown into another)."""
    if backend == "spatialite":
        path = Path(tempfile.mkdtemp()) / "province.sqlite"
        return f"sqlite:///{path}"
    return bench_map.recreate_postgis_database(bench_map.POSTGIS_URL)


def run(
    sizes: tuple[int, ...] = (10_000, 100_000),
    backends: tuple[str, ...] = ("spatialite", "postgis"),
    repeat: int = 20,
    rollup: bool = True,
    province: bool = False,
    compare: bool = False,
) -> dict[str, dict[int, dict]]:
    """{backend: bench(...)}; the clock set to the registry's day while it runs, the PostGIS
    database dropped at the end."""
    real_now = core.clock.now_utc
    core.clock.now_utc = lambda: real_now().replace(year=2026, month=3, day=16, hour=4)
    try:
        with tempfile.TemporaryDirectory() as directory:
            return {
                backend: bench(
                    backend, list(sizes), repeat, Path(directory), rollup, province, compare
                )
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
    parser.add_argument("--no-rollup", action="store_true", help="Every view live (before).")
    parser.add_argument("--province", action="store_true", help="A synthetic province.")
    parser.add_argument(
        "--compare", action="store_true", help="Each view live first, then from the roll-up."
    )
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    backends = tuple(args.backends.split(","))
    run(sizes, backends, args.repeat, not args.no_rollup, args.province, args.compare)


if __name__ == "__main__":
    main()
