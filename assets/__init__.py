"""The registry: grids, sites, property companies and assets, their pages, API, import and
export, and QR labels."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from assets import views
    from assets.api import register_api

    app.register_blueprint(views.bp)
    register_api(api)
