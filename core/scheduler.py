"""The in-app scheduler (APScheduler 3.x): the mechanism that runs the jobs packages register.

Where it runs:
- ``flask run`` with ``SCHEDULER_ENABLED``: once, in the process that serves (under the debug
  reloader, the serving child, never the watcher);
- production: its own process, ``flask --app app scheduler run``; gunicorn workers start
  none unless ``SCHEDULER_ENABLED`` is set for them explicitly;
- other CLI commands (``db upgrade``, ``alerts send-weekly`` …) never start one.

Several schedulers at once are harmless: what each job does exactly once is decided in the
database (a delivery row per week and recipient; a ``job_runs`` row per day). The memory job
store forgets missed runs across restarts, so the missed-run rule lives in the database too
(each job's ``at_start``, run once when the scheduler starts). The packages that own the
jobs register them from their ``init_app`` (``register_job``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import click
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import String, Text, UniqueConstraint, update
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.clock import now_utc
from core.extensions import db
from core.spatial import insert_ignoring_duplicates
from core.types import UTCDateTime

JOB_CATCH_UP = "scheduler.catch_up"
LOOKBACK = timedelta(days=8)  # far enough back to find last week's weekly run
JOBS_KEY = "scheduled_jobs"

scheduler_cli = AppGroup("scheduler", help="The scheduler of weekly alerts and daily jobs.")


@dataclass(frozen=True)
class ScheduledJob:
    """A job a package registers (``register_job``): ``run`` does the work in an app context
    and returns a line for the log; ``at_start`` catches up what was missed while down."""

    job_id: str
    trigger: Callable[[Mapping[str, Any]], BaseTrigger]
    run: Callable[[], str]
    at_start: Callable[[], str] | None = None
    on_missed: Callable[[datetime], str] | None = None


def register_job(app: Flask, job: ScheduledJob) -> None:
    """Called by the package that owns the job, from its ``init_app``."""
    app.extensions.setdefault(JOBS_KEY, {})[job.job_id] = job


def registered_jobs(app: Flask) -> list[ScheduledJob]:
    return list(app.extensions.get(JOBS_KEY, {}).values())


# --- Triggers --------------------------------------------------------------------------


def cron_trigger(setting: str) -> Callable[[Mapping[str, Any]], CronTrigger]:
    """A crontab setting (e.g. ``ALERT_CRON``) in the district's zone, whatever the server's."""

    def trigger(config: Mapping[str, Any]) -> CronTrigger:
        return CronTrigger.from_crontab(config[setting], timezone=ZoneInfo(config["TIMEZONE"]))

    return trigger


def last_fire_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The latest time ``trigger`` fires at, not after ``now`` (within ``LOOKBACK``)."""
    last = None
    moment = trigger.get_next_fire_time(None, now - LOOKBACK)
    while moment is not None and moment <= now:
        last = moment
        moment = trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))
    return last


def grace(config: Mapping[str, Any]) -> timedelta:
    return timedelta(hours=config["ALERT_MISFIRE_GRACE_HOURS"])


# --- Exactly once per key, in the database ----------------------------------------------


class JobRun(db.Model):
    """A scheduled job's run, unique per (job id, run key) — e.g. the daily generation's date.

    Inserted in the same transaction as the job's work: a second process waits on the unique
    key and then finds the run done; a failed run rolls back and may run again.
    """

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_id", "run_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(80))
    run_key: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detail: Mapped[str | None] = mapped_column(Text)


def run_once(job_id: str, run_key: str, work: Callable[[], str]) -> str | None:
    """Do ``work`` unless (job_id, run_key) ran already; its result is recorded and returned.

    The ``job_runs`` row is inserted in the same transaction as the work and committed with
    it: a second process blocks on the unique key, then finds it done (None). A failure
    rolls both back, so a later attempt runs again.
    """
    table = JobRun.__table__
    statement = (
        insert_ignoring_duplicates(table)
        .values(job_id=job_id, run_key=run_key, started_at=clock.now_utc())
        .returning(table.c.id)
    )
    run_id = db.session.execute(statement).scalar()
    if run_id is None:
        db.session.rollback()
        return None
    try:
        detail = work()
        db.session.execute(
            update(table)
            .where(table.c.id == run_id)
            .values(finished_at=clock.now_utc(), detail=detail)
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return detail


# --- The jobs (each in an app context) --------------------------------------------------


def run_in_app_context(app: Flask, name: str, work: Callable[[], str]) -> None:
    with app.app_context():
        try:
            app.logger.info("%s: %s", name, work())
        except Exception:
            db.session.rollback()
            app.logger.exception("%s failed", name)
            raise
        finally:
            db.session.remove()


def run_job(app: Flask, job_id: str) -> None:
    """What the scheduler calls: the registered job ``job_id``, in an app context."""
    run_in_app_context(app, job_id, app.extensions[JOBS_KEY][job_id].run)


def catch_up_job(app: Flask) -> None:
    """At start: every job's catch-up (missed weekly alert, today's generation), in order."""

    def work() -> str:
        return "; ".join(
            f"{job.job_id}: {job.at_start()}" for job in registered_jobs(app) if job.at_start
        )

    run_in_app_context(app, JOB_CATCH_UP, work)


def _on_missed(app: Flask, event: JobExecutionEvent) -> None:
    """A run missed beyond the grace while the scheduler was up (a suspended host)."""
    job = app.extensions.get(JOBS_KEY, {}).get(event.job_id)
    if job is None or job.on_missed is None:
        return
    run_in_app_context(
        app, f"missed {job.job_id}", partial(job.on_missed, event.scheduled_run_time)
    )


def add_jobs(scheduler: BaseScheduler, app: Flask) -> None:
    """The registered jobs with fixed ids; adding them again replaces them."""
    common = {
        "replace_existing": True,
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": int(grace(app.config).total_seconds()),
    }
    for job in registered_jobs(app):
        scheduler.add_job(
            run_job, job.trigger(app.config), args=[app, job.job_id], id=job.job_id, **common
        )
    # No trigger: runs once, as soon as the scheduler starts.
    scheduler.add_job(catch_up_job, args=[app], id=JOB_CATCH_UP, **common)
    scheduler.add_listener(partial(_on_missed, app), EVENT_JOB_MISSED)


# --- Where a scheduler starts -----------------------------------------------------------


def should_start_scheduler(app: Flask, environ: Mapping[str, str] = os.environ) -> bool:
    """In this process? Only if enabled; under ``flask run`` not in the reloader's watcher
    (Werkzeug runs the app twice: a watcher, and the serving child with WERKZEUG_RUN_MAIN);
    never in another CLI command (``scheduler run`` starts its own, ``db upgrade`` none)."""
    if not app.config.get("SCHEDULER_ENABLED"):
        return False
    ctx = click.get_current_context(silent=True)
    if ctx is None:  # gunicorn, another WSGI server, a script: enabled explicitly
        return True
    if ctx.info_name != "run" or ctx.parent is None or ctx.parent.parent is not None:
        return False
    reload = ctx.params.get("reload")
    if reload is None:
        reload = app.debug
    return not reload or environ.get("WERKZEUG_RUN_MAIN") == "true"


def _scheduler_timezone(app: Flask) -> ZoneInfo:
    return ZoneInfo(app.config["TIMEZONE"])


def init_app(app: Flask) -> BackgroundScheduler | None:
    """The ``scheduler`` command; and the background scheduler in this process if it should
    run here (see above). Called after the packages have registered their jobs."""
    app.cli.add_command(scheduler_cli)
    if not should_start_scheduler(app):
        return None
    scheduler = BackgroundScheduler(timezone=_scheduler_timezone(app))
    add_jobs(scheduler, app)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    atexit.register(partial(_shutdown, scheduler))
    app.logger.info("scheduler started in process %d", os.getpid())
    return scheduler


def _shutdown(scheduler: BaseScheduler) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=False)


@scheduler_cli.command("run")
def run_scheduler_command() -> None:
    """Run the scheduler in the foreground as its own process (production)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = BlockingScheduler(timezone=_scheduler_timezone(app))
    add_jobs(scheduler, app)
    click.echo(
        f"Scheduler running in process {os.getpid()} (Ctrl+C stops it); weekly alert "
        f"{app.config['ALERT_CRON']!r}, generation {app.config['GENERATE_CRON']!r}, "
        f"zone {app.config['TIMEZONE']}."
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
