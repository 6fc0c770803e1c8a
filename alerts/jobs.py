"""The alert jobs the scheduler runs: the weekly digest, retries of failed deliveries, and
the missed-run rule (see ``alerts.services`` for the exactly-once protocol)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask, current_app

from alerts.models import AlertTrigger
from alerts.services import (
    catch_up_weekly,
    record_skipped,
    retry_unsent,
    run_exists,
    send_weekly,
    week_of,
)
from core import clock
from core.scheduler import ScheduledJob, cron_trigger, grace, last_fire_time, register_job

JOB_WEEKLY_ALERT = "alerts.weekly"
JOB_RETRY_ALERTS = "alerts.retry"
weekly_trigger = cron_trigger("ALERT_CRON")


def retry_trigger(config: Mapping[str, Any]) -> IntervalTrigger:
    return IntervalTrigger(minutes=config["ALERT_RETRY_INTERVAL_MINUTES"])


def send_scheduled_weekly() -> str:
    """This week's alert, as the scheduler sends it at ``ALERT_CRON``."""
    fire_time = last_fire_time(weekly_trigger(current_app.config), clock.now_utc())
    week = week_of(fire_time) if fire_time else None
    outcome = send_weekly(week, AlertTrigger.SCHEDULE, scheduled_for=fire_time)
    return f"{outcome.week}: {len(outcome.sent)} sent, {len(outcome.failed)} failed"


def retry_failed_deliveries() -> str:
    outcome = retry_unsent()
    return f"{outcome.week}: {len(outcome.sent)} sent, {len(outcome.failed)} failed"


def catch_up_missed_weekly() -> str:
    config = current_app.config
    return catch_up_weekly(partial(last_fire_time, weekly_trigger(config)), grace(config))


def record_missed_weekly(scheduled_run_time: datetime) -> str:
    """A weekly run missed beyond the grace while the scheduler was up (a suspended host)."""
    week = week_of(scheduled_run_time)
    if run_exists(week):
        return f"{week} already ran"
    record_skipped(
        week,
        scheduled_run_time,
        f"the run was missed by more than the {grace(current_app.config)} grace; "
        f"send it with: flask --app app alerts send-weekly --week {week}",
    )
    return f"{week} skipped"


def register_jobs(app: Flask) -> None:
    register_job(
        app,
        ScheduledJob(
            JOB_WEEKLY_ALERT,
            weekly_trigger,
            send_scheduled_weekly,
            at_start=catch_up_missed_weekly,
            on_missed=record_missed_weekly,
        ),
    )
    register_job(app, ScheduledJob(JOB_RETRY_ALERTS, retry_trigger, retry_failed_deliveries))
