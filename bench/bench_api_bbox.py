"""Latency of ``GET /api/v1/assets?bbox=…`` against the same SELECT on a raw DB-API cursor.

For each backend, a fresh migrated database gets N synthetic assets spread over the
district (119.10–119.30 E, 36.70–36.76 N); a bounding box of ~1% of that area is then
asked for through the Flask test client (bearer token, one page of the API's largest size,
1000: every match up to about 100k assets) and as raw SQL (the statement the API runs for
that page, compiled with literal values, all its rows fetched; the API also counts).
Prints the median of each and their ratio; the target is a ratio within 3×.
``run(...)`` returns the figures (median and p95 of each) for ``bench/run``.

Usage: .venv/bin/python bench/bench_api_bbox.py [--assets 100000] [--runs 50]
       [--backends spatialite,postgis]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from accounts.services import create_user, issue_api_token  # noqa: E402
from app import create_app  # noqa: E402
from assets.api import asset_conditions, asset_select  # noqa: E402
from assets.models import Asset  # noqa: E402
from core.extensions import db  # noqa: E402
from core.spatial import BBox, deferred_spatial_index, point_value  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sar_bench"
DISTRICT = (119.10, 36.70, 119.30, 36.76)
# A tenth of the width and a tenth of the height: 1% of the district.
QUERY_BOX = BBox(119.19, 36.727, 119.21, 36.733)
PAGE_SIZE = 1000  # the API's largest page (core.api.MAX_PER_PAGE)
BATCH = 10_000


def database_url(backend: str, directory: Path) -> str:
    if backend == "spatialite":
        return f"sqlite:///{directory / 'bench.sqlite'}"
    if backend == "postgis":
        return recreate_postgis_database(POSTGIS_URL)
    raise SystemExit(f"unknown backend {backend!r}")


def synthetic_rows(count: int):
    rng = random.Random(11)
    min_lon, min_lat, max_lon, max_lat = DISTRICT
    for number in range(1, count + 1):
        yield {
            "code": f"CS-{number:06d}",
            "kind": "charging_station",
            "name": f"充电站 {number}",
            "location": point_value(
                round(rng.uniform(min_lon, max_lon), 6), round(rng.uniform(min_lat, max_lat), 6)
            ),
            "address": f"{number % 200} Harbour Road",
            "status": "active",
            "manufacturer": "潍坊梯安电子有限公司",
            "attributes": {"ports": 8 + number % 5, "canopy": True, "camera": number % 2 == 0},
        }


def fill(count: int) -> None:
    rows = synthetic_rows(count)
    statement = insert(Asset.__table__)
    with deferred_spatial_index(db.session, "assets", "location"):
        while batch := [row for _, row in zip(range(BATCH), rows, strict=False)]:
            db.session.execute(statement, batch)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE assets"))
        db.session.commit()


def bearer_token() -> str:
    user = create_user("bench@example.org", "bench password 123", "officer")
    token = issue_api_token(user)
    db.session.commit()
    return token


def timings_ms(action, runs: int) -> list[float]:
    """``runs`` timings of ``action`` (ms) after three warm-up runs."""
    for _ in range(3):
        action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def raw_sql() -> str:
    """The API's SELECT for QUERY_BOX, with its values written in."""
    statement = (
        asset_select().where(*asset_conditions({"bbox": QUERY_BOX})).order_by(Asset.code)
    ).limit(PAGE_SIZE)
    return str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))


def bench(backend: str, directory: Path, count: int, runs: int) -> tuple[int | str, float, float]:
    matches, api, raw = bench_timings(backend, directory, count, runs)
    return matches, statistics.median(api), statistics.median(raw)


def bench_timings(
    backend: str, directory: Path, count: int, runs: int
) -> tuple[int | str, list[float], list[float]]:
    """The matches, then the API's and the raw cursor's timings (ms)."""
    url = database_url(backend, directory)
    app = create_app(test_config(url, TESTING=False))
    with app.app_context():
        upgrade()
        fill(count)
        token = bearer_token()
    # The API's conditions include what the signed-in user may see: compiled for the token's
    # officer, in a request its bearer token signed in (the app's before-request hooks).
    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        app.preprocess_request()
        sql = raw_sql()

    client = app.test_client()
    box = QUERY_BOX
    path = (
        f"/api/v1/assets?bbox={box.min_lon},{box.min_lat},{box.max_lon},{box.max_lat}"
        f"&per_page={PAGE_SIZE}"
    )
    headers = {"Authorization": f"Bearer {token}"}

    def through_api():
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return response

    body = through_api().json
    # numberMatched is omitted past LIST_COUNT_CAP matches (core.paging.page_by_one_more).
    matches = body.get("numberMatched", f"more than {app.config['LIST_COUNT_CAP']}")
    api_ms = timings_ms(through_api, runs)

    with app.app_context():
        connection = db.engine.connect()
        cursor = connection.connection.cursor()

        def through_cursor():
            cursor.execute(sql)
            return cursor.fetchall()

        assert len(through_cursor()) == body["numberReturned"]
        raw_ms = timings_ms(through_cursor, runs)
        cursor.close()
        connection.close()
        db.session.remove()
        db.engine.dispose()
    return matches, api_ms, raw_ms


def drop_postgis() -> None:
    target = make_url(POSTGIS_URL)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def run(
    sizes: tuple[int, ...] = (100_000,),
    runs: int = 50,
    backends: tuple[str, ...] = ("spatialite", "postgis"),
) -> dict[str, dict[int, dict]]:
    """{backend: {size: {"matches", "api_ms": [...], "raw_ms": [...]}}}, a new database per
    backend and size (the PostGIS one dropped at the end)."""
    results: dict[str, dict[int, dict]] = {}
    with tempfile.TemporaryDirectory() as temp:
        try:
            for backend in backends:
                for size in sizes:
                    directory = Path(temp) / f"{backend}-{size}"
                    directory.mkdir()
                    matches, api, raw = bench_timings(backend, directory, size, runs)
                    results.setdefault(backend, {})[size] = {
                        "matches": matches,
                        "api_ms": api,
                        "raw_ms": raw,
                    }
        finally:
            if "postgis" in backends:
                drop_postgis()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--backends", default="spatialite,postgis")
    args = parser.parse_args()
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    results = []
    with tempfile.TemporaryDirectory() as temp:
        try:
            for backend in backends:
                results.append((backend, *bench(backend, Path(temp), args.assets, args.runs)))
        finally:
            if "postgis" in backends:
                drop_postgis()
    print(f"{args.assets} assets, bbox {QUERY_BOX}, median of {args.runs} runs")
    print(f"{'backend':<12}{'matches':>9}{'api ms':>10}{'raw ms':>10}{'ratio':>8}")
    for backend, matches, api_ms, raw_ms in results:
        ratio = api_ms / raw_ms
        print(f"{backend:<12}{matches:>9}{api_ms:>10.2f}{raw_ms:>10.2f}{ratio:>7.1f}×")


if __name__ == "__main__":
    main()
