"""Two processes filling the on-time roll-up at once, each claiming due dates the other
claims, in the opposite order (as two dashboards after a write can): both finish, and the
totals are the inspections' (on both databases; PostgreSQL once said "deadlock detected",
a 503 under load at 10M inspections)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from core.clock import district_today
from core.extensions import db
from inspections.models import OnTimeDay, OnTimeTotal
from tests import factories

ROOT = Path(__file__).resolve().parent.parent

# Each child claims its first day, waits (up to a few seconds) for the other to claim its
# own, then claims the other's day and commits: without the fillers' lock each then waits on
# a row the other inserted.
FILLERS = r"""
import json, multiprocessing, sys, threading
from datetime import date
spec = json.loads(sys.argv[1])
from app import create_app
from core.extensions import db
from inspections.on_time import roll_up_on_time
from tests.helpers import test_config
app = create_app(test_config(spec["database_url"]))
with app.app_context():
    db.engine.dispose()

def fill(days, barrier, answers):
    today = date.fromisoformat(spec["today"])
    first, second = (date.fromisoformat(day) for day in days)
    try:
        with app.app_context():
            roll_up_on_time(today, first, first)
            try:
                barrier.wait(timeout=3)
            except threading.BrokenBarrierError:
                pass  # the other waits on this one's claim: go on alone
            roll_up_on_time(today, second, second)
            db.session.commit()
        answers.put("ok")
    except Exception as error:
        answers.put(repr(error)[:500])

context = multiprocessing.get_context("fork")
barrier = context.Barrier(2)
answers = context.Queue()
children = [
    context.Process(target=fill, args=(days, barrier, answers)) for days in spec["orders"]
]
for child in children:
    child.start()
results = [answers.get(timeout=60) for _ in children]
for child in children:
    child.join(timeout=30)
print("RESULTS " + json.dumps(results), flush=True)
"""


def test_two_fillers_claiming_in_opposite_orders_both_finish(app, database_url, district):
    with app.app_context():
        today = district_today()
        first, second = today - timedelta(days=9), today - timedelta(days=8)
        factories.gen_asset(factories.charging_station_data(1))
        for day in (first, second):
            factories.gen_inspection("CS-001", day)
        db.session.commit()
    spec = {
        "database_url": database_url,
        "today": today.isoformat(),
        "orders": [
            [first.isoformat(), second.isoformat()],
            [second.isoformat(), first.isoformat()],
        ],
    }
    launched = subprocess.run(
        [sys.executable, "-c", FILLERS, json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    lines = [line for line in launched.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, (launched.stdout[-2000:], launched.stderr[-4000:])
    assert json.loads(lines[-1].removeprefix("RESULTS ")) == ["ok", "ok"]
    with app.app_context():
        days = set(db.session.scalars(select(OnTimeDay.due_on)))
        assert days == {first, second}
        counted = db.session.execute(
            select(OnTimeTotal.due_on, func.sum(OnTimeTotal.counted)).group_by(OnTimeTotal.due_on)
        ).all()
        assert dict(counted) == {first: 1, second: 1}  # each overdue inspection once
