"""Inspections: plans and their generation, the results contractors log, the calendar feed."""

from flask import Flask
from flask_smorest import Api

from assets.sections import AssetSection, register_asset_section


def init_app(app: Flask, api: Api) -> None:
    from inspections import api as inspections_api
    from inspections import calendar, jobs, views
    from inspections.cli import inspections_cli
    from inspections.plans import views as plan_views

    app.register_blueprint(views.bp)
    register_asset_section(app, AssetSection(10, views.asset_inspections_card))
    # The hazard page names the inspection a hazard came from (hazards lie below inspections).
    app.add_template_global(views.inspection_reference, "inspection_reference")
    app.register_blueprint(calendar.bp)
    app.register_blueprint(plan_views.bp)
    inspections_api.register_api(api)
    app.cli.add_command(inspections_cli)
    jobs.register_jobs(app)
