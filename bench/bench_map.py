"""Server time and HTML size of /map at 454, 10k and 100k assets, against the naive folium
map with one ``Marker`` (and popup) per asset in a MarkerCluster, in one run.

Usage: .venv/bin/python bench/bench_map.py [--sizes 454,10000,100000]
           [--backends spatialite,postgis] [--naive-max 10000] [--repeat 3]

Each asset has an inspection (about 8 % overdue, 10 % due soon) and 1 % an open hazard. /map
is timed through the app (login, query, build, render: the whole response), best of
``--repeat``. The naive map is timed from the same query's rows to rendered HTML (its query
is the same SQL, so it is not charged twice); it is skipped above ``--naive-max`` assets
(measured elsewhere at 63 s and 76 MB for 100k).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import folium  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from folium.plugins import MarkerCluster  # noqa: E402
from markupsafe import escape  # noqa: E402
from sqlalchemy import insert  # noqa: E402

import core.clock  # noqa: E402
from accounts.models import Contractor  # noqa: E402
from app import create_app  # noqa: E402
from assets.models import Asset  # noqa: E402
from core.clock import now_utc  # noqa: E402
from core.extensions import db  # noqa: E402
from core.spatial import deferred_spatial_index, point_value  # noqa: E402
from hazards.models import Hazard  # noqa: E402
from inspections.models import Inspection  # noqa: E402
from maps.status import MapFilters, map_assets_query  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_map"
TODAY = date(2026, 3, 16)
COLOURS = {"red": "red", "orange": "orange", "green": "green", "grey": "gray"}


def database_url(backend: str, directory: Path) -> str:
    if backend == "spatialite":
        return f"sqlite:///{directory / 'bench_map.sqlite'}"
    return recreate_postgis_database(POSTGIS_URL)


def add_assets(first: int, last: int, contractor_id: int) -> None:
    """Assets first..last with one inspection each and a hazard on every hundredth."""
    rng = random.Random(first)
    now = now_utc()
    assets = [
        {
            "code": f"EB-{number:06d}",
            "kind": "elevator_blocker" if number % 6 else "charging_station",
            "name": f"Asset {number}",
            "location": point_value(
                round(rng.uniform(119.1001, 119.2999), 6), round(rng.uniform(36.7001, 36.7599), 6)
            ),
            "status": "faulty" if number % 50 == 0 else "active",
            "attributes": {},
            "created_at": now,
            "updated_at": now,
        }
        for number in range(first, last + 1)
    ]
    last_id_before = db.session.scalar(db.select(db.func.coalesce(db.func.max(Asset.id), 0)))
    with deferred_spatial_index(db.session, "assets", "location"):
        for start in range(0, len(assets), 10_000):
            db.session.execute(insert(Asset.__table__), assets[start : start + 10_000])
    # The new rows by id: their codes do not sort as numbers past EB-999999 ("EB-1000000" <
    # "EB-100001"), which left the millionth asset out at 1M.
    ids = dict(
        db.session.execute(db.select(Asset.code, Asset.id).where(Asset.id > last_id_before)).all()
    )
    inspections = [
        {
            "asset_id": ids[f"EB-{number:06d}"],
            "contractor_id": contractor_id,
            "due_on": TODAY + timedelta(days=rng.randint(-5, 55)),
            "status": "scheduled",
            "flagged": False,
            "created_at": now,
        }
        for number in range(first, last + 1)
    ]
    for start in range(0, len(inspections), 10_000):
        db.session.execute(insert(Inspection.__table__), inspections[start : start + 10_000])
    hazards = [
        {
            "code": f"HZ-2026-{number:06d}",
            "category": "other",
            "severity": "major" if number % 200 == 0 else "general",
            "description": f"Hazard at asset {number}",
            "location": point_value(119.2, 36.73),
            "asset_id": ids[f"EB-{number:06d}"],
            "found_on": TODAY - timedelta(days=3),
            "deadline": TODAY + timedelta(days=20),
            "status": "open",
            "status_changed_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for number in range(first, last + 1)
        if number % 100 == 0
    ]
    if hazards:
        db.session.execute(insert(Hazard.__table__), hazards)
    db.session.commit()


def naive_map(rows) -> str:
    """The map as folium's examples draw it: one Marker with a popup per asset."""
    folium_map = folium.Map(location=[36.73, 119.2], zoom_start=13, tiles=None, max_zoom=19)
    cluster = MarkerCluster().add_to(folium_map)
    for code, _kind, longitude, latitude, status in rows:
        folium.Marker(
            [latitude, longitude],
            popup=folium.Popup(str(escape(code)), max_width=300),
            icon=folium.Icon(color=COLOURS[status]),
        ).add_to(cluster)
    return folium_map.get_root().render()


def time_map_page(client, repeat: int) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _attempt in range(repeat):
        started = time.perf_counter()
        response = client.get("/map")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        best, size = min(best, elapsed), len(response.data)
    return best, size


def bench(backend: str, sizes: list[int], naive_max: int, repeat: int, directory: Path):
    app = create_app(test_config(database_url(backend, directory), TESTING=False, MAP_TILES="none"))
    results = []
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
    loaded = 0
    for size in sizes:
        with app.app_context():
            add_assets(loaded + 1, size, contractor_id)
            db.session.remove()
        loaded = size
        page_time, page_size = time_map_page(client, repeat if size <= 10_000 else 1)
        naive_time = naive_size = None
        if size <= naive_max:
            with app.app_context():
                rows = db.session.execute(map_assets_query(MapFilters(), None, TODAY)).all()
                started = time.perf_counter()
                naive_size = len(naive_map(rows).encode())
                naive_time = time.perf_counter() - started
                db.session.remove()
        results.append((size, page_time, page_size, naive_time, naive_size))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="454,10000,100000")
    parser.add_argument("--backends", default="spatialite,postgis")
    parser.add_argument("--naive-max", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    core.clock.now_utc = lambda: now_utc().replace(year=2026, month=3, day=16, hour=4)
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as directory:
        for backend in args.backends.split(","):
            for size, page_time, page_size, naive_time, naive_size in bench(
                backend, sizes, args.naive_max, args.repeat, Path(directory)
            ):
                line = (
                    f"{backend:10} {size:>7} assets: "
                    f"/map {page_time:6.3f} s {page_size / 1e6:6.2f} MB"
                )
                if naive_time is not None:
                    line += (
                        f" | naive {naive_time:7.3f} s {naive_size / 1e6:6.2f} MB"
                        f" | {naive_time / page_time:5.1f}x faster"
                        f" {naive_size / page_size:5.1f}x smaller"
                    )
                else:
                    line += " | naive skipped (above --naive-max)"
                print(line, flush=True)


if __name__ == "__main__":
    main()
