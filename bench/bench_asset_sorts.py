"""The asset list's sorts at province size: each sort's first page, timed server side, and
its page query's EXPLAIN ANALYZE.

Usage: .venv/bin/python bench/bench_asset_sorts.py --database-url URL [--runs 9]
           [--baseline CHECKOUT]

``URL`` names a PostGIS province loaded by ``flask demo province`` and upgraded to this
checkout's head. Each path is asked for through the app's test client signed in as the
province's officer (who sees every asset), ``--runs`` times after a warm-up: median and p95
in ms. The page's query (the one that reads the assets of the page, in the list's order) is
caught as the driver is sent it and run again under ``EXPLAIN (ANALYZE)``: its execution
time, and whether its plan sorts.

``--baseline CHECKOUT``: a checkout of another commit (``git worktree add``) whose schema
lacks this one's last migration. The database is first taken down one revision (so the
baseline reads the indexes it had), this file is run in a subprocess on the baseline's code,
then the database is upgraded again and this checkout is measured: ratios this / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OFFICER = "officer@province.example.cn"
SORTS = ("code", "name", "kind", "status", "grid", "installed_on")
FILTERED = (
    "/assets/?kind=charging_station&sort=name",
    "/assets/?kind=charging_station&sort=-installed_on",
    "/assets/?status=faulty&sort=name",
    "/assets/?grid={grid}&sort=installed_on",
    "/assets/?grid={grid}&sort=-kind",
)


def paths(first_grid: str) -> list[str]:
    listed = [f"/assets/?sort={sign}{sort}" for sort in SORTS for sign in ("", "-")]
    return listed + [path.format(grid=first_grid) for path in FILTERED]


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


def run(root: Path, database_url: str, runs: int) -> dict[str, dict]:
    sys.path.insert(0, str(root))
    from sqlalchemy import event, select

    from app import create_app
    from assets.models import Grid
    from core.extensions import db
    from tests.helpers import test_config

    app = create_app(test_config(database_url, TESTING=False))
    with app.app_context():
        first_grid = db.session.scalar(select(Grid.code).where(Grid.level == 1).order_by(Grid.code))
    pages = app.test_client()
    pages.post("/login", data={"email": OFFICER, "password": "province-officer-2026"})
    figures = {}
    caught: list[tuple[str, object]] = []

    def catch(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if "ORDER BY" in statement and "LIMIT" in statement and "FROM assets" in statement:
            caught.append((statement, parameters))

    for path in paths(first_grid):

        def show(path=path):
            response = pages.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        figures[path] = timed_ms(show, runs)
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", catch)
        caught.clear()
        show()
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", catch)
            statement, parameters = caught[0]
            connection = db.session.connection()
            plan = [
                row[0]
                for row in connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, FORMAT TEXT) " + statement, parameters
                )
            ]
            db.session.rollback()
        executed = next(line for line in plan if line.startswith("Execution Time"))
        figures[path]["explain_ms"] = float(executed.split()[2])
        figures[path]["sorts"] = any("Sort" in line for line in plan)
        figures[path]["first_node"] = plan[1].strip() if len(plan) > 1 else plan[0]
    return figures


def migrate(root: Path, database_url: str, revision: str, down: bool) -> None:
    """``flask db upgrade|downgrade revision`` of ``root``'s checkout on ``database_url``."""
    action = "downgrade" if down else "upgrade"
    command = [sys.executable, "-m", "flask", "--app", "app", "db", action, revision]
    environment = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run(command, cwd=root, env=environment, check=True, capture_output=True)


def head_revision_and_previous() -> tuple[str, str]:
    versions = sorted((ROOT / "migrations" / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    return versions[-1].name[:4], versions[-2].name[:4]


def baseline_figures(checkout: Path, database_url: str, runs: int) -> dict[str, dict]:
    command = [sys.executable, __file__, "--database-url", database_url, "--runs", str(runs)]
    command += ["--root", str(checkout), "--json"]
    answer = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=True)
    return json.loads(answer.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code runs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()
    before = None
    if options.baseline is not None:
        head, previous = head_revision_and_previous()
        migrate(ROOT, options.database_url, previous, down=True)
        try:
            before = baseline_figures(options.baseline, options.database_url, options.runs)
        finally:
            migrate(ROOT, options.database_url, head, down=False)
    figures = run(options.root, options.database_url, options.runs)
    if options.json:
        print(json.dumps(figures))
        return
    print(f"{options.database_url}, {options.runs} runs each after a warm-up (ms)")
    for path, now in figures.items():
        line = f"{path:52} median {now['median_ms']:7.1f} p95 {now['p95_ms']:7.1f}"
        line += f" explain {now['explain_ms']:7.1f}{' sort' if now['sorts'] else '     '}"
        if before is not None and path in before:
            was = before[path]
            line += f" | baseline median {was['median_ms']:7.1f} explain {was['explain_ms']:7.1f}"
            line += f"{' sort' if was['sorts'] else '     '}"
            line += f" ratio {now['median_ms'] / was['median_ms']:.3f}"
        print(line)


if __name__ == "__main__":
    main()
