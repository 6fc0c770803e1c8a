"""Inspections: plans and their generation, the results contractors log, the calendar feed."""

from flask import Flask
from flask_smorest import Api

from assets.labels import LabelNotice, register_label_notice
from assets.sections import AssetSection, register_asset_section
from core.pwa import precache_static


def init_app(app: Flask, api: Api) -> None:
    from inspections import api as inspections_api
    from inspections import calendar, jobs, views
    from inspections.cli import inspections_cli
    from inspections.plans import api as plans_api
    from inspections.plans import views as plan_views

    app.register_blueprint(views.bp)
    register_asset_section(app, AssetSection(10, views.asset_inspections_card))
    register_label_notice(app, LabelNotice(10, views.label_notice_lines))
    # The hazard page names the inspection a hazard came from (hazards lie below inspections).
    app.add_template_global(views.inspection_reference, "inspection_reference")
    app.register_blueprint(calendar.bp)
    app.register_blueprint(plan_views.bp)
    inspections_api.register_api(api)
    plans_api.register_api(api)
    app.cli.add_command(inspections_cli)
    jobs.register_jobs(app)
    # The logging form works without signal: its script and the photo library are kept.
    precache_static(app, "js/inspection_log.js", "vendor/piexifjs-1.0.6/piexif.js")
