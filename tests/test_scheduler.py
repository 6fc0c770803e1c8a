"""The scheduler: where it starts, when it fires, missed runs, and racing processes."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import func, select

from alerts.jobs import JOB_RETRY_ALERTS, JOB_WEEKLY_ALERT, weekly_trigger
from alerts.models import AlertDelivery, AlertRun
from core.extensions import db
from core.scheduler import (
    JOB_CATCH_UP,
    JobRun,
    add_jobs,
    catch_up_job,
    last_fire_time,
    should_start_scheduler,
)
from dashboard.snapshot import JOB_SNAPSHOT
from inspections.jobs import JOB_GENERATE, generate_once
from maps.rollup import JOB_ROLLUP
from tests import factories
from tests.factories import gen_alert_district
from tests.helpers import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
PROCESS_TIMEOUT = 120
RACERS = 4


START = datetime(2026, 3, 16, tzinfo=UTC)


@pytest.fixture
def frozen(frozen_clock):
    frozen_clock.set(START)
    return frozen_clock


def shanghai(year, month, day, hour, minute=0) -> datetime:
    """A wall-clock time in Asia/Shanghai (UTC+8, no DST) as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


# --- When it fires ----------------------------------------------------------------------


def test_a_utc_server_still_fires_at_8_in_shanghai(app, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        trigger = weekly_trigger(app.config)
        frozen_now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
        fire = trigger.get_next_fire_time(None, frozen_now)
        assert fire.astimezone(UTC) == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
        assert (fire.weekday(), fire.hour, fire.minute) == (0, 8, 0)
        # Sunday 23:59 UTC is already Monday 07:59 in Shanghai: the run is one minute away.
        sunday_night = datetime(2026, 3, 8, 23, 59, tzinfo=UTC)
        assert trigger.get_next_fire_time(None, sunday_night) - sunday_night == timedelta(minutes=1)
        assert last_fire_time(trigger, frozen_now) == shanghai(2026, 3, 2, 8)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_jobs_have_fixed_ids_and_coalesce_with_the_configured_grace(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    add_jobs(scheduler, app)
    add_jobs(scheduler, app)  # replace_existing: still one of each
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {
            JOB_WEEKLY_ALERT,
            JOB_RETRY_ALERTS,
            JOB_GENERATE,
            JOB_ROLLUP,
            JOB_SNAPSHOT,
            JOB_CATCH_UP,
        }
        weekly = jobs[JOB_WEEKLY_ALERT]
        assert weekly.coalesce is True
        assert weekly.misfire_grace_time == 12 * 3600
        assert weekly.next_run_time.astimezone(UTC).hour == 0  # 08:00 Shanghai
        assert weekly.next_run_time.weekday() == 0
    finally:
        scheduler.shutdown(wait=False)


# --- Where it starts --------------------------------------------------------------------


def test_no_scheduler_unless_enabled_and_none_in_other_cli_commands(app):
    import click

    assert should_start_scheduler(app) is False
    app.config["SCHEDULER_ENABLED"] = True
    assert should_start_scheduler(app, {}) is True  # gunicorn with the setting on
    group = click.Group("flask")
    with click.Context(group, info_name="flask") as top:
        assert should_start_scheduler(app, {}) is False  # e.g. db upgrade, scheduler run
        run = click.Command("run")
        with click.Context(run, parent=top, info_name="run") as ctx:
            ctx.params["reload"] = True
            assert should_start_scheduler(app, {}) is False  # the reloader's watcher
            assert should_start_scheduler(app, {"WERKZEUG_RUN_MAIN": "true"}) is True
            ctx.params["reload"] = False
            assert should_start_scheduler(app, {}) is True
    assert "scheduler" not in app.extensions


def flask_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WERKZEUG_")}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="test",
        SCHEDULER_ENABLED="1",
        FLASK_DEBUG="1",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def run_until(command: list[str], env: dict, marker: str, seconds: float = 60) -> str:
    """Start ``command``, wait until ``marker`` appears in its output (and a little more),
    stop the whole process group; return everything it printed."""
    log = Path(env["LOG_FILE"])
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + seconds
        while marker not in log.read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"{marker!r} never appeared:\n{log.read_text()}")
            time.sleep(0.1)
        time.sleep(2)  # would a second scheduler start?
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=PROCESS_TIMEOUT)
    return log.read_text()


@pytest.mark.slow
def test_flask_run_under_the_debug_reloader_starts_one_scheduler(database_url, tmp_path):
    flask = str(Path(sys.executable).parent / "flask")
    env = flask_env(database_url, LOG_FILE=str(tmp_path / "run.log"))
    command = [flask, "--app", "app", "run", "--debug", "--port", str(free_port())]
    output = run_until(command, env, "scheduler.catch_up:")
    assert "Restarting with" in output  # the reloader is on: two processes load the app
    assert output.count("scheduler started in process") == 1, output


@pytest.mark.slow
def test_scheduler_run_is_its_own_process_without_a_second_scheduler(database_url, tmp_path):
    flask = str(Path(sys.executable).parent / "flask")
    env = flask_env(database_url, LOG_FILE=str(tmp_path / "scheduler.log"))
    output = run_until([flask, "--app", "app", "scheduler", "run"], env, "scheduler.catch_up:")
    assert "Scheduler running in process" in output
    assert "scheduler started in process" not in output, output  # create_app started none


# --- Missed runs --------------------------------------------------------------------------


def test_a_missed_run_within_the_grace_sends_once(alert_app, smtp, frozen):
    with alert_app.app_context():
        gen_alert_district()
    frozen.set(shanghai(2026, 3, 16, 19, 30))  # down across 08:00, back 11.5 h later
    catch_up_job(alert_app)
    catch_up_job(alert_app)  # a second scheduler starting: nothing more
    wait_for(lambda: smtp.inbox.count() == 8)
    assert len(smtp.inbox.to("officer@example.org")) == 1
    with alert_app.app_context():
        run = db.session.scalar(select(AlertRun))
        assert (run.week, run.trigger, run.status) == ("2026-W12", "schedule", "done")
        assert run.scheduled_for == shanghai(2026, 3, 16, 8)
        assert db.session.scalar(select(func.count()).select_from(AlertDelivery)) == 8


def test_a_missed_run_beyond_the_grace_is_recorded_as_skipped(alert_app, smtp, frozen):
    with alert_app.app_context():
        gen_alert_district()
    frozen.set(shanghai(2026, 3, 16, 20, 30))  # 12.5 h late
    catch_up_job(alert_app)
    catch_up_job(alert_app)
    assert smtp.inbox.count() == 0
    with alert_app.app_context():
        runs = db.session.scalars(select(AlertRun)).all()
        assert [(run.week, run.status) for run in runs] == [("2026-W12", "skipped")]
        assert "12 h grace" in runs[0].reason
        assert "send-weekly --week 2026-W12" in runs[0].reason
        assert db.session.scalar(select(func.count()).select_from(AlertDelivery)) == 0
    # The CLI can still send it, once.
    result = alert_app.test_cli_runner().invoke(
        args=["alerts", "send-weekly", "--week", "2026-W12"]
    )
    assert result.exit_code == 0, result.output
    wait_for(lambda: smtp.inbox.count() == 8)
    # Later in the week the scheduler restarts again: the week has its runs, nothing more.
    frozen.set(shanghai(2026, 3, 18, 9))
    catch_up_job(alert_app)
    assert smtp.inbox.count() == 8


def test_the_daily_generation_runs_once_a_day(app, frozen):
    with app.app_context():
        factories.gen_district()
        factories.gen_asset(factories.charging_station_data(1))
        factories.gen_plan(cadence_unit="week", start_on=date(2026, 3, 2))
        db.session.commit()
        frozen.set(shanghai(2026, 3, 16, 1, 30))
        first = generate_once()
        assert first.endswith("inspection(s) created") and not first.startswith("0 ")
        assert generate_once() == "already ran for 2026-03-16"
        frozen.set(shanghai(2026, 3, 17, 1, 30))
        assert generate_once().endswith("inspection(s) created")  # a new day: it runs
        keys = db.session.scalars(select(JobRun.run_key).order_by(JobRun.run_key)).all()
        assert keys == ["2026-03-16", "2026-03-17"]


# --- Racing processes -----------------------------------------------------------------------

# One process starts the app, then forks the racers: each a process of its own, with its own
# connections and frozen clock, spared the ~5 s start-up of the app (the parent relays each
# moment to all of them at once, then their answers).
RACER = """
import multiprocessing, sys
from datetime import datetime
from core import clock
database_url, port, mode, count = sys.argv[1:5]
moment = []
clock.now_utc = lambda: moment[-1]
from sqlalchemy import text
from app import create_app
from core.extensions import db
from inspections.jobs import generate_once
from alerts.services import send_weekly
from tests.helpers import alert_config
app = create_app(alert_config(database_url, int(port)))
with app.app_context():
    db.engine.dispose()

def race(moments, answers):
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    answers.put("READY")
    for now in iter(moments.get, None):
        moment.append(now)
        try:
            with app.app_context():
                if mode == "weekly":
                    outcome = send_weekly(trigger="schedule")
                    answers.put(f"SENT {len(outcome.sent)} FAILED {len(outcome.failed)}")
                else:
                    answers.put(f"GENERATED {generate_once()}")
        except Exception as error:
            answers.put(f"ERROR {error!r}"[:500])

context = multiprocessing.get_context("fork")
answers = context.Queue()
inboxes = [context.Queue() for _ in range(int(count))]
racers = [context.Process(target=race, args=(inbox, answers)) for inbox in inboxes]
for racer in racers:
    racer.start()
for _ in racers:
    print(answers.get(timeout=120), flush=True)
for line in sys.stdin:
    now = datetime.fromisoformat(line.strip())
    for inbox in inboxes:
        inbox.put(now)
    for _ in racers:
        print(answers.get(timeout=120), flush=True)
for inbox in inboxes:
    inbox.put(None)
for racer in racers:
    racer.join(timeout=60)
sys.exit(max(abs(racer.exitcode or 0) for racer in racers))
"""


class Racers:
    """``RACERS`` processes of the app that each run the job at the same moment when told: a
    line with the frozen time goes to their parent, which hands it to every one at once (one
    start-up serves every round).

    The parent and its forked racers are one process group, killed together on failure: a
    racer outliving its parent would hold the pipes open. Its lines are read by a thread (a
    select on the pipe misses lines already in the reader's buffer); its errors go to a
    file."""

    def __init__(self, database_url: str, port: int, mode: str, errors: IO[str]) -> None:
        self.errors = errors
        self.process = subprocess.Popen(
            [sys.executable, "-c", RACER, database_url, str(port), mode, str(RACERS)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_lines, daemon=True).start()
        assert self.answers() == ["READY"] * RACERS

    def _read_lines(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def answers(self) -> list[str]:
        lines = []
        for _ in range(RACERS):
            try:
                line = self.lines.get(timeout=PROCESS_TIMEOUT)
            except queue.Empty:
                line = ""
            if not line:
                self.kill()
                pytest.fail(f"a racer said nothing: {self.error_output()}")
            assert not line.startswith("ERROR"), line
            lines.append(line.strip())
        return lines

    def race(self, now: datetime) -> list[str]:
        self.process.stdin.write(now.isoformat() + "\n")
        self.process.stdin.flush()
        return self.answers()

    def kill_group(self) -> None:
        with suppress(ProcessLookupError):  # the group has ended already
            os.killpg(self.process.pid, signal.SIGKILL)

    def kill(self) -> None:
        self.kill_group()
        self.process.wait(timeout=PROCESS_TIMEOUT)

    def error_output(self) -> str:
        self.errors.seek(0)
        return self.errors.read()

    def close(self) -> None:
        try:  # closing the parent's input stops the racers; it waits for them
            self.process.stdin.close()
            self.process.wait(timeout=PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        finally:
            self.kill_group()  # nothing of the group outlives the test
            self.process.stdout.close()
        assert self.process.returncode == 0, self.error_output()


@contextmanager
def racers(database_url: str, port: int, mode: str) -> Iterator[Racers]:
    with tempfile.TemporaryFile(mode="w+") as errors:
        group = Racers(database_url, port, mode, errors)
        try:
            yield group
        finally:
            group.close()


@pytest.mark.slow
def test_four_racing_processes_send_each_weekly_email_once(alert_app, database_url, smtp):
    with alert_app.app_context():
        gen_alert_district()
    with racers(database_url, smtp.port, "weekly") as group:
        for monday in (date(2026, 3, 16), date(2026, 3, 23)):
            smtp.inbox.clear()
            outputs = group.race(shanghai(monday.year, monday.month, monday.day, 8))
            sent = sum(int(line.split()[1]) for line in outputs)
            assert sent == 8, outputs
            wait_for(lambda: smtp.inbox.count() >= 8)
            time.sleep(0.2)
            assert smtp.inbox.count() == 8
            for address in ("officer@example.org", "admin@example.org", "fixer@example.org"):
                assert len(smtp.inbox.to(address)) == 1
    with alert_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AlertDelivery)) == 16
        assert db.session.scalar(select(func.count()).select_from(AlertRun)) == 2


@pytest.mark.slow
def test_four_racing_processes_generate_once_a_day(app, database_url):
    with app.app_context():
        factories.gen_district()
        for number in range(1, 21):
            factories.gen_asset(factories.charging_station_data(number))
        factories.gen_plan(cadence_unit="week", start_on=date(2026, 3, 2))
        db.session.commit()
    with racers(database_url, free_port(), "generate") as group:
        outputs = group.race(shanghai(2026, 3, 16, 1, 30))
    done = [line for line in outputs if "already ran" not in line]
    assert len(done) == 1, outputs
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(JobRun)) == 1
