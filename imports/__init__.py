"""The Imports page: an administrator sets the district up from its own files (grids, sites,
assets), through the importers the other parts register in ``core.importing``."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from imports import views

    app.register_blueprint(views.bp)
