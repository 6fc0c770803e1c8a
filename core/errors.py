"""Error answers: JSON under /api/, a page everywhere else. Errors roll the session back.

A service refuses a change with one of two errors, whatever its domain:

- ``ValidationError``: the input is bad; ``errors`` names each bad field. The API answers 422
  with the fields under ``errors`` (by location, as flask-smorest reports its own arguments);
  a page re-renders its form with them (400 unless the page says otherwise).
- ``ConflictError``: the change does not fit the data's current state (a code taken, a status
  step the machine does not allow). The API answers ``http_status`` (409 unless the subclass
  says otherwise) with the message; a page re-renders with the message under ``field``.

The handlers here roll the unit of work back and answer, so views neither catch nor roll
back: a page registers how it shows a refusal (``on_refused``) before doing the work, an API
view how it names fields (``api_fields``) when they differ from the service's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, g, make_response, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, default_exceptions

from core.extensions import api, db

Message = Any  # text, or a lazily translated string


class ValidationError(ValueError):
    """Bad input; ``errors`` maps each bad field to its message (or list of messages).

    ``str()`` is "field: message; …" unless ``message`` is given (an error about one thing,
    whose text is shown as it is)."""

    http_status = 422

    def __init__(
        self, errors: Mapping[str, Message | Sequence[Message]], message: Message | None = None
    ):
        self.errors = dict(errors)
        if message is None:
            message = "; ".join(
                f"{name}: {' '.join(texts)}" for name, texts in self.messages().items()
            )
        super().__init__(message)

    def messages(self) -> dict[str, list[str]]:
        """Each bad field's messages as a list of text."""
        return {
            name: [str(text) for text in texts] if isinstance(texts, list | tuple) else [str(texts)]
            for name, texts in self.errors.items()
        }


class ConflictError(ValueError):
    """A change the current state does not allow; ``field`` is what it is about, if anything.

    A subclass may answer another status than 409 (a step this user's role may not make: 403).
    """

    http_status = 409

    def __init__(self, message: Message, field: str | None = None):
        super().__init__(message)
        self.field = field

    def messages(self) -> dict[str, list[str]]:
        """The message under its field ("form" when it is about the whole change)."""
        return {self.field or "form": [str(self)]}


Refusal = ValidationError | ConflictError
# A page's renderer: (the error, the status the page answers by default) -> the response.
PageRenderer = Callable[[Refusal, int], ResponseReturnValue]

RENDERER_KEY = "refusal_renderer"
API_FIELDS_KEY = "refusal_api_fields"


@dataclass(frozen=True)
class ApiFields:
    """Where an API request has each field the service names: location, and name there."""

    location: str = "json"
    names: Mapping[str, str] = field(default_factory=dict)
    files: Collection[str] = ()

    def errors(self, messages: Mapping[str, list[str]]) -> dict[str, dict[str, list[str]]]:
        by_location: dict[str, dict[str, list[str]]] = {}
        for name, texts in messages.items():
            location = "files" if name in self.files else self.location
            by_location.setdefault(location, {})[self.names.get(name, name)] = texts
        return by_location


def on_refused(render: PageRenderer) -> None:
    """How this request's page shows a refused change: ``render(error, status)`` re-renders
    its form with the error (``error.messages()``) and answers ``status`` (400 for bad input,
    ``http_status`` for a conflict). Register it before doing the work."""
    setattr(g, RENDERER_KEY, render)


def api_fields(
    location: str = "json", names: Mapping[str, str] | None = None, files: Collection[str] = ()
) -> None:
    """How this API request names the fields of a ValidationError: under ``location`` (files
    under "files"), renamed by ``names``; by default as the service names them, under "json"."""
    setattr(g, API_FIELDS_KEY, ApiFields(location, names or {}, files))


@contextmanager
def conflict_on_integrity_error(message: Message, field: str | None = None) -> Iterator[None]:
    """A row the database refuses inside the block (e.g. a code another request took between
    the check and the commit) is a ConflictError with ``message``."""
    try:
        yield
    except IntegrityError as error:
        raise ConflictError(message, field) from error


# An error page's title and, when the code that refused gave no words of its own, its text:
# in the reader's language (werkzeug's own names and descriptions are English).
ERROR_TITLES: dict[int, Message] = {
    400: _l("Bad request"),
    401: _l("Sign-in needed"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("Too large"),
    422: _l("Not accepted"),
    429: _l("Too many requests"),
    500: _l("Server error"),
    503: _l("Temporarily unavailable"),
}
ERROR_TEXTS: dict[int, Message] = {
    400: _l("The request could not be understood."),
    401: _l("Sign in to see this page."),
    403: _l("You are not allowed to see this page or make this change."),
    404: _l("There is nothing at this address."),
    405: _l("This address does not take this kind of request."),
    409: _l("The change does not fit the current state of the data."),
    413: _l("What was sent is too large."),
    422: _l("What was sent was not accepted."),
    429: _l("Too many requests: wait a moment and try again."),
    500: _l("Something went wrong on the server. Try again later."),
    503: _l("The database cannot be reached just now. Nothing was saved; try again shortly."),
}
INTEGRITY_TEXT = _l(
    "The change collided with another change to the same data. Nothing was saved; reload and"
    " try again."
)
# Seconds a client is asked to wait (Retry-After) while the database cannot be reached.
DB_UNAVAILABLE_RETRY_AFTER = 5
CSRF_TEXT = _l(
    "This form has expired or did not come from this site: reload the page and try again."
)


def error_page(error: HTTPException) -> ResponseReturnValue:
    """The error page, in the reader's language: our own words where werkzeug's would show."""
    code = error.code or 500
    description = error.description
    if isinstance(error, CSRFError):
        description = CSRF_TEXT
    elif description == type(error).description or not description:
        description = ERROR_TEXTS.get(code, description)
    title = ERROR_TITLES.get(code, error.name)
    return render_template("error.html", code=code, title=title, description=description), code


def wants_json() -> bool:
    return request.path.startswith("/api/")


def http_exception(status: int, **data: Any) -> HTTPException:
    """The exception flask-smorest's ``abort`` raises (``data`` holds message or errors)."""
    error = default_exceptions[status]()
    error.data = data  # type: ignore[attr-defined]
    return error


def refusal_response(error: Refusal) -> ResponseReturnValue:
    if isinstance(error, ValidationError):
        fields = g.get(API_FIELDS_KEY) or ApiFields()
        answer = http_exception(error.http_status, errors=fields.errors(error.messages()))
    else:
        answer = http_exception(error.http_status, message=str(error))
    if wants_json():
        return api.handle_http_exception(answer)
    answer.description = str(error)
    return error_page(answer)


def language_without_database() -> str:
    """The request's language decided without the signed-in user (whose row is out of reach):
    the header's switch (pages), then the browser's languages, then the default."""
    from core.i18n import LANGUAGES, known_language

    browser = request.accept_languages.best_match(list(LANGUAGES))
    chosen = browser if wants_json() else known_language(session.get("lang")) or browser
    return chosen or current_app.config["BABEL_DEFAULT_LOCALE"]


def forget_unit_of_work() -> None:
    """Roll the session back (the server has already dropped the half-done transaction of a
    cut connection); if even that cannot talk to the database, drop the session."""
    try:
        db.session.rollback()
    except DBAPIError:
        drop_session()


def drop_session() -> None:
    """End the request's session. Closing rolls back over its connection; when the server
    has cut that connection the rollback raises, and the connection is thrown away instead
    (the pool opens a new one for the next request)."""
    try:
        db.session.remove()
    except DBAPIError as error:
        current_app.logger.warning("connection lost while closing the session: %s", error)
        with suppress(DBAPIError):
            db.session().invalidate()
        db.session.registry.clear()


def unavailable_response(error: DBAPIError | PoolTimeoutError) -> ResponseReturnValue:
    """The database cannot answer now (down or restarting, the connection cut, SQLite locked
    past the busy timeout, no connection free in the pool), as opposed to refusing what was
    asked; sending again later may succeed. 503 with Retry-After, JSON under /api/ or a page
    of its own. Nothing here touches the database: not the user (the language comes from the
    request), not the layout's header (rendered without the context processors that read
    the user)."""
    current_app.logger.error(
        "database unavailable for %s %s: %s", request.method, request.path, error
    )
    forget_unit_of_work()
    headers = {"Retry-After": str(DB_UNAVAILABLE_RETRY_AFTER)}
    language = language_without_database()
    with force_locale(language):
        title, text = str(ERROR_TITLES[503]), str(ERROR_TEXTS[503])
        if wants_json() or request.path == "/healthz":  # load balancers read JSON
            payload, _status, _headers = api.handle_http_exception(
                http_exception(503, message=text)
            )
            return payload, 503, headers
        page = current_app.jinja_env.get_template("unavailable.html").render(
            code=503,
            title=title,
            description=text,
            language=language,
            retry_url=request.url if request.method == "GET" else None,
        )
    return page, 503, headers


def integrity_error_response(error: IntegrityError) -> ResponseReturnValue:
    """A row the database refused that no service turned into a ConflictError (a race the
    code did not foresee): 409, the unit of work rolled back, the worker healthy."""
    current_app.logger.warning(
        "integrity error for %s %s: %s", request.method, request.path, error.orig
    )
    db.session.rollback()
    answer = http_exception(409, message=str(INTEGRITY_TEXT))
    if wants_json():
        return api.handle_http_exception(answer)
    answer.description = str(INTEGRITY_TEXT)
    return error_page(answer)


def with_protocol_headers(error: HTTPException, response: ResponseReturnValue):
    """A 405 names the methods the address takes (``Allow``); an API 401 says how to sign in
    (``WWW-Authenticate: Bearer``): flask-smorest's JSON answer drops werkzeug's headers."""
    response = make_response(response)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if error.code == 401 and wants_json():
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(OperationalError, unavailable_response)
    app.register_error_handler(PoolTimeoutError, unavailable_response)
    app.register_error_handler(IntegrityError, integrity_error_response)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        db.session.rollback()
        if wants_json():
            return with_protocol_headers(error, api.handle_http_exception(error))
        return with_protocol_headers(error, error_page(error))

    @app.errorhandler(ValidationError)
    @app.errorhandler(ConflictError)
    def handle_refusal(error: Refusal):
        db.session.rollback()
        render = g.pop(RENDERER_KEY, None)
        if render is None:
            return refusal_response(error)
        page_status = 400 if isinstance(error, ValidationError) else error.http_status
        return render(error, page_status)

    @app.teardown_request
    def forget_refusal_handling(error: BaseException | None) -> None:
        """An error no handler answered rolls back too; nothing registered outlives its request
        (``g`` is shared by the requests of an app context held around them, as in tests)."""
        if error is not None:
            db.session.rollback()
        g.pop(RENDERER_KEY, None)
        g.pop(API_FIELDS_KEY, None)

    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (Flask runs them in
    # reverse): a connection the server cut after the response was made would otherwise make
    # that teardown raise, and the finished request a bare 500.
    @app.teardown_appcontext
    def close_session(error: BaseException | None) -> None:
        drop_session()
