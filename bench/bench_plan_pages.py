"""The plan and contractor pages on a loaded province: what each counts per plan or company.

Usage: .venv/bin/python bench/bench_plan_pages.py --database-url URL [--runs 9]
           [--code DIR] [--label NAME]

``--database-url`` names a province already loaded (``flask demo province``, or a copy of one:
``createdb -T``); signing in writes session rows there, nothing else. ``--code`` imports the
app from another checkout (say the main one, for a before/after in one shell command: run
this script alternately with and without it). Through the app's test client, each page after
a warm-up, the median and the fastest of ``--runs`` runs:

- as the province's administrator: ``/plans/``, the first plan's page, ``/api/v1/plans``
  (each counts the assets every plan covers), ``/contractors/`` and the biggest company's
  page (each counts a company's open inspections);
- as the first contractor user: their home ``/`` (their open work, due now and soon).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(client, path: str, runs: int, headers: dict | None = None) -> tuple[float, float, int]:
    """(median ms, fastest ms, bytes) of ``runs`` GETs after one warm-up."""
    times = []
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), len(response.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))

    from sqlalchemy import func, select

    from accounts.models import User
    from accounts.services import issue_api_token
    from app import create_app
    from core.extensions import db
    from demo.province import EMAIL_DOMAIN, PASSWORDS
    from inspections.models import Inspection, InspectionPlan, InspectionStatus

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": args.database_url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SCHEDULER_ENABLED": False,
        }
    )
    admin_email = f"admin@{EMAIL_DOMAIN}"
    with app.app_context():
        plan_id = db.session.scalar(select(func.min(InspectionPlan.id)))
        biggest = db.session.execute(
            select(Inspection.contractor_id)
            .where(Inspection.status == InspectionStatus.SCHEDULED)
            .group_by(Inspection.contractor_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar()
        contractor_email = db.session.scalar(
            select(User.email).where(User.role == "contractor").order_by(User.id).limit(1)
        )
        admin = db.session.scalar(select(User).where(User.email == admin_email))
        token = issue_api_token(admin, "bench_plan_pages")
        db.session.commit()
    pages = [
        (admin_email, PASSWORDS["admin"], "/plans/"),
        (admin_email, PASSWORDS["admin"], f"/plans/{plan_id}"),
        (admin_email, PASSWORDS["admin"], "/api/v1/plans"),
        (admin_email, PASSWORDS["admin"], "/contractors/"),
        (admin_email, PASSWORDS["admin"], f"/contractors/{biggest}"),
        (contractor_email, PASSWORDS["contractor"], "/"),
    ]
    clients = {}
    for email, password, path in pages:
        if email not in clients:
            clients[email] = app.test_client()
            signed_in = clients[email].post("/login", data={"email": email, "password": password})
            assert signed_in.status_code in (302, 303), (email, signed_in.status_code)
        headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else None
        median, fastest, size = timed(clients[email], path, args.runs, headers)
        who = email.split("@")[0]
        print(
            f"{args.label:8s} {who:12s} {median:8.1f} ms median {fastest:8.1f} ms fastest "
            f"{size:8d} B  {path}",
            flush=True,
        )


if __name__ == "__main__":
    main()
