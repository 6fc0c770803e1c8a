"""The paged lists' counts at province size: the API lists and ``/assets/``, timed server side.

Usage: .venv/bin/python bench/bench_api_counts.py --database-url URL [--runs 9]
           [--baseline CHECKOUT]

``URL`` names a province loaded by ``flask demo province`` (PostGIS or SpatiaLite); the
bench adds one API token for its officer and changes nothing else. Each path is asked for
through the app's test client (the API with the officer's bearer token, the pages signed in
as the officer), ``--runs`` times after a warm-up: median and p95 in ms, and whether the
answer carried ``numberMatched``. Counting every match for ``numberMatched`` (page 1 of a
list longer than a page is not its last) was most of ``GET /api/v1/inspections`` at 10M
inspections; the lists now count up to ``LIST_COUNT_CAP``.

``--baseline CHECKOUT``: a checkout of another commit (``git worktree add`` or
``git archive | tar -x``) holding this file; its bench is run first on the same database,
in a subprocess, then this one, and the ratios (this / baseline) are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.services import issue_api_token  # noqa: E402
from app import create_app  # noqa: E402
from core.extensions import db  # noqa: E402
from demo.province import EMAIL_DOMAIN, PASSWORDS  # noqa: E402
from tests.helpers import test_config  # noqa: E402

OFFICER = f"officer@{EMAIL_DOMAIN}"
API_PATHS = (
    "/api/v1/inspections",
    "/api/v1/inspections?status=overdue",
    "/api/v1/inspections?page=50",
    "/api/v1/assets",
    "/api/v1/hazards",
)
PAGE_PATHS = (
    "/assets/",
    "/assets/?page=50",
    "/assets/?sort=-code",
    "/assets/?sort=name",
    "/assets/?status=faulty",
)


def timed_ms(action, runs: int) -> dict[str, float]:
    """Median and p95 (the slowest of fewer than 20) of ``runs`` runs after a warm-up, ms."""
    action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"median_ms": statistics.median(times), "p95_ms": p95}


def officer_token(app) -> str:
    with app.app_context():
        officer = db.session.scalar(select(User).where(User.email == OFFICER))
        token = issue_api_token(officer)
        db.session.commit()
        return token


def run(database_url: str, runs: int) -> dict[str, dict]:
    app = create_app(test_config(database_url, TESTING=False))
    headers = {"Authorization": f"Bearer {officer_token(app)}"}
    figures = {}
    api = app.test_client()
    for path in API_PATHS:

        def get(path=path):
            response = api.get(path, headers=headers)
            assert response.status_code == 200, (path, response.status_code)
            return response

        counted = "numberMatched" in get().json
        figures[path] = {**timed_ms(get, runs), "numberMatched": counted}
    pages = app.test_client()
    pages.post("/login", data={"email": OFFICER, "password": PASSWORDS["officer"]})
    for path in PAGE_PATHS:

        def show(path=path):
            response = pages.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        figures[path] = timed_ms(show, runs)
    return figures


def baseline_figures(checkout: Path, database_url: str, runs: int) -> dict[str, dict]:
    command = [sys.executable, str(checkout / "bench" / Path(__file__).name)]
    command += ["--database-url", database_url, "--runs", str(runs), "--json"]
    answer = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=True)
    return json.loads(answer.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()
    before = None
    if options.baseline is not None:
        before = baseline_figures(options.baseline, options.database_url, options.runs)
    figures = run(options.database_url, options.runs)
    if options.json:
        print(json.dumps(figures))
        return
    print(f"{options.database_url}, {options.runs} runs each after a warm-up (ms)")
    for path, now in figures.items():
        line = f"{path:40} median {now['median_ms']:8.1f}  p95 {now['p95_ms']:8.1f}"
        if "numberMatched" in now:
            line += f"  numberMatched {'yes' if now['numberMatched'] else 'no '}"
        if before is not None and path in before:
            was = before[path]
            line += f"  | baseline median {was['median_ms']:8.1f}  p95 {was['p95_ms']:8.1f}"
            line += f"  ratio {now['median_ms'] / was['median_ms']:.3f}"
        print(line)


if __name__ == "__main__":
    main()
