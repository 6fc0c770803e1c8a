"""The daily generation of due inspections, as the scheduler runs it: once per district day,
recorded as a ``job_runs`` row (the generation itself cannot create an inspection twice)."""

from __future__ import annotations

from flask import Flask

from core.clock import district_today
from core.scheduler import ScheduledJob, cron_trigger, register_job, run_once
from inspections.services import generate_inspections

JOB_GENERATE = "inspections.generate"


def generate_once() -> str:
    """The daily generation of due inspections, once per district day."""
    today = district_today()

    def work() -> str:
        return f"{generate_inspections(today)} inspection(s) created"

    return run_once(JOB_GENERATE, today.isoformat(), work) or f"already ran for {today}"


def register_jobs(app: Flask) -> None:
    register_job(
        app,
        ScheduledJob(
            JOB_GENERATE, cron_trigger("GENERATE_CRON"), generate_once, at_start=generate_once
        ),
    )
