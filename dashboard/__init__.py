"""The dashboard: the registry's numbers and what is overdue, due soon and late."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from core.pwa import precache_static
    from dashboard import snapshot, views

    snapshot.register_commands(views.bp)
    app.register_blueprint(views.bp)
    snapshot.register_jobs(app)
    precache_static(app, "js/work_list.js")  # the contractor's home works offline too
    precache_static(app, "js/dashboard.js", "vendor/echarts-5.6.0/echarts.min.js")
