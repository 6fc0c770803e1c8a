"""The contractor companies' pages (administrators): each company with its users, plans and
open inspections. The ``Contractor`` model itself is in ``accounts``: a user acts for its
company, and the access policy starts there; these pages sit above inspections because a
company's page gathers what it does."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from contractors import views

    app.register_blueprint(views.bp)
