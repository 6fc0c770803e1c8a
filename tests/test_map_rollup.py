"""The map's roll-up (``maps.rollup``, issue 14): zoomed-out clusters of a large registry read
from cells counted in advance, equal to a live recount; live whenever the roll-up cannot
answer (another day, a contractor, text search, a small view); one consistent roll-up when
two processes refresh at once; the scheduler's job refreshes after a write."""

from __future__ import annotations

import math
import select as fd_select
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from accounts.models import Contractor, User
from accounts.services import user_by_email
from assets.models import Asset, AssetStatus, Grid
from core.extensions import db
from core.versions import current_version
from demo.province import PASSWORDS, Province, load_province
from maps import rollup, viewport
from maps.models import ALL_GRIDS_KEY, MapCell, MapRollup
from maps.rollup import (
    LEVELS,
    cell_degrees,
    refresh_map_rollup,
    refresh_when_changed,
)
from maps.status import MAP_STATUSES, MapFilters, map_assets_query
from maps.viewport import View, cell_size
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 3, 16)
NOW = datetime.combine(TODAY, time(10), ZoneInfo("Asia/Shanghai"))
ASSETS = "/api/v1/map/assets"
PROVINCE_ASSETS, PROVINCE_INSPECTIONS, SEED = 1200, 6000, 7
PROCESS_TIMEOUT = 60


@pytest.fixture
def province(app, frozen_clock):
    """A small synthetic province on the test database, its roll-up not yet built."""
    frozen_clock.set(NOW)
    with app.app_context():
        load_province(Province(PROVINCE_ASSETS, PROVINCE_INSPECTIONS, SEED, TODAY))
        factories.gen_user("officer@example.org", "officer")
        factories.gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
        db.session.commit()
        west, south, east, north = db.session.execute(
            select(
                func.min(func.ST_X(Asset.location)),
                func.min(func.ST_Y(Asset.location)),
                func.max(func.ST_X(Asset.location)),
                func.max(func.ST_Y(Asset.location)),
            )
        ).one()
    return f"{west - 0.01:.6f},{south - 0.01:.6f},{east + 0.01:.6f},{north + 0.01:.6f}"


@pytest.fixture
def small_limits(monkeypatch):
    """A province of a thousand assets behaves as one of a million: few points, a low bar."""
    monkeypatch.setattr(viewport, "POINT_LIMIT", 50)
    monkeypatch.setattr(rollup, "THRESHOLD", 100)


def signed_in(client, email: str = "officer@example.org"):
    response = client.post("/login", data={"email": email, "password": factories.PASSWORD})
    assert response.status_code == 302
    return client


def live_reference(app, filters: MapFilters | None = None) -> dict[str, tuple]:
    """code -> (status, longitude, latitude) by the map page's own query, now."""
    with app.app_context():
        rows = db.session.execute(map_assets_query(filters or MapFilters(), None, TODAY)).all()
        return {row.code: (row.map_status, row.longitude, row.latitude) for row in rows}


def live_reference_for(app, email: str) -> dict[str, tuple]:
    with app.app_context():
        user = user_by_email(email)
        rows = db.session.execute(map_assets_query(MapFilters(), user, TODAY)).all()
        return {row.code: (row.map_status, row.longitude, row.latitude) for row in rows}


def snapped_cell(view: View) -> tuple[float, int, int]:
    """(roll-up cell degrees, cells across, cells down) of the view's clusters."""
    width, height = cell_size(view)
    level = next(level for level in LEVELS if cell_degrees(level) <= min(width, height) / 2)
    size = cell_degrees(level)
    return size, max(1, math.ceil(width / size)), max(1, math.ceil(height / size))


def assert_equals_recount(answer: dict, reference: dict, view: View) -> None:
    """Every cluster equals a recount of the reference's assets in its snapped cell; no
    asset is missing; the totals per status are the reference's."""
    size, across, down = snapped_cell(view)
    cells: dict[tuple[int, int], list] = {}
    for status, longitude, latitude in reference.values():
        key = (
            math.floor((longitude + 180) / size) // across,
            math.floor((latitude + 90) / size) // down,
        )
        cells.setdefault(key, []).append((status, longitude, latitude))
    found = set()
    for cluster in answer["clusters"]:
        (south, west), (north, east) = cluster["bounds"]
        key = (math.floor((west + 180) / size) // across, math.floor((south + 90) / size) // down)
        members = cells[key]
        found.add(key)
        counts = Counter(status for status, _lon, _lat in members)
        assert cluster["count"] == len(members)
        assert cluster["counts"] == {status: counts.get(status, 0) for status in MAP_STATUSES}
        assert cluster["worst"] == next(status for status in MAP_STATUSES if counts[status])
        assert cluster["lon"] == pytest.approx(sum(m[1] for m in members) / len(members), abs=2e-6)
        assert cluster["lat"] == pytest.approx(sum(m[2] for m in members) / len(members), abs=2e-6)
        assert south == pytest.approx(min(m[2] for m in members), abs=2e-6)
        assert north == pytest.approx(max(m[2] for m in members), abs=2e-6)
        assert west == pytest.approx(min(m[1] for m in members), abs=2e-6)
        assert east == pytest.approx(max(m[1] for m in members), abs=2e-6)
    assert found == set(cells)
    totals = Counter()
    for cluster in answer["clusters"]:
        totals.update(cluster["counts"])
    assert sum(cluster["count"] for cluster in answer["clusters"]) == len(reference)
    expected = Counter(status for status, *_xy in reference.values())
    assert {status: totals[status] for status in MAP_STATUSES} == {
        status: expected[status] for status in MAP_STATUSES
    }


def parse(text: str):
    from core.spatial import BBox

    return BBox(*(float(part) for part in text.split(",")))


# --- Equal to a live recount ------------------------------------------------------------------


@pytest.mark.parametrize("zoom", [8, 10, 12, 14, 15])
def test_rolled_up_clusters_equal_a_live_recount(app, client, province, small_limits, zoom):
    with app.app_context():
        build = refresh_map_rollup()
        assert build.assets == PROVINCE_ASSETS
    signed_in(client)
    answer = client.get(f"{ASSETS}?zoom={zoom}&bbox={province}").get_json()
    assert answer["mode"] == "clusters"
    assert answer["as_of"] == build.built_at.isoformat()
    assert answer["stale"] is False
    assert_equals_recount(answer, live_reference(app), View(parse(province), zoom))


@pytest.mark.parametrize(
    "filters",
    [
        MapFilters(status="red"),
        MapFilters(kind="charging_station"),
        MapFilters(kind="elevator_blocker", status="green"),
        MapFilters(grid="C01"),
        MapFilters(grid="C02-01-01"),
    ],
)
def test_filters_from_the_roll_up_equal_a_live_recount(
    app, client, province, small_limits, monkeypatch, filters
):
    monkeypatch.setattr(rollup, "THRESHOLD", 1)
    with app.app_context():
        refresh_map_rollup()
        grids = set(db.session.scalars(select(Grid.code)))
    assert filters.grid in grids | {""}
    signed_in(client)
    query = "&".join(f"{key}={value}" for key, value in filters.as_args().items())
    answer = client.get(f"{ASSETS}?zoom=12&bbox={province}&{query}").get_json()
    reference = live_reference(app, filters)
    assert reference  # the filter matches something
    if len(reference) <= viewport.POINT_LIMIT:
        assert answer["mode"] == "points"
        return
    assert answer["mode"] == "clusters"
    assert "as_of" in answer
    assert_equals_recount(answer, reference, View(parse(province), 12))


def test_every_level_counts_every_asset_once(app, province):
    with app.app_context():
        build = refresh_map_rollup()
        located = db.session.scalar(
            select(func.count()).select_from(Asset).where(Asset.location.is_not(None))
        )
        assert build.assets == located == PROVINCE_ASSETS
        for level in LEVELS:
            for all_grids in (True, False):
                key = MapCell.grid_key == ALL_GRIDS_KEY
                total = db.session.scalar(
                    select(func.sum(MapCell.count)).where(
                        MapCell.level == level, key if all_grids else ~key
                    )
                )
                assert total == located, (level, all_grids)


# --- Live when the roll-up cannot answer --------------------------------------------------------


def is_rolled_up(answer: dict) -> bool:
    return "as_of" in answer


def test_a_roll_up_of_another_day_is_not_used(app, client, province, small_limits, frozen_clock):
    with app.app_context():
        refresh_map_rollup()
    signed_in(client)
    view = f"{ASSETS}?zoom=12&bbox={province}"
    assert is_rolled_up(client.get(view).get_json())
    frozen_clock.set(NOW + timedelta(days=1))
    signed_in(client)  # yesterday's session has ended
    answer = client.get(view).get_json()
    assert answer["mode"] == "clusters"
    assert not is_rolled_up(answer)  # live: tomorrow's overdue are not yesterday's
    with app.app_context():
        refresh_map_rollup()
    assert is_rolled_up(client.get(view).get_json())


def test_a_contractor_and_text_search_are_answered_live(app, client, province, small_limits):
    with app.app_context():
        refresh_map_rollup()
        contractor = db.session.scalar(select(func.min(Contractor.id)))
    signed_in(client)
    base = f"{ASSETS}?zoom=12&bbox={province}"
    assert is_rolled_up(client.get(base).get_json())
    assert not is_rolled_up(client.get(f"{base}&q=C01").get_json())
    assert not is_rolled_up(client.get(f"{base}&contractor={contractor}").get_json())
    client.post("/logout")
    with app.app_context():  # an inspector of one of the province's contractors
        inspector = db.session.scalar(
            select(User).where(User.role == "contractor").order_by(User.id).limit(1)
        )
        own = live_reference_for(app, inspector.email)
    response = client.post(
        "/login", data={"email": inspector.email, "password": PASSWORDS["contractor"]}
    )
    assert response.status_code == 302
    answer = client.get(base).get_json()
    assert answer["mode"] == "clusters"
    assert not is_rolled_up(answer)
    assert sum(cluster["count"] for cluster in answer["clusters"]) == len(own)
    assert 50 < len(own) < PROVINCE_ASSETS  # its own company's assets only


def test_a_small_view_is_answered_live(app, client, province, small_limits, monkeypatch):
    with app.app_context():
        refresh_map_rollup()
    signed_in(client)
    view = f"{ASSETS}?zoom=12&bbox={province}"
    assert is_rolled_up(client.get(view).get_json())
    monkeypatch.setattr(rollup, "THRESHOLD", PROVINCE_ASSETS)  # the box holds no more
    answer = client.get(view).get_json()
    assert answer["mode"] == "clusters"
    assert not is_rolled_up(answer)
    assert_equals_live_cells(app, answer, View(parse(province), 12))


def assert_equals_live_cells(app, answer: dict, view: View) -> None:
    width, height = cell_size(view)
    keys = Counter()
    for _status, longitude, latitude in live_reference(app).values():
        keys[(math.floor((longitude + 180) / width), math.floor((latitude + 90) / height))] += 1
    assert sorted(cluster["count"] for cluster in answer["clusters"]) == sorted(keys.values())


def test_without_a_build_every_view_is_live(app, client, province, small_limits):
    signed_in(client)
    answer = client.get(f"{ASSETS}?zoom=12&bbox={province}").get_json()
    assert answer["mode"] == "clusters"
    assert not is_rolled_up(answer)


# --- Staleness, the ETag and the script's note -------------------------------------------------


def test_a_write_after_the_build_is_stale_until_the_next(app, client, province, small_limits):
    with app.app_context():
        refresh_map_rollup()
    signed_in(client)
    view = f"{ASSETS}?zoom=12&bbox={province}"
    first = client.get(view)
    assert first.get_json()["stale"] is False
    with app.app_context():
        asset = db.session.scalar(select(Asset).where(Asset.status == "active").limit(1))
        asset.status = AssetStatus.RETIRED
        db.session.commit()
    stale = client.get(view, headers={"If-None-Match": first.headers["ETag"]})
    assert stale.status_code == 200
    assert stale.get_json()["stale"] is True
    assert stale.get_json()["as_of"] == first.get_json()["as_of"]
    with app.app_context():
        refresh_map_rollup()
    fresh = client.get(view, headers={"If-None-Match": stale.headers["ETag"]})
    assert fresh.status_code == 200  # a new build is a new answer, the data version alike
    assert fresh.get_json()["stale"] is False
    assert_equals_recount(fresh.get_json(), live_reference(app), View(parse(province), 12))


# --- Refresh: the job, the command, two at once --------------------------------------------------


def test_the_scheduled_job_refreshes_after_a_write_and_on_a_new_day(app, province, frozen_clock):
    with app.app_context():
        first = refresh_when_changed()
        assert first.startswith(f"{PROVINCE_ASSETS} assets")
        assert refresh_when_changed() == "unchanged"
        asset = db.session.scalar(select(Asset).where(Asset.status == "active").limit(1))
        asset.status = AssetStatus.FAULTY
        db.session.commit()
        version = current_version(db.session)
        assert refresh_when_changed() != "unchanged"
        state = db.session.scalar(select(MapRollup))
        assert state.data_version == version
        red = db.session.scalar(
            select(func.sum(MapCell.count)).where(
                MapCell.level == LEVELS[0],
                MapCell.grid_key == ALL_GRIDS_KEY,
                MapCell.status == "red",
            )
        )
        assert red == sum(1 for status, *_xy in live_reference(app).values() if status == "red")
        assert refresh_when_changed() == "unchanged"
    frozen_clock.set(NOW + timedelta(days=1))
    with app.app_context():
        assert refresh_when_changed() != "unchanged"
        assert db.session.scalar(select(MapRollup.built_for)) == TODAY + timedelta(days=1)


def test_the_job_is_registered_every_few_minutes(app):
    from core.scheduler import registered_jobs

    job = next(job for job in registered_jobs(app) if job.job_id == rollup.JOB_ROLLUP)
    trigger = job.trigger(app.config)
    assert trigger.interval == timedelta(minutes=app.config["MAP_ROLLUP_MINUTES"])
    assert job.at_start is not None


def test_the_command_rebuilds(app, runner, province):
    result = runner.invoke(args=["maps", "rollup"])
    assert result.exit_code == 0, result.output
    assert f"{PROVINCE_ASSETS} assets" in result.output
    result = runner.invoke(args=["maps", "rollup", "--if-changed"])
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
from maps.rollup import refresh_map_rollup
from tests.helpers import test_config
app = create_app(test_config(sys.argv[1]))
with app.app_context():
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
print("READY", flush=True)
for line in sys.stdin:
    with app.app_context():
        build = refresh_map_rollup()
        print("BUILT", build.cells, flush=True)
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
def test_two_racing_refreshes_leave_one_consistent_roll_up(app, database_url, province):
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
                cells = db.session.scalar(select(func.count()).select_from(MapCell))
                assert built[0] == f"BUILT {cells}"
                for level in LEVELS:
                    total = db.session.scalar(
                        select(func.sum(MapCell.count)).where(
                            MapCell.level == level, MapCell.grid_key == ALL_GRIDS_KEY
                        )
                    )
                    assert total == PROVINCE_ASSETS, level
                db.session.remove()
    finally:
        for process in processes:
            try:
                _out, err = process.communicate(timeout=PROCESS_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            assert process.returncode == 0, err
