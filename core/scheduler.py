"""The in-app scheduler (APScheduler 3.x): the weekly alert, its retries, the daily generation.

Where it runs:
- ``flask run`` with ``SCHEDULER_ENABLED``: once, in the process that serves (under the debug
  reloader, the serving child, never the watcher);
- production: its own process, ``flask --app app scheduler run``; gunicorn workers start
  none unless ``SCHEDULER_ENABLED`` is set for them explicitly;
- other CLI commands (``db upgrade``, ``alerts send-weekly`` …) never start one.

Several schedulers at once are harmless: what each job does exactly once is decided in the
database (a delivery row per week and recipient; a ``job_runs`` row per day). The memory job
store forgets missed runs across restarts, so the missed-run rule lives in the database too
(``inspections.alerts.catch_up_weekly``, run once at start).
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import click
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import update

from core import clock
from core.clock import district_today
from core.extensions import db

JOB_WEEKLY_ALERT = "alerts.weekly"
JOB_RETRY_ALERTS = "alerts.retry"
JOB_GENERATE = "inspections.generate"
JOB_CATCH_UP = "scheduler.catch_up"
LOOKBACK = timedelta(days=8)  # far enough back to find last week's weekly run

scheduler_cli = AppGroup("scheduler", help="The scheduler of weekly alerts and daily jobs.")


# --- Triggers --------------------------------------------------------------------------


def weekly_trigger(config: Mapping[str, Any]) -> CronTrigger:
    """``ALERT_CRON`` (default Monday 08:00) in the district's zone, whatever the server's."""
    return CronTrigger.from_crontab(config["ALERT_CRON"], timezone=ZoneInfo(config["TIMEZONE"]))


def generate_trigger(config: Mapping[str, Any]) -> CronTrigger:
    return CronTrigger.from_crontab(config["GENERATE_CRON"], timezone=ZoneInfo(config["TIMEZONE"]))


def last_fire_time(trigger: CronTrigger, now: datetime) -> datetime | None:
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


def run_once(job_id: str, run_key: str, work: Callable[[], str]) -> str | None:
    """Do ``work`` unless (job_id, run_key) ran already; its result is recorded and returned.

    The ``job_runs`` row is inserted in the same transaction as the work and committed with
    it: a second process blocks on the unique key, then finds it done (None). A failure
    rolls both back, so a later attempt runs again.
    """
    from inspections.alert_models import JobRun
    from inspections.services import insert_ignoring_duplicates

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


def generate_once() -> str:
    """The daily generation of due inspections, once per district day."""
    from inspections.services import generate_inspections

    today = district_today()

    def work() -> str:
        return f"{generate_inspections(today)} inspection(s) created"

    return run_once(JOB_GENERATE, today.isoformat(), work) or f"already ran for {today}"


# --- The jobs (each in an app context) --------------------------------------------------


def _in_app_context(app: Flask, name: str, work: Callable[[], str]) -> None:
    with app.app_context():
        try:
            app.logger.info("%s: %s", name, work())
        except Exception:
            db.session.rollback()
            app.logger.exception("%s failed", name)
            raise
        finally:
            db.session.remove()


def weekly_alert_job(app: Flask) -> None:
    def work() -> str:
        from inspections.alert_models import AlertTrigger
        from inspections.alerts import send_weekly, week_of

        fire_time = last_fire_time(weekly_trigger(app.config), clock.now_utc())
        week = week_of(fire_time) if fire_time else None
        outcome = send_weekly(week, AlertTrigger.SCHEDULE, scheduled_for=fire_time)
        return f"{outcome.week}: {len(outcome.sent)} sent, {len(outcome.failed)} failed"

    _in_app_context(app, JOB_WEEKLY_ALERT, work)


def retry_alerts_job(app: Flask) -> None:
    def work() -> str:
        from inspections.alerts import retry_unsent

        outcome = retry_unsent()
        return f"{outcome.week}: {len(outcome.sent)} sent, {len(outcome.failed)} failed"

    _in_app_context(app, JOB_RETRY_ALERTS, work)


def generate_job(app: Flask) -> None:
    _in_app_context(app, JOB_GENERATE, generate_once)


def catch_up_job(app: Flask) -> None:
    """At start: the weekly alert's missed-run rule, then today's generation if not done."""

    def work() -> str:
        from inspections.alerts import catch_up_weekly

        trigger = weekly_trigger(app.config)
        weekly = catch_up_weekly(partial(last_fire_time, trigger), grace(app.config))
        return f"{weekly}; generation: {generate_once()}"

    _in_app_context(app, JOB_CATCH_UP, work)


def _on_missed(app: Flask, event: JobExecutionEvent) -> None:
    """A weekly run missed beyond the grace while the scheduler was up (a suspended host)."""
    if event.job_id != JOB_WEEKLY_ALERT:
        return

    def work() -> str:
        from inspections.alerts import record_skipped, run_exists, week_of

        week = week_of(event.scheduled_run_time)
        if run_exists(week):
            return f"{week} already ran"
        record_skipped(
            week,
            event.scheduled_run_time,
            f"the run was missed by more than the {grace(app.config)} grace; "
            f"send it with: flask --app app alerts send-weekly --week {week}",
        )
        return f"{week} skipped"

    _in_app_context(app, "missed weekly alert", work)


def add_jobs(scheduler: BaseScheduler, app: Flask) -> None:
    """The jobs with fixed ids; adding them again replaces them."""
    common = {
        "replace_existing": True,
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": int(grace(app.config).total_seconds()),
    }
    config = app.config
    scheduler.add_job(
        weekly_alert_job, weekly_trigger(config), args=[app], id=JOB_WEEKLY_ALERT, **common
    )
    scheduler.add_job(
        retry_alerts_job,
        IntervalTrigger(minutes=config["ALERT_RETRY_INTERVAL_MINUTES"]),
        args=[app],
        id=JOB_RETRY_ALERTS,
        **common,
    )
    scheduler.add_job(generate_job, generate_trigger(config), args=[app], id=JOB_GENERATE, **common)
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


def init_scheduler(app: Flask) -> BackgroundScheduler | None:
    """Start the background scheduler in this process if it should run here (see above)."""
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
