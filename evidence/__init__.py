"""Evidence: photos of inspections and hazards, checked by content and stored on disk."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    from evidence import photos

    photos.init_app(app)
