"""Every page and API read, per role, at two or more registry sizes: what grows with the registry.

Usage: .venv/bin/python bench/bench_pages.py [--sizes 10000,100000] [--per-asset 10]
           [--backend postgis|spatialite] [--runs 5] [--database-url URL ...]

Issue 14's aim is that the cost of one user's view does not grow with the registry. The other
benches time the views the issue names; this one times every GET route a person reaches
(``ROUTES``: pages, popups and API reads; the exports, the calendar file and the photos are
timed by ``bench_province``), as each role sees it: an admin, the province's officer, a grid
officer (the first second-level grid's) and the user of the contractor with the most
inspections (``CONTRACTOR_ROUTES``, what a contractor reaches). The route's values (an asset
code, a hazard code, an inspection id…) are the first the role may see.

Per size a province of that many assets (``--per-asset`` inspections each) is loaded into a
new database (PostGIS: ``bench_pages_<size>`` on 127.0.0.1:5432, dropped after; SpatiaLite:
a file in a temporary directory), or ``--database-url`` (once per size, smallest first) names
one already loaded; it is only read (plus the API tokens and sign-ins the bench makes).

Each route: status, median and p95 (``--runs`` runs after a warm-up, through the test client:
server time, no network) and bytes, per size; then the largest size's median over the
smallest's and the same for the bytes. A row is marked "grows" when its time grew more than
``GROWS`` times and is over ``SLOW_MS`` at the largest size, or its bytes grew more than
``GROWS`` times and are over ``BIG_BYTES``: a view whose cost follows the registry.
``run(...)`` returns the figures as a dict. GET routes of the app that are neither timed nor
knowingly left out (``NOT_TIMED``) are listed, so that a new page is not missed silently.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bench_province import backend_of, drop_postgis_database, loaded_size  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from accounts.models import Contractor, User  # noqa: E402
from accounts.services import issue_api_token  # noqa: E402
from app import create_app  # noqa: E402
from assets.models import Asset, Grid  # noqa: E402
from core.extensions import db  # noqa: E402
from demo.province import EMAIL_DOMAIN, PASSWORDS, Province, load_province  # noqa: E402
from hazards.models import Hazard  # noqa: E402
from inspections.models import Inspection, InspectionPlan, InspectionStatus  # noqa: E402
from tests.conftest import recreate_postgis_database, test_config  # noqa: E402

POSTGIS_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_pages_{size}"
GROWS = 2.0  # times, smallest size to largest
SLOW_MS = 50.0
BIG_BYTES = 100_000
BBOX = "118,36,120,37"  # a part of the synthetic province

ROUTES = (
    "/",
    "/dashboard",
    "/dashboard/grids",
    "/alerts/",
    "/assets/",
    "/assets/{asset}",
    "/assets/{asset}/edit",
    "/assets/{asset}/label",
    "/assets/labels",
    "/assets/new",
    "/calendar/",
    "/contractors/",
    "/contractors/{contractor}",
    "/contractors/{contractor}/edit",
    "/contractors/new",
    "/hazards/",
    "/hazards/{hazard}",
    "/hazards/{hazard}/edit",
    "/hazards/new",
    "/imports/",
    "/inspections/",
    "/inspections/?status=overdue",
    "/inspections/{inspection}",
    "/inspections/offline.json",
    "/map",
    "/map/popup/{asset}",
    "/map/hazard-popup/{hazard}",
    "/plans/",
    "/plans/{plan}",
    "/plans/{plan}/edit",
    "/plans/new",
    "/profile",
    "/users/",
    "/users/{user}",
    "/users/new",
    "/api/v1/assets",
    "/api/v1/assets/{asset}",
    "/api/v1/grids",
    "/api/v1/hazards",
    "/api/v1/hazards/{hazard}",
    "/api/v1/inspections",
    "/api/v1/inspections?status=overdue",
    "/api/v1/inspections/{inspection}",
    "/api/v1/plans",
    "/api/v1/plans/{plan}",
    f"/api/v1/map/assets?zoom=12&bbox={BBOX}",
    f"/api/v1/map/grids?bbox={BBOX}&choropleth=1",
    f"/api/v1/map/hazards?bbox={BBOX}",
)
CONTRACTOR_ROUTES = (
    "/",
    "/assets/",
    "/assets/{asset}",
    "/calendar/",
    "/hazards/",
    "/hazards/new",
    "/inspections/",
    "/inspections/?status=overdue",
    "/inspections/{inspection}",
    "/inspections/{inspection}/log",
    "/inspections/asset/{asset}/next",
    "/inspections/offline.json",
    "/map",
    "/map/popup/{asset}",
    "/profile",
    "/api/v1/assets",
    "/api/v1/assets/{asset}",
    "/api/v1/hazards",
    "/api/v1/inspections",
    "/api/v1/inspections?status=overdue",
    "/api/v1/inspections/{inspection}",
    f"/api/v1/map/assets?zoom=12&bbox={BBOX}",
)
# GET routes timed elsewhere or that do not depend on the registry's size.
NOT_TIMED = {
    "/assets/export.csv": "bench_province (streamed exports)",
    "/assets/export.xlsx": "bench_province (streamed exports)",
    "/hazards/export.csv": "bench_province",
    "/hazards/export.xlsx": "bench_province",
    "/inspections/export.csv": "bench_province",
    "/inspections/export.xlsx": "bench_province",
    "/calendar/<token>.ics": "bench_province",
    "/assets/<code>/label.png": "one asset's QR code",
    "/assets/<code>/label.svg": "one asset's QR code",
    "/hazards/photos/<int:photo_id>": "a stored file",
    "/inspections/photos/<int:photo_id>": "a stored file",
    "/alerts/<week>": "one week's stored run",
    "/alerts/deliveries/<int:delivery_id>": "one stored email",
    "/imports/<token>": "one uploaded file's preview",
    "/lang/<code>": "a redirect",
    "/login": "no data",
    "/healthz": "no data",
    "/manifest.webmanifest": "no data",
    "/sw.js": "no data",
    "/api/v1/openapi.json": "no data",
    "/map/static/<path:filename>": "a static file",
    "/static/<path:filename>": "a static file",
}


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    password: str
    routes: tuple[str, ...]


def people(contractor_email: str) -> list[Person]:
    return [
        Person("admin", f"admin@{EMAIL_DOMAIN}", PASSWORDS["admin"], ROUTES),
        Person("officer", f"officer@{EMAIL_DOMAIN}", PASSWORDS["officer"], ROUTES),
        Person("grid officer", grid_officer_email(), PASSWORDS["officer"], ROUTES),
        Person("contractor", contractor_email, PASSWORDS["contractor"], CONTRACTOR_ROUTES),
    ]


def grid_officer_email() -> str:
    code = db.session.scalar(select(Grid.code).where(Grid.level == 2).order_by(Grid.code))
    return f"{code.lower()}@{EMAIL_DOMAIN}"


def biggest_contractor_user() -> User:
    contractor_id = db.session.execute(
        select(Inspection.contractor_id)
        .group_by(Inspection.contractor_id)
        .order_by(func.count().desc())
        .limit(1)
    ).scalar_one()
    return db.session.scalars(
        select(User).where(User.contractor_id == contractor_id).order_by(User.id)
    ).first()


def values_for(user: User) -> dict[str, Any]:
    """The first asset, hazard, inspection, plan, contractor and user ``user`` may see."""
    contractor_id = user.contractor_id
    if contractor_id is None:
        asset = db.session.scalar(select(Asset.code).order_by(Asset.id).limit(1))
        hazard = db.session.scalar(select(Hazard.code).order_by(Hazard.id).limit(1))
        inspection = db.session.scalar(select(Inspection.id).order_by(Inspection.id).limit(1))
    else:
        # The contractor's next scheduled inspection, its asset, and a hazard it owns.
        inspection, asset = db.session.execute(
            select(Inspection.id, Asset.code)
            .join(Asset, Asset.id == Inspection.asset_id)
            .where(
                Inspection.contractor_id == contractor_id,
                Inspection.status == InspectionStatus.SCHEDULED,
            )
            .order_by(Inspection.due_on, Inspection.id)
            .limit(1)
        ).one()
        hazard = db.session.scalar(
            select(Hazard.code)
            .where(
                (Hazard.reported_by_contractor_id == contractor_id)
                | (Hazard.responsible_contractor_id == contractor_id)
            )
            .order_by(Hazard.id)
            .limit(1)
        )
    return {
        "asset": asset,
        "hazard": hazard,
        "inspection": inspection,
        "plan": db.session.scalar(select(InspectionPlan.id).order_by(InspectionPlan.id)),
        "contractor": db.session.scalar(select(Contractor.id).order_by(Contractor.id)),
        "user": db.session.scalar(select(User.id).order_by(User.id)),
    }


def timed_get(client, path: str, headers: dict[str, str], runs: int) -> dict[str, Any]:
    """Status, bytes, median and p95 (ms) of ``runs`` GETs after a warm-up one."""
    times = []
    status = size = 0
    for number in range(runs + 1):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        size = sum(len(chunk) for chunk in response.response)
        elapsed = (time.perf_counter() - started) * 1000
        response.close()
        status = response.status_code
        if number:
            times.append(elapsed)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"status": status, "bytes": size, "median_ms": statistics.median(times), "p95_ms": p95}


def crawl(app, runs: int) -> dict[str, dict[str, dict[str, Any]]]:
    """{person: {route: figures}} on the app's loaded province."""
    with app.app_context():
        contractor_user = biggest_contractor_user()
        everyone = people(contractor_user.email)
        tokens, values = {}, {}
        for person in everyone:
            user = db.session.scalar(select(User).where(User.email == person.email))
            tokens[person.name] = issue_api_token(user, "bench_pages")
            values[person.name] = values_for(user)
        db.session.commit()
        db.session.remove()
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for person in everyone:
        client = app.test_client()
        signed_in = client.post("/login", data={"email": person.email, "password": person.password})
        if signed_in.status_code not in (302, 303):
            raise SystemExit(f"{person.email} could not sign in ({signed_in.status_code})")
        bearer = {"Authorization": f"Bearer {tokens[person.name]}"}
        rows = figures[person.name] = {}
        for route in person.routes:
            known = values[person.name]
            if any(f"{{{name}}}" in route and known[name] is None for name in known):
                continue  # nothing of that kind for this person in this province
            path = route.format(**known)
            rows[route] = timed_get(client, path, bearer if path.startswith("/api/") else {}, runs)
    return figures


def untimed_routes(app) -> list[str]:
    """GET routes neither in ``ROUTES``/``CONTRACTOR_ROUTES`` nor in ``NOT_TIMED``."""
    timed = {route.split("?")[0] for route in (*ROUTES, *CONTRACTOR_ROUTES)}
    left = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule in NOT_TIMED:
            continue
        pattern = rule.rule
        for argument in rule.arguments:
            for converter in ("", "int:", "path:"):
                pattern = pattern.replace(f"<{converter}{argument}>", "{}")
        if not any(pattern == _placeholders(route) for route in timed):
            left.append(rule.rule)
    return sorted(left)


def _placeholders(route: str) -> str:
    parts = route.split("{")
    return parts[0] + "".join("{}" + part.split("}", 1)[1] for part in parts[1:])


def bench_size(backend: str, size: int, per_asset: int, runs: int, url: str | None) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        own = url is None
        if own:
            url = (
                f"sqlite:///{Path(directory) / 'province.sqlite'}"
                if backend == "spatialite"
                else recreate_postgis_database(POSTGIS_URL.format(size=size))
            )
        app = create_app(test_config(url, TESTING=False, PHOTO_DIR=str(Path(directory) / "photos")))
        try:
            with app.app_context():
                if own:
                    upgrade()
                    load_province(Province(size, size * per_asset))
                db.session.remove()
            assets, inspections = loaded_size(url)
            return {
                "assets": assets,
                "inspections": inspections,
                "routes": crawl(app, runs),
                "untimed": untimed_routes(app),
            }
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if own and backend == "postgis":
                drop_postgis_database(url)


def growth(sizes: list[dict]) -> list[dict[str, Any]]:
    """Per person and route: each size's figures and the largest over the smallest."""
    smallest, largest = sizes[0], sizes[-1]
    rows = []
    for person, routes in largest["routes"].items():
        for route, last in routes.items():
            first = smallest["routes"].get(person, {}).get(route)
            if first is None:
                continue
            time_ratio = last["median_ms"] / first["median_ms"] if first["median_ms"] else None
            byte_ratio = last["bytes"] / first["bytes"] if first["bytes"] else None
            grows = (
                time_ratio is not None and time_ratio > GROWS and last["median_ms"] > SLOW_MS
            ) or (byte_ratio is not None and byte_ratio > GROWS and last["bytes"] > BIG_BYTES)
            rows.append(
                {
                    "person": person,
                    "route": route,
                    "figures": [size["routes"][person].get(route) for size in sizes],
                    "time_ratio": time_ratio,
                    "byte_ratio": byte_ratio,
                    "grows": grows,
                }
            )
    return rows


def run(
    sizes: tuple[int, ...] = (10_000, 100_000),
    per_asset: int = 10,
    backend: str = "postgis",
    runs: int = 5,
    database_urls: tuple[str, ...] = (),
) -> dict[str, Any]:
    """{"backend", "sizes": [{assets, inspections, routes, untimed}], "rows": growth rows}."""
    if database_urls:
        backend = backend_of(database_urls[0])
        measured = [bench_size(backend, 0, per_asset, runs, url) for url in database_urls]
    else:
        measured = [bench_size(backend, size, per_asset, runs, None) for size in sizes]
    measured.sort(key=lambda size: size["assets"])
    return {"backend": backend, "sizes": measured, "rows": growth(measured)}


def cell(figure: dict[str, Any] | None) -> str:
    """A size's median (bytes), marked "!" when the answer was not a 200."""
    if figure is None:
        return f"{'–':>24}"
    mark = "" if figure["status"] == 200 else "!"
    return f"{figure['median_ms']:>10.1f} ({figure['bytes']:>9,}){mark}"


def print_report(result: dict[str, Any]) -> None:
    sizes = result["sizes"]
    names = [f"{size['assets']:,}/{size['inspections']:,}" for size in sizes]
    print(f"{result['backend']}; assets/inspections: {', '.join(names)}; median ms (bytes)")
    header = "".join(f"{name:>24}" for name in names)
    print(f"  {'who':<13}{'route':<46}{header}{'time x':>8}{'bytes x':>9}")
    for row in sorted(result["rows"], key=lambda row: -(row["time_ratio"] or 0)):
        cells = "".join(cell(figure) for figure in row["figures"])
        times = f"{row['time_ratio']:>8.1f}" if row["time_ratio"] is not None else f"{'–':>8}"
        sized = f"{row['byte_ratio']:>9.1f}" if row["byte_ratio"] is not None else f"{'–':>9}"
        mark = "  grows" if row["grows"] else ""
        print(f"  {row['person']:<13}{row['route'][:45]:<46}{cells}{times}{sized}{mark}")
    statuses = {
        (row["person"], row["route"], figure["status"])
        for row in result["rows"]
        for figure in row["figures"]
        if figure and figure["status"] not in (200, 302, 403)
    }
    for person, route, status in sorted(statuses):
        print(f"  note: {person} {route} answered {status}")
    growing = [row for row in result["rows"] if row["grows"]]
    print(f"{len(growing)} of {len(result['rows'])} views grow with the registry")
    untimed = sizes[-1]["untimed"]
    if untimed:
        print("GET routes not timed and not listed in NOT_TIMED: " + ", ".join(untimed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="assets, comma separated")
    parser.add_argument("--per-asset", type=int, default=10)
    parser.add_argument("--backend", default="postgis", choices=("postgis", "spatialite"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--database-url",
        action="append",
        default=[],
        help="an already loaded province, once per size (--sizes and --backend not used)",
    )
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(",") if size.strip())
    result = run(sizes, args.per_asset, args.backend, args.runs, tuple(args.database_url))
    print_report(result)


if __name__ == "__main__":
    main()
