"""Error answers: JSON under /api/, a page everywhere else. Errors roll the session back."""

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from core.extensions import api, db


def wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        db.session.rollback()
        if wants_json():
            return api.handle_http_exception(error)
        return render_template("error.html", error=error), error.code
