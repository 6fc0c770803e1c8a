"""Alerts: the weekly overdue digest by email and its exactly-once delivery machinery."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from alerts import jobs, views
    from alerts.cli import alerts_cli

    app.register_blueprint(views.bp)
    app.cli.add_command(alerts_cli)
    jobs.register_jobs(app)
