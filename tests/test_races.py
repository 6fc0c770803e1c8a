"""Racing clients in real processes, on both databases: one result per inspection, one step per
hazard transition, hazard codes that never collide, and an import that waits for the web
app's writers instead of failing.

Each racer is its own OS process with its own connections and test client on the shared
database (forked from one app made once, as gunicorn --preload does). They connect, wait at a
barrier and are let go together, so the requests overlap however slowly they started.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from accounts.services import user_by_email
from assets.models import Asset
from assets.services import asset_by_code, retire_asset
from core import spatial
from core.audit import AuditEntry
from core.clock import district_today
from core.extensions import db
from hazards.models import Hazard, HazardEvent
from inspections.models import Inspection
from inspections.results import InspectionConflictError, cancel_inspection
from tests import factories
from tests.factories import CS_ITEMS, gen_asset, gen_inspection, gen_token, gen_user

ROOT = Path(__file__).resolve().parent.parent
PROCESS_TIMEOUT = 60
RACERS = 8

# The racers: one app is made (the slow part: about 3 s of CPU) and forked into one process
# per spec, as gunicorn --preload does; each child drops the inherited connections, makes its
# own and waits at a barrier with the others, then sends its requests one after the other and
# reports each answer's status and JSON. A "repeat" step is sent again (with {n} in it
# counting up) until the file "stop" exists (and "at_least" were sent) or "repeat" times. A
# "cli" step runs a command of the app (the code of `flask --app app …`): exit code, output.
LAUNCHER = r"""
import io, json, multiprocessing, os, sys, time
spec = json.loads(sys.argv[1])
from sqlalchemy import text
from app import create_app
from core.extensions import db
from tests.factories import png_bytes
from tests.helpers import test_config
app = create_app(test_config(spec["database_url"]))
with app.app_context():
    db.engine.dispose()

def run(number, racer, barrier, answers_queue):
    client = app.test_client()
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.remove()
    barrier.wait()
    time.sleep(racer.get("delay", 0))
    answers = []
    for step in racer["steps"]:
        if "cli" in step:
            result = app.test_cli_runner().invoke(args=step["cli"])
            failure = "" if result.exception is None else repr(result.exception)
            answers.append([result.exit_code, result.output[-2000:] + failure])
            continue
        repeat = step.get("repeat", 1)
        for n in range(repeat):
            if n >= step.get("at_least", 0) and os.path.exists(step.get("stop", "/nonexistent")):
                break
            body = json.loads(json.dumps(step["json"]).replace("{n}", str(n)))
            headers = {"Authorization": "Bearer " + step["token"]}
            if step.get("photo"):
                body["photos"] = (io.BytesIO(png_bytes()), "after.png")
                response = client.post(step["path"], headers=headers, data=body)
            else:
                response = client.post(step["path"], headers=headers, json=body)
            kept = response.get_json(silent=True) if repeat == 1 else None
            answers.append([response.status_code, kept])
    answers_queue.put((number, answers))

context = multiprocessing.get_context("fork")
barrier = context.Barrier(len(spec["racers"]) + 1)
answers_queue = context.Queue()
children = [
    context.Process(target=run, args=(number, racer, barrier, answers_queue))
    for number, racer in enumerate(spec["racers"])
]
for child in children:
    child.start()
barrier.wait(timeout=60)
outputs = [None] * len(children)
for _ in children:
    number, answers = answers_queue.get(timeout=120)
    outputs[number] = answers
    if number == 0 and spec.get("stop"):
        open(spec["stop"], "w").close()
for child in children:
    child.join(timeout=30)
print("ANSWERS " + json.dumps(outputs), flush=True)
sys.exit(max(abs(child.exitcode or 0) for child in children))
"""


def race(database_url: str, racers: list[dict], stop: Path | None = None) -> list[list]:
    """Run one racing process per item of ``racers``, all let go at once; each racer's answers
    ([status, json] per request), in order. With ``stop``, that file is made as soon as the
    first racer is done (the others repeat until then)."""
    spec = {"database_url": database_url, "racers": racers, "stop": str(stop) if stop else None}
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert launched.returncode == 0, launched.stderr[-4000:]
    lines = [line for line in launched.stdout.splitlines() if line.startswith("ANSWERS ")]
    assert lines, (launched.stdout[-2000:], launched.stderr[-4000:])
    return json.loads(lines[-1].removeprefix("ANSWERS "))


def failed_result(key: str) -> dict:
    answers = dict.fromkeys(CS_ITEMS, "pass")
    answers["no_flying_wire"] = "fail"
    return {"answers": answers, "result": "fail", "notes": key, "idempotency_key": key}


def count(model, *conditions) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


@pytest.fixture
def station(app, district, officer, contractor_user):
    """CS-001 with a scheduled inspection for Fixers Ltd; tokens of the fixer and the officer."""
    with app.app_context():
        gen_asset(factories.charging_station_data(1))
        inspection = gen_inspection("CS-001", district_today() + timedelta(days=2))
        tokens = {"fixer": gen_token(contractor_user), "officer": gen_token(officer)}
        db.session.commit()
        return {"inspection": inspection.id, **tokens}


@pytest.mark.slow
def test_eight_clients_logging_one_inspection_write_one_result(app, database_url, station):
    """Four racers send one key (a phone's outbox sent four times), four their own: exactly
    one result is written; the same key answers the original, any other key is a conflict."""
    keys = ["outbox-key"] * 4 + [f"device-{number}" for number in range(4)]
    path = f"/api/v1/inspections/{station['inspection']}/result"
    specs = [
        {"steps": [{"path": path, "token": station["fixer"], "json": failed_result(key)}]}
        for key in keys
    ]
    answers = [racer[0] for racer in race(database_url, specs)]

    statuses = [status for status, _body in answers]
    assert statuses.count(201) == 1, answers
    winner_key = keys[statuses.index(201)]
    for key, (status, body) in zip(keys, answers, strict=True):
        if status == 201:
            continue
        expected = 200 if key == winner_key else 409
        assert status == expected, (key, winner_key, answers)
        if status == 200:
            assert body["notes"] == winner_key
    with app.app_context():
        inspection = db.session.get(Inspection, station["inspection"])
        assert inspection.status == "completed"
        assert inspection.idempotency_key == winner_key and inspection.notes == winner_key
        assert count(Hazard) == 1
        assert count(Hazard, Hazard.inspection_id == inspection.id) == 1
        completions = count(
            AuditEntry, AuditEntry.entity_type == "inspection", AuditEntry.action == "complete"
        )
        assert completions == 1


@pytest.mark.slow
def test_racing_hazard_steps_from_one_status_record_one_step(app, database_url, station):
    """A rectified hazard: four officers verify it, four return it for rework, at once.
    Whichever comes first is the one step; the others find it moved on (409)."""
    with app.app_context():
        factories.gen_hazard("HZ-2026-0001", "general", "CS-001", status="rectified")
        db.session.commit()
    path = "/api/v1/hazards/HZ-2026-0001/transitions"
    steps = [{"status": "verified", "note": "Checked"}] * 4 + [
        {"status": "rectifying", "reason": "Wires still loose"}
    ] * 4
    specs = [{"steps": [{"path": path, "token": station["officer"], "json": s}]} for s in steps]
    statuses = [racer[0][0] for racer in race(database_url, specs)]

    assert sorted(statuses) == [200] + [409] * 7, statuses
    winner = steps[statuses.index(200)]["status"]
    with app.app_context():
        events = db.session.scalars(select(HazardEvent).order_by(HazardEvent.id)).all()
        assert [(event.from_status, event.to_status) for event in events] == [("rectified", winner)]
        assert db.session.scalar(select(Hazard.status)) == winner
        steps_audited = count(
            AuditEntry, AuditEntry.entity_type == "hazard", AuditEntry.action == "status"
        )
        assert steps_audited == 1


@pytest.mark.slow
def test_racing_reports_and_a_failed_result_get_distinct_codes(app, database_url, station):
    """Eight reports and a failed inspection opening a hazard, all at once: nine hazards
    numbered 1 to 9 in the year, every request answered 201."""
    report = {
        "category": "ebike_in_corridor",
        "severity": "general",
        "description": "E-bike charging in the stairwell",
        "asset": "CS-001",
    }
    specs = [
        {"steps": [{"path": "/api/v1/hazards", "token": station["officer"], "json": report}]}
        for _ in range(RACERS)
    ]
    path = f"/api/v1/inspections/{station['inspection']}/result"
    specs.append({"steps": [{"path": path, "token": station["fixer"], "json": failed_result("k")}]})
    answers = [racer[0] for racer in race(database_url, specs)]

    assert [status for status, _body in answers] == [201] * (RACERS + 1), answers
    with app.app_context():
        year = district_today().year
        codes = db.session.scalars(select(Hazard.code)).all()
    assert sorted(codes) == [f"HZ-{year}-{number:04d}" for number in range(1, RACERS + 2)]
    reported = [body["properties"]["code"] for _status, body in answers[:RACERS]]
    assert len(set(reported)) == RACERS


def write_import_file(path: Path, first: int, rows: int) -> Path:
    """``rows`` elevator blockers inside grid G2-02, numbered from EB-<first>."""
    header = ["code", "kind", "name", "longitude", "latitude", "status", "building", "unit"]
    header += ["elevator_number", "detection_method"]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for number in range(first, first + rows):
            longitude = f"{119.21 + (number % 400) * 0.0001:.5f}"
            latitude = f"{36.741 + (number // 400) * 0.0001:.5f}"
            writer.writerow(
                [f"EB-{number}", "elevator_blocker", f"Lift {number}", longitude, latitude]
                + ["active", "3", "2", "1", "ai_camera"]
            )
    return path


IMPORTS = 3
IMPORT_ROWS = 500


@pytest.mark.slow
def test_imports_wait_for_eight_writers(app, database_url, station, tmp_path):
    """Three `assets import` runs of 500 rows, one after the other, while eight processes
    register assets through the API (each at least 5, until the imports are done): every
    import succeeds and every writer's 201 is a row; nothing is lost on either side."""
    files = [
        write_import_file(tmp_path / f"assets-{run}.csv", 5000 + run * IMPORT_ROWS, IMPORT_ROWS)
        for run in range(IMPORTS)
    ]
    stop = tmp_path / "stop"
    with app.app_context():
        gen_user("admin@example.org", "admin")
        admin_token = gen_token("admin@example.org")
        db.session.commit()
    writers = []
    for writer in range(RACERS):
        # CS-1000<n> for the first writer, CS-2000<n> for the second …: never the same code.
        asset = factories.charging_station_data(1, code=f"CS-{(writer + 1) * 1000}{{n}}")
        step = {
            "path": "/api/v1/assets",
            "token": admin_token,
            "json": asset,
            "repeat": 300,
            "at_least": 5,
            "stop": str(stop),
        }
        writers.append({"steps": [step]})
    importer = {"delay": 0.2, "steps": [{"cli": ["assets", "import", str(f)]} for f in files]}

    started = time.monotonic()
    answers = race(database_url, [importer, *writers], stop)
    elapsed = time.monotonic() - started

    for exit_code, output in answers[0]:
        assert exit_code == 0, output
        assert f"imported {IMPORT_ROWS} assets" in output
    written = [status for racer in answers[1:] for status, _body in racer]
    assert set(written) == {201}, [status for status in written if status != 201][:5]
    with app.app_context():
        assert count(Asset, Asset.kind == "elevator_blocker") == IMPORTS * IMPORT_ROWS
        assert count(Asset, Asset.kind == "charging_station") == 1 + len(written)
    assert elapsed < PROCESS_TIMEOUT


# --- The mechanisms, one request at a time ---------------------------------------------------


def test_a_writing_unit_holds_sqlites_write_lock_from_its_first_read(app, backend, database_url):
    """``writing()``: the first statement takes SQLite's write lock (BEGIN IMMEDIATE), so
    another writer cannot begin until it ends; a unit that does not declare it only reads."""
    if backend != "spatialite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's; PostgreSQL locks the rows a unit changes")
    path = make_url(database_url).database
    module = spatial.sqlite_module()

    def another_writer_may_begin() -> bool:
        other = module.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return True
        except module.OperationalError:
            return False
        finally:
            other.close()

    with app.app_context():
        db.session.scalar(select(func.count()).select_from(Asset))
        assert another_writer_may_begin()
        db.session.rollback()
        with spatial.writing():
            db.session.scalar(select(func.count()).select_from(Asset))
            assert not another_writer_may_begin()
            db.session.rollback()
        assert another_writer_may_begin()


def test_cancelling_an_inspection_completed_meanwhile_is_a_conflict(app, station, officer):
    """Read as scheduled; completed by another request since: the cancellation is a conflict
    and the result stands (it overwrote the completed row before)."""
    with app.app_context():
        inspection = db.session.get(Inspection, station["inspection"])
        assert inspection.status == "scheduled"
        db.session.execute(
            update(Inspection)
            .values(status="completed", result="pass")
            .execution_options(synchronize_session=False)
        )
        with pytest.raises(InspectionConflictError):
            cancel_inspection(inspection, user_by_email(officer), "Asset removed")
        assert count(AuditEntry, AuditEntry.action == "cancel") == 0
        db.session.commit()
        assert db.session.scalar(select(Inspection.status)) == "completed"


def test_an_asset_retired_meanwhile_is_retired_once(app, station):
    with app.app_context():
        asset = asset_by_code("CS-001")
        assert asset.status == "active"
        db.session.execute(
            update(Asset).values(status="retired").execution_options(synchronize_session=False)
        )
        retire_asset(asset)
        assert asset.status == "retired"
        assert count(AuditEntry, AuditEntry.action == "retire") == 0
        db.session.rollback()
