"""Who is asking: a session for pages, a bearer token for programs; every page needs one."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Flask, abort, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from werkzeug.datastructures import Headers

from accounts.models import User
from accounts.services import refused_for_ended_contract, sign_in_refusal, user_for_api_token
from accounts.sessions import revoke_session, start_session, user_for_session, write_noted_uses
from core.api import mark_token_authenticated
from core.errors import http_exception
from core.extensions import db, login_manager

PUBLIC_ENDPOINTS = {
    "accounts.login",
    "core.healthz",
    # The API's OpenAPI document holds no data: programs read it before they have a token.
    "api-docs.openapi_json",
    "core.switch_language",
    "static",
    "calendar.feed",
    # Browsers fetch these without the session (the manifest) or before it counts (updates).
    "pwa.service_worker",
    "pwa.manifest",
}


def init_auth(app: Flask) -> None:
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see this page.")

    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(days=app.config["REMEMBER_DAYS"])

    @login_manager.user_loader
    def load_user(session_secret: str) -> User | None:
        """A session's or remember-me cookie's user: only while its sign-in is live (not
        revoked, not expired) and the user active (``accounts.sessions``)."""
        user = user_for_session(session_secret)
        return None if user is not None and refused_for_ended_contract(user) else user

    @app.teardown_request
    def note_uses(error: BaseException | None) -> None:
        if error is None:
            write_noted_uses()

    @app.before_request
    def authenticate_bearer_token():
        """A request with ``Authorization: Bearer`` is its token's user, whatever cookie it
        also sends; an empty, unknown or revoked token is 401. Only such a request skips the
        API's CSRF check (``core.api.protect_session_writes``)."""
        token = bearer_token(request.headers)
        if token is None:
            return None
        user = user_for_api_token(token) if token else None
        if user is None:
            refusal = sign_in_refusal()  # a token of a company whose contract ended
            if refusal:
                raise http_exception(403, message=refusal)
            abort(401)
        # Flask-Login's user for this request only (the session is neither read nor written).
        login_manager._update_request_context_with_user(user)
        mark_token_authenticated()
        return None

    @app.before_request
    def require_login():
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if request.endpoint.endswith(".static"):
            return None
        if current_user.is_authenticated:
            return None
        refusal = sign_in_refusal()  # a session or token of a company whose contract ended
        if request.path.startswith("/api/"):
            if refusal:
                raise http_exception(403, message=refusal)
            abort(401)
        if refusal:
            flash(refusal, "error")
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def sign_in(user: User, remember: bool = False) -> None:
    """A new sign-in of ``user`` in this browser: a new session row, committed, whose secret
    the session cookie (and with ``remember`` a new remember-me cookie) carries."""
    start_session(user, remember)
    db.session.commit()
    login_user(user, remember=remember)


def sign_out() -> None:
    """This browser's sign-in ends: its row is revoked (a copy of the cookies is nobody
    from now on) and the cookies are cleared."""
    user = current_user._get_current_object()
    if getattr(user, "current_session", None) is not None:
        revoke_session(user, user.current_session.id)
        db.session.commit()
    logout_user()


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer …`` header ("" when empty), None without one."""
    scheme, _, token = headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def roles_required(*roles: str):
    """Refuse (403) a signed-in user whose role is not one of ``roles``."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated or not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


staff_required = roles_required("admin", "officer")
