"""Who is asking: a session for pages, a bearer token for programs; every page needs one."""

from __future__ import annotations

from functools import wraps

from flask import Flask, abort, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import Headers

from accounts.models import User
from accounts.services import user_for_api_token, user_for_session
from core.api import mark_token_authenticated
from core.extensions import login_manager

PUBLIC_ENDPOINTS = {
    "accounts.login",
    "core.healthz",
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

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        """A session's or remember-me cookie's user: never an inactive one, nor one whose
        sessions ended since (``User.get_id``)."""
        return user_for_session(session_id)

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
        if request.path.startswith("/api/"):
            abort(401)
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


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
