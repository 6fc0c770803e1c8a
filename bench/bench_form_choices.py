"""Time the forms whose choices could grow with the registry (sites, property companies) on a
loaded province: page bytes and median time of each GET.

Usage: .venv/bin/python bench/bench_form_choices.py --database-url URL [--repeat 9]
(a database loaded by `flask demo province`; only pages are read. SAR_ROOT=/path/to/another
checkout times that checkout's code instead, e.g. main, for a before/after on one database.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("SAR_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from accounts.models import User  # noqa: E402
from app import create_app  # noqa: E402
from core.extensions import db  # noqa: E402

ADMIN = ("admin@province.example.cn", "province-admin-2026")
CONTRACTOR_PASSWORD = "province-inspect-2026"  # noqa: S105 - the synthetic province's
PAGES = {
    "admin": [
        "/hazards/new",
        "/hazards/{hazard}/edit",
        "/hazards/",
        "/assets/new",
        "/assets/{asset}/edit",
        "/plans/new",
        "/plans/{plan}/edit",
        "/users/new",
        "/users/{officer}",
    ],
    "contractor": ["/hazards/new", "/hazards/"],
}


def timed_pages(client, paths: list[str], repeat: int) -> list[tuple[str, int, int, float]]:
    """(path, status, bytes, median ms) of each path, the first (warming) request left out."""
    rows = []
    for path in paths:
        times = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            answer = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        rows.append((path, answer.status_code, len(answer.data), statistics.median(times[1:])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.database_url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SCHEDULER_ENABLED": False,
        }
    )
    with app.app_context():
        read = lambda sql: db.session.execute(text(sql)).scalar()  # noqa: E731
        values = {
            "asset": read("SELECT code FROM assets ORDER BY id LIMIT 1"),
            "hazard": read("SELECT code FROM hazards ORDER BY id LIMIT 1"),
            "plan": read("SELECT id FROM inspection_plans ORDER BY id LIMIT 1"),
            "officer": read("SELECT id FROM users WHERE role = 'officer' ORDER BY id LIMIT 1"),
        }
        contractor = db.session.scalar(
            select(User.email).where(User.role == "contractor").order_by(User.id)
        )
        sizes = {
            table: read(f"SELECT count(*) FROM {table}")
            for table in ("assets", "sites", "property_companies", "contractors", "grids")
        }
        db.session.remove()
    print(" ".join(f"{table}={count}" for table, count in sizes.items()), f"code={ROOT}")
    users = {"admin": ADMIN, "contractor": (contractor, CONTRACTOR_PASSWORD)}
    for role, paths in PAGES.items():
        client = app.test_client()
        email, password = users[role]
        signed_in = client.post("/login", data={"email": email, "password": password})
        assert signed_in.status_code in (302, 303), (email, signed_in.status_code)
        pages = [path.format(**values) for path in paths]
        for path, status, size, median in timed_pages(client, pages, args.repeat):
            print(f"{role:10s} {status} {median:8.1f} ms {size:9d} B  {path}", flush=True)


if __name__ == "__main__":
    main()
