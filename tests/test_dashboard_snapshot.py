"""The dashboard's snapshot (``dashboard.snapshot``, issue 14): a large registry's staff
dashboard read from numbers counted in advance renders the same page as counted live; live
whenever the snapshot cannot answer (a contractor, a second-level grid, another day, a small
registry); "Numbers as of HH:MM." once the data has moved since the build; the job and the
command rebuild; two processes building at once leave one consistent snapshot."""

from __future__ import annotations

import json
import re
import select as fd_select
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from accounts.services import user_by_email
from assets.models import Asset, AssetStatus, Grid
from core.extensions import db
from core.versions import current_version
from dashboard import snapshot
from dashboard.models import DashboardSnapshot
from dashboard.snapshot import (
    dashboard_counts,
    decoded,
    encoded,
    refresh_dashboard_snapshot,
    refresh_when_changed,
    snapshot_for,
)
from inspections.models import Inspection
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 3, 16)
NOW = datetime.combine(TODAY, time(10), ZoneInfo("Asia/Shanghai"))
PROCESS_TIMEOUT = 120
OFFICER, FIXER = "officer@example.org", "fixer@example.org"


@pytest.fixture
def demo(app, backend, backend_states, frozen_clock):
    """The demo district on the test database (loaded once a worker, then copied back), an
    officer and a contractor's user, and a threshold low enough for it to count as large; no
    snapshot built yet."""
    frozen_clock.set(NOW)
    app.config["DASHBOARD_SNAPSHOT_THRESHOLD"] = 10
    backend_states[backend].demo_district(app)
    with app.app_context():
        factories.gen_user(OFFICER, "officer")
        factories.gen_user(FIXER, "contractor", contractor="Fixers Ltd")
        db.session.commit()
        first_level = list(
            db.session.scalars(select(Grid.code).where(Grid.level == 1).order_by(Grid.code))
        )
        second_level = db.session.scalar(
            select(Grid.code).where(Grid.level == 2).order_by(Grid.code)
        )
    return {"first_level": first_level, "second_level": second_level}


def signed_in(client, email: str = OFFICER):
    response = client.post("/login", data={"email": email, "password": factories.PASSWORD})
    assert response.status_code == 302
    return client


def main_of(html: str) -> str:
    """The page's main content and the charts' data: what the numbers make."""
    main = re.search(r"<main>.*</main>", html, re.S)
    data = re.search(r'<script type="application/json" id="dashboard-data">.*?</script>', html)
    return main.group(0) + (data.group(0) if data else "")


def as_of_note(html: str) -> str | None:
    found = re.search(r'<p class="muted" id="numbers-as-of">(.*?)</p>', html)
    return found.group(1) if found else None


def without_note(html: str) -> str:
    return re.sub(r'<p class="muted" id="numbers-as-of">.*?</p>\n', "", html)


def page(client, path: str, language: str = "en") -> str:
    response = client.get(path, headers={"Accept-Language": language})
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def uses_snapshot(app, email: str, grid: str) -> bool:
    with app.test_request_context():
        return snapshot_for(user_by_email(email), grid) is not None


def retire_an_active_asset(app) -> None:
    with app.app_context():
        asset = db.session.scalar(
            select(Asset).where(Asset.status == AssetStatus.ACTIVE).order_by(Asset.code).limit(1)
        )
        asset.status = AssetStatus.RETIRED
        db.session.commit()


# --- The same page ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("grid_rows", [20, 4])
def test_the_page_from_the_snapshot_is_the_page_counted_live(
    app, client, demo, language, grid_rows
):
    app.config["DASHBOARD_GRID_ROWS"] = grid_rows
    signed_in(client)
    grids = ["", "all", *demo["first_level"]]
    paths = [f"/dashboard?grid={grid}" for grid in grids] + ["/", "/dashboard"]
    paths += [f"/dashboard/grids?grid={grid}" for grid in grids]
    paths += ["/dashboard/grids?sort=code", "/dashboard/grids?per_page=5&page=2"]
    app.config["DASHBOARD_SNAPSHOT_THRESHOLD"] = 10**9  # counted live
    live = {path: main_of(page(client, path, language)) for path in paths}
    app.config["DASHBOARD_SNAPSHOT_THRESHOLD"] = 10
    with app.app_context():
        build = refresh_dashboard_snapshot()
    assert build.grids == len(demo["first_level"])
    for grid in grids:
        assert uses_snapshot(app, OFFICER, grid), grid
    for path in paths:
        html = page(client, path, language)
        assert as_of_note(html) is None, path  # nothing written since the build
        assert main_of(html) == live[path], path


def test_the_counts_come_back_from_json_as_they_were_counted(app, district):
    """What lies in no grid is named in the reader's language, not the builder's."""
    with app.app_context():
        factories.gen_asset(factories.charging_station_data(1))
        outside = factories.gen_asset(factories.charging_station_data(2))
        factories.gen_inspection("CS-001", date(2026, 1, 5))
        factories.gen_inspection("CS-002", date(2026, 1, 6))
        outside.grid_id = None
        db.session.commit()
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        plain = json.loads(json.dumps(encoded(dashboard_counts(None, ""))))
        assert "无网格" not in json.dumps(plain, ensure_ascii=False)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        counts = dashboard_counts(None, "")
        assert any(row.name == "No grid" for row in counts["overdue_by_grid"])
        assert decoded(plain) == counts
        db.session.rollback()


# --- Stale, and live where the snapshot cannot answer -------------------------------------------


def test_a_write_after_the_build_shows_its_numbers_as_of_the_build(app, client, demo):
    with app.app_context():
        refresh_dashboard_snapshot()
    signed_in(client)
    before = page(client, "/dashboard")
    assert as_of_note(before) is None
    retire_an_active_asset(app)
    stale = page(client, "/dashboard")
    assert as_of_note(stale) == "Numbers as of 10:00."
    assert main_of(without_note(stale)) == main_of(before)  # the build's numbers
    assert "10:00" in as_of_note(page(client, "/dashboard", "zh"))
    assert as_of_note(page(client, "/dashboard/grids")) == "Numbers as of 10:00."
    with app.app_context():
        refresh_dashboard_snapshot()
    fresh = page(client, "/dashboard")
    assert as_of_note(fresh) is None
    assert main_of(fresh) != main_of(before)  # one more retired asset
    app.config["DASHBOARD_SNAPSHOT_THRESHOLD"] = 10**9
    assert main_of(page(client, "/dashboard")) == main_of(fresh)


def test_what_the_snapshot_cannot_answer_is_counted_live(app, client, demo, frozen_clock):
    with app.app_context():
        refresh_dashboard_snapshot()
    retire_an_active_asset(app)  # the snapshot is behind: a live answer has no note
    signed_in(client)
    assert as_of_note(page(client, "/dashboard")) is not None
    second_level = f"/dashboard?grid={demo['second_level']}"
    assert as_of_note(page(client, second_level)) is None
    assert not uses_snapshot(app, OFFICER, demo["second_level"])
    assert not uses_snapshot(app, OFFICER, "none")  # no grid
    # A contractor's dashboard
    contractor = app.test_client()
    signed_in(contractor, FIXER)
    assert as_of_note(page(contractor, "/dashboard")) is None
    assert not uses_snapshot(app, FIXER, "")
    # A registry under the threshold
    with app.app_context():
        inspections = db.session.scalar(select(func.count()).select_from(Inspection))
    app.config["DASHBOARD_SNAPSHOT_THRESHOLD"] = inspections
    assert as_of_note(page(client, "/dashboard")) is None
    assert not uses_snapshot(app, OFFICER, "")
    app.config["DASHBOARD_SNAPSHOT_THRESHOLD"] = inspections - 1
    assert uses_snapshot(app, OFFICER, "")
    # Another day
    frozen_clock.set(NOW + timedelta(days=1))
    signed_in(client)  # the sign-in of yesterday has ended
    assert as_of_note(page(client, "/dashboard")) is None
    assert not uses_snapshot(app, OFFICER, "")


def test_without_a_build_the_dashboard_is_live(app, client, demo):
    signed_in(client)
    assert as_of_note(page(client, "/dashboard")) is None
    assert not uses_snapshot(app, OFFICER, "")


# --- Refresh: the job, the command, two at once -------------------------------------------------


def test_the_scheduled_job_rebuilds_after_a_write_and_on_a_new_day(app, demo, frozen_clock):
    with app.app_context():
        assert refresh_when_changed().startswith("the district and 3 first-level grids")
        assert refresh_when_changed() == "unchanged"
        retired = db.session.scalar(
            select(func.count()).select_from(Asset).where(Asset.status == AssetStatus.RETIRED)
        )
    retire_an_active_asset(app)
    with app.app_context():
        version = current_version(db.session)
        assert refresh_when_changed() != "unchanged"
        rows = db.session.scalars(select(DashboardSnapshot)).all()
        assert {row.grid for row in rows} == {"", *demo["first_level"]}
        assert {row.data_version for row in rows} == {version}
        district = db.session.get(DashboardSnapshot, "")
        assert district.numbers["by_status"]["retired"] == retired + 1
        assert refresh_when_changed() == "unchanged"
    frozen_clock.set(NOW + timedelta(days=1))
    with app.app_context():
        assert refresh_when_changed() != "unchanged"
        assert db.session.scalar(
            select(DashboardSnapshot.built_for).where(DashboardSnapshot.grid == "")
        ) == TODAY + timedelta(days=1)


def test_the_job_is_registered_every_few_minutes(app):
    from core.scheduler import registered_jobs

    job = next(job for job in registered_jobs(app) if job.job_id == snapshot.JOB_SNAPSHOT)
    trigger = job.trigger(app.config)
    assert trigger.interval == timedelta(minutes=app.config["DASHBOARD_SNAPSHOT_MINUTES"])
    assert app.config["DASHBOARD_SNAPSHOT_MINUTES"] == 5
    assert job.at_start is not None


def test_the_command_rebuilds(app, runner, demo):
    result = runner.invoke(args=["dashboard", "snapshot"])
    assert result.exit_code == 0, result.output
    assert "dashboard snapshot: the district and 3 first-level grids" in result.output
    result = runner.invoke(args=["dashboard", "snapshot", "--if-changed"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


RACER = """
import sys
from datetime import datetime
from core import clock
clock.freeze(datetime.fromisoformat(sys.argv[2]))
from sqlalchemy import text
from app import create_app
from core.extensions import db
from dashboard.snapshot import refresh_dashboard_snapshot
from tests.helpers import test_config
app = create_app(test_config(sys.argv[1]))
with app.app_context():
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
print("READY", flush=True)
for line in sys.stdin:
    with app.app_context():
        build = refresh_dashboard_snapshot()
        print("BUILT", build.data_version, build.grids, flush=True)
"""


def answers(processes) -> list[str]:
    lines = []
    for process in processes:
        ready, _, _ = fd_select.select([process.stdout], [], [], PROCESS_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        if not line:
            process.kill()
            pytest.fail(f"a racer said nothing: {process.stderr.read()}")
        lines.append(line.strip())
    return lines


@pytest.mark.slow
def test_two_racing_builds_leave_one_consistent_snapshot(app, database_url, demo):
    with app.test_request_context():
        reference = json.loads(json.dumps(encoded(dashboard_counts(None, ""))))
        db.session.commit()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, database_url, NOW.isoformat()],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        assert answers(processes) == ["READY", "READY"]
        for _round in range(3):
            for process in processes:
                process.stdin.write("go\n")
            for process in processes:
                process.stdin.flush()
            built = answers(processes)
            assert len(set(built)) == 1 and built[0].startswith("BUILT"), built
            with app.app_context():
                rows = db.session.scalars(select(DashboardSnapshot)).all()
                assert sorted(row.grid for row in rows) == ["", *demo["first_level"]]
                assert len({(row.data_version, row.built_at) for row in rows}) == 1
                assert f"BUILT {rows[0].data_version} 3" == built[0]
                district = next(row for row in rows if row.grid == "")
                assert district.numbers == reference
                db.session.remove()
    finally:
        for process in processes:
            try:
                _out, err = process.communicate(timeout=PROCESS_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            assert process.returncode == 0, err


def test_the_numbers_are_read_once_per_build_and_language(app, client, demo):
    """A province's district row is a megabyte of JSON: each process reads and decodes a
    build's numbers once per language, not on every view, and again after the next build."""
    with app.app_context():
        refresh_dashboard_snapshot()
        engine = db.engine
    signed_in(client)
    reads: list[str] = []

    def note_numbers_read(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        if "dashboard_snapshots.numbers" in statement and "SELECT" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", note_numbers_read)
    try:
        english = page(client, "/dashboard")
        assert main_of(page(client, "/dashboard")) == main_of(english)
        assert len(reads) == 1
        page(client, "/dashboard", "zh")
        page(client, "/dashboard", "zh")
        assert len(reads) == 2
        retire_an_active_asset(app)
        stale = page(client, "/dashboard")  # the same build: not read again
        assert as_of_note(stale) and len(reads) == 2
        with app.app_context():
            refresh_dashboard_snapshot()  # the build reads its state row: not a view's read
        reads.clear()
        fresh = page(client, "/dashboard")
        assert len(reads) == 1 and main_of(fresh) != main_of(english)
    finally:
        event.remove(engine, "before_cursor_execute", note_numbers_read)
