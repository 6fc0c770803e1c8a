"""Accounts: users and their roles, API tokens, sign-in, and the contractor companies users
act for (the root of the access policy, ``accounts.access``)."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from accounts import views
    from accounts.auth import init_auth

    init_auth(app)
    app.register_blueprint(views.bp)
