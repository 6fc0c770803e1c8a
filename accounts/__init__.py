"""Accounts: users and their roles, API tokens, sign-in, and the contractor companies users
act for (the root of the access policy, ``accounts.access``)."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from accounts import admin, limits, views
    from accounts.auth import init_auth
    from accounts.scope import ALL_GRIDS, all_grids_value

    init_auth(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    limits.init_app(app)

    @app.context_processor
    def grid_scope() -> dict:
        return {"all_grids_value": all_grids_value(), "ALL_GRIDS": ALL_GRIDS}
