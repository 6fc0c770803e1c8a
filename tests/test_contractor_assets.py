"""The (contractor, asset) pairs the database keeps (``assets.models.ContractorAsset``,
migration 0020) are always the inspections' own, whatever writes them, on both databases; a
contractor's assets in code order are read from them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from accounts.models import User
from assets.models import Asset, ContractorAsset
from assets.services import asset_by_code, in_code_order
from core.extensions import db
from inspections.bulk import reassign_inspection
from inspections.models import Inspection, InspectionStatus
from inspections.services import generate_inspections, regenerate_plan
from tests import factories

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 3, 1)


def stored_pairs() -> dict[tuple[int, int], str]:
    rows = db.session.execute(
        select(ContractorAsset.contractor_id, ContractorAsset.asset_id, ContractorAsset.asset_code)
    )
    return {(contractor, asset): code for contractor, asset, code in rows}


def inspections_pairs() -> dict[tuple[int, int], str]:
    rows = db.session.execute(
        select(Inspection.contractor_id, Inspection.asset_id, Asset.code)
        .join(Asset, Asset.id == Inspection.asset_id)
        .distinct()
    )
    return {(contractor, asset): code for contractor, asset, code in rows}


def three_stations() -> None:
    for number in (1, 2, 3):
        factories.gen_asset(factories.charging_station_data(number))


def test_the_pairs_follow_every_kind_of_write(app, district):
    with app.app_context():
        three_stations()
        fixers = factories.gen_contractor("Fixers Ltd")
        menders = factories.gen_contractor("Menders Co")
        # The ORM, one row at a time.
        first = factories.gen_inspection("CS-001", date(2026, 3, 5))
        factories.gen_inspection("CS-001", date(2026, 4, 5))
        assert stored_pairs() == {(fixers.id, asset_by_code("CS-001").id): "CS-001"}

        # Generation: INSERT … SELECT, many rows a statement.
        plan = factories.gen_plan("Menders Co", asset_kind="charging_station")
        created = generate_inspections(TODAY, 90)
        assert created == 9
        assert stored_pairs() == inspections_pairs()
        assert stored_pairs()[(menders.id, asset_by_code("CS-002").id)] == "CS-002"

        # A bulk insert of plain rows, as the province loader and imports write them.
        db.session.execute(
            insert(Inspection),
            [
                {
                    "asset_id": asset_by_code("CS-003").id,
                    "contractor_id": fixers.id,
                    "due_on": date(2026, 5, day),
                    "status": InspectionStatus.SCHEDULED,
                }
                for day in (1, 2)
            ],
        )
        assert stored_pairs() == inspections_pairs()

        # A note written changes neither contractor nor asset: the pairs stay as they are.
        db.session.execute(update(Inspection).values(notes="Checked").where(Inspection.id > 0))
        assert stored_pairs() == inspections_pairs()

        # Reassigned to another contractor: the old pair stays while it has another.
        reassign_inspection(first, menders, "Fixers are away")
        db.session.flush()
        assert stored_pairs() == inspections_pairs()
        assert (fixers.id, asset_by_code("CS-001").id) in stored_pairs()

        # Moved to another asset, by the database alone.
        db.session.execute(
            update(Inspection)
            .values(asset_id=asset_by_code("CS-002").id)
            .where(Inspection.contractor_id == fixers.id, Inspection.due_on == date(2026, 4, 5))
        )
        assert stored_pairs() == inspections_pairs()
        assert (fixers.id, asset_by_code("CS-001").id) not in stored_pairs()

        # Deleted: a plan regenerated drops its future inspections and makes them again.
        plan.cadence_every = 2
        regenerate_plan(plan, TODAY, 90)
        assert stored_pairs() == inspections_pairs()
        db.session.execute(delete(Inspection).where(Inspection.contractor_id == menders.id))
        assert stored_pairs() == inspections_pairs()
        assert {contractor for contractor, _ in stored_pairs()} == {fixers.id}
        db.session.commit()

        # What a rolled-back unit of work wrote to the pairs goes with it.
        factories.gen_inspection("CS-003", date(2026, 6, 1), contractor="Menders Co")
        db.session.rollback()
        assert stored_pairs() == inspections_pairs()
        assert all(contractor == fixers.id for contractor, _ in stored_pairs())


def test_a_contractors_assets_in_code_order_come_from_its_pairs(app, district):
    with app.app_context():
        for number in range(1, 8):
            factories.gen_asset(factories.charging_station_data(number))
        for number in (6, 2, 7, 4):
            factories.gen_inspection(f"CS-00{number}", date(2026, 3, number))
        factories.gen_inspection("CS-005", date(2026, 3, 5), contractor="Menders Co")
        factories.gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
        db.session.commit()
        fixer = db.session.scalar(select(User).where(User.email == "fixer@example.org"))

        def codes(descending: bool = False) -> list[str]:
            query = in_code_order(select(Asset.code), fixer, descending)
            return list(db.session.scalars(query))

        assert codes() == ["CS-002", "CS-004", "CS-006", "CS-007"]
        assert codes(descending=True) == ["CS-007", "CS-006", "CS-004", "CS-002"]
        everyone = in_code_order(select(Asset.code), None)
        assert list(db.session.scalars(everyone)) == [f"CS-00{n}" for n in range(1, 8)]


def test_the_first_page_of_a_contractors_assets_reads_its_pairs_code_index(app, backend, district):
    """PostgreSQL's plan and SQLite's name ``ix_contractor_assets_contractor_code``: the page
    reads the contractor's own pairs in order, not every asset's code."""
    with app.app_context():
        three_stations()
        factories.gen_inspection("CS-002", date(2026, 3, 5))
        factories.gen_user("fixer@example.org", "contractor", contractor="Fixers Ltd")
        db.session.commit()
        fixer = db.session.scalar(select(User).where(User.email == "fixer@example.org"))
        query = in_code_order(select(Asset.id), fixer).limit(51)
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        if backend == "postgis":
            # A few rows: make every other way costly, as a province's size does.
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                db.session.execute(text(f"SET LOCAL {setting} = off"))
            plan = db.session.scalars(text(f"EXPLAIN {compiled}")).all()
        else:
            plan = [row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
        assert any("ix_contractor_assets_contractor_code" in line for line in plan), plan
        assert not any("Sort" in line or "TEMP B-TREE" in line for line in plan), plan


def children_answers(script: str, spec: dict) -> list[str]:
    """Run ``script`` (it forks its writers) in a process of its own; each writer's answer."""
    finished = subprocess.run(
        [sys.executable, "-c", script, json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout.split("RESULTS ", 1)[1])


# Two processes add inspections of the same pairs at once, committing in turns; a third
# deletes the pairs' first inspections meanwhile (the last ones, but for what the others
# add). The pairs are the inspections' after all three.
RACERS = r"""
import json, multiprocessing, sys
from datetime import date, timedelta
spec = json.loads(sys.argv[1])
from sqlalchemy import delete, insert
from app import create_app
from core.extensions import db
from inspections.models import Inspection
from tests.helpers import test_config
app = create_app(test_config(spec["database_url"]))
with app.app_context():
    db.engine.dispose()

def add(first_day, barrier, answers):
    try:
        with app.app_context():
            barrier.wait(timeout=10)
            for batch in range(5):
                rows = [
                    {"asset_id": asset_id, "contractor_id": spec["contractor_id"],
                     "due_on": date.fromisoformat(first_day) + timedelta(days=batch * 10 + n),
                     "status": "scheduled"}
                    for n in range(2) for asset_id in spec["asset_ids"]
                ]
                db.session.execute(insert(Inspection), rows)
                db.session.commit()
        answers.put("ok")
    except Exception as error:
        answers.put(repr(error)[:500])

def remove(barrier, answers):
    try:
        with app.app_context():
            barrier.wait(timeout=10)
            for _ in range(5):
                db.session.execute(
                    delete(Inspection).where(Inspection.id.in_(spec["removable_ids"]))
                )
                db.session.commit()
        answers.put("ok")
    except Exception as error:
        answers.put(repr(error)[:500])

context = multiprocessing.get_context("fork")
barrier = context.Barrier(3)
answers = context.Queue()
children = [
    context.Process(target=add, args=("2026-04-01", barrier, answers)),
    context.Process(target=add, args=("2026-07-01", barrier, answers)),
    context.Process(target=remove, args=(barrier, answers)),
]
for child in children:
    child.start()
results = [answers.get(timeout=60) for _ in children]
for child in children:
    child.join(timeout=30)
print("RESULTS " + json.dumps(results), flush=True)
"""


def test_processes_adding_and_removing_the_same_pairs_at_once_keep_them_exact(
    app, database_url, district
):
    with app.app_context():
        three_stations()
        removable = [
            factories.gen_inspection(code, date(2026, 3, 2)).id for code in ("CS-001", "CS-002")
        ]
        db.session.commit()
        spec = {
            "database_url": database_url,
            "contractor_id": factories.gen_contractor("Fixers Ltd").id,
            "asset_ids": [asset_by_code(code).id for code in ("CS-001", "CS-002", "CS-003")],
            "removable_ids": removable,
        }
    assert children_answers(RACERS, spec) == ["ok", "ok", "ok"]
    with app.app_context():
        assert stored_pairs() == inspections_pairs()
        assert sorted(stored_pairs().values()) == ["CS-001", "CS-002", "CS-003"]
        assert db.session.scalar(select(func.count(Inspection.id))) == 60


# One process writes and holds its transaction open for a moment; the other then writes the
# same pair and commits: an inspection added while the pair's last one is deleted, in either
# order. Without the triggers' locks the deleter, not seeing the uncommitted inspection,
# removed the pair of an inspection that exists.
IN_TURN = r"""
import json, multiprocessing, sys, time
from datetime import date
spec = json.loads(sys.argv[1])
from sqlalchemy import delete, insert
from app import create_app
from core.extensions import db
from inspections.models import Inspection
from tests.helpers import test_config
app = create_app(test_config(spec["database_url"]))
with app.app_context():
    db.engine.dispose()

def write(action):
    if action == "add":
        row = {"asset_id": spec["asset_id"], "contractor_id": spec["contractor_id"],
               "due_on": date(2026, 9, 1), "status": "scheduled"}
        db.session.execute(insert(Inspection), [row])
    else:
        db.session.execute(delete(Inspection).where(Inspection.id == spec["inspection_id"]))

def first(written, answers):
    try:
        with app.app_context():
            write(spec["order"][0])
            written.set()
            time.sleep(1.0)  # the other writes meanwhile, and waits for this commit
            db.session.commit()
        answers.put("ok")
    except Exception as error:
        answers.put(repr(error)[:500])

def second(written, answers):
    try:
        with app.app_context():
            written.wait(timeout=20)
            write(spec["order"][1])
            db.session.commit()
        answers.put("ok")
    except Exception as error:
        answers.put(repr(error)[:500])

context = multiprocessing.get_context("fork")
written = context.Event()
answers = context.Queue()
children = [context.Process(target=role, args=(written, answers)) for role in (first, second)]
for child in children:
    child.start()
results = [answers.get(timeout=60) for _ in children]
for child in children:
    child.join(timeout=30)
print("RESULTS " + json.dumps(results), flush=True)
"""


@pytest.mark.parametrize("order", [("add", "remove"), ("remove", "add")])
def test_an_inspection_added_while_its_pairs_last_one_is_deleted_keeps_the_pair(
    app, database_url, district, order
):
    with app.app_context():
        three_stations()
        last = factories.gen_inspection("CS-001", date(2026, 3, 2))
        db.session.commit()
        spec = {
            "database_url": database_url,
            "order": order,
            "asset_id": asset_by_code("CS-001").id,
            "contractor_id": last.contractor_id,
            "inspection_id": last.id,
        }
    assert children_answers(IN_TURN, spec) == ["ok", "ok"]
    with app.app_context():
        assert stored_pairs() == inspections_pairs()
        assert list(stored_pairs().values()) == ["CS-001"]


REMAINING = re.compile(r"SELECT 1 FROM inspections\s+WHERE .*?\)", re.DOTALL)


def test_a_removed_pair_looks_for_its_inspections_through_the_assets_index(app, backend):
    """The triggers' "is any inspection of the pair left" reads the asset's inspections (ten
    or so), not the contractor's (all of them): SQLite, without statistics, took the
    contractor's index, and the province bench's 135,000 deletes at 100k assets ran for
    minutes. The deployed trigger's own query is explained, with the pair's values put in."""
    with app.app_context():
        if backend == "postgis":
            source = db.session.scalar(
                text("SELECT pg_get_functiondef('contractor_assets_remove'::regproc)")
            )
            values = {"contractor_assets.asset_id": "7", "contractor_assets.contractor_id": "3"}
            for setting in ("enable_seqscan", "enable_bitmapscan"):
                db.session.execute(text(f"SET LOCAL {setting} = off"))
        else:
            source = db.session.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = :name"),
                {"name": "inspections_remove_contractor_assets"},
            )
            values = {"OLD.asset_id": "7", "OLD.contractor_id": "3"}
        query = REMAINING.search(source).group()[:-1]  # up to the EXISTS' closing bracket
        for name, value in values.items():
            query = query.replace(name, value)
        explain = "EXPLAIN" if backend == "postgis" else "EXPLAIN QUERY PLAN"
        plan = " ".join(str(row[-1]) for row in db.session.execute(text(f"{explain} {query}")))
        assert "ix_inspections_asset_status_due" in plan, plan
