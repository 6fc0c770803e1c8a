"""Maps: every asset's status at a glance, drawn with folium, working on a closed network."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from maps import views

    app.register_blueprint(views.bp)
