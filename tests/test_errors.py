"""core.errors: one ValidationError and one ConflictError, answered and rolled back once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounts.models import Contractor
from app import create_app
from core.errors import (
    ConflictError,
    ValidationError,
    api_fields,
    conflict_on_integrity_error,
    on_refused,
)
from core.extensions import db
from tests import helpers


def contractors(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Contractor.id)))


def add_contractor() -> None:
    db.session.add(Contractor(name="Written before the refusal"))
    db.session.flush()


@pytest.fixture
def app(database_url, tmp_path):
    """An app of its own: these tests add routes, which the suite's shared app cannot take
    once it has served a request."""
    own = create_app(helpers.test_config(database_url, PHOTO_DIR=str(tmp_path / "photos")))
    yield own
    with own.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def routes(app):
    """Test views that write a row, then raise what the query string asks for."""

    def refuse():
        from flask import request

        add_contractor()
        if request.args.get("names"):
            api_fields(location="form", names={"name": "title"}, files={"photos"})
        if request.args.get("page"):
            on_refused(lambda error, status: (f"{type(error).__name__} {error.messages()}", status))
        if request.args.get("conflict"):
            raise ConflictError("Taken meanwhile.")
        raise ValidationError({"name": "Required.", "photos": ["Not an image.", "Too big."]})

    def register():
        on_refused(lambda error, status: ("page renderer", status))
        return "registered"

    def race():
        with conflict_on_integrity_error("Someone was faster.", "form"):
            db.session.add(Contractor(name="Twice"))
            db.session.add(Contractor(name="Twice"))
            db.session.flush()
        return "unreachable"

    for path, view in (("refuse", refuse), ("register", register), ("race", race)):
        app.add_url_rule(f"/api/test/{path}", f"api_{path}", view)
        app.add_url_rule(f"/test/{path}", f"page_{path}", view)


def test_messages_are_lists_and_the_text_names_the_fields():
    error = ValidationError({"name": "Required.", "codes": ["Unknown: X.", "Not here: Y."]})
    assert error.messages() == {"name": ["Required."], "codes": ["Unknown: X.", "Not here: Y."]}
    assert str(error) == "name: Required.; codes: Unknown: X. Not here: Y."
    assert str(ValidationError({"file": "Empty."}, "Empty.")) == "Empty."
    assert ConflictError("Taken.", "code").messages() == {"code": ["Taken."]}
    assert ConflictError("Taken.").messages() == {"form": ["Taken."]}


def test_the_api_answers_422_by_field_and_writes_nothing(app, api, routes):
    before = contractors(app)
    response = api.get("/api/test/refuse")
    assert response.status_code == 422
    assert response.json == {
        "code": 422,
        "status": "Unprocessable Entity",
        "errors": {"json": {"name": ["Required."], "photos": ["Not an image.", "Too big."]}},
    }
    assert contractors(app) == before


def test_an_api_view_names_its_fields(api, routes):
    response = api.get("/api/test/refuse?names=1")
    assert response.json["errors"] == {
        "form": {"title": ["Required."]},
        "files": {"photos": ["Not an image.", "Too big."]},
    }


def test_a_conflict_is_409_with_its_message(app, api, routes):
    before = contractors(app)
    response = api.get("/api/test/refuse?conflict=1")
    assert response.status_code == 409
    assert response.json == {"code": 409, "status": "Conflict", "message": "Taken meanwhile."}
    assert contractors(app) == before


def test_a_page_re_renders_with_400_or_the_conflicts_status(app, api, routes):
    before = contractors(app)
    response = api.get("/test/refuse?page=1")
    assert (response.status_code, response.text) == (
        400,
        "ValidationError {'name': ['Required.'], 'photos': ['Not an image.', 'Too big.']}",
    )
    response = api.get("/test/refuse?page=1&conflict=1")
    assert (response.status_code, response.text) == (
        409,
        "ConflictError {'form': ['Taken meanwhile.']}",
    )
    assert contractors(app) == before


def test_a_page_without_a_renderer_shows_the_error_page(api, routes):
    response = api.get("/test/refuse")
    assert response.status_code == 422
    assert "name: Required." in response.text


def test_a_refused_row_is_a_conflict(app, api, routes):
    before = contractors(app)
    response = api.get("/test/race")
    assert response.status_code == 409
    assert contractors(app) == before


def test_a_renderer_does_not_outlive_its_request(app, api, routes):
    """Requests inside one held app context share ``g``: the renderer is forgotten."""
    with app.app_context():
        assert api.get("/test/register").text == "registered"
        response = api.get("/api/test/refuse")
    assert response.status_code == 422 and response.is_json
