"""Who is asking: a session for pages, a bearer token for programs; every page needs one."""

from __future__ import annotations

from functools import wraps

from flask import Flask, abort, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from accounts.models import User
from accounts.services import user_for_api_token, user_for_session
from core.extensions import login_manager

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

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        """A session's or remember-me cookie's user: never an inactive one, nor one whose
        sessions ended since (``User.get_id``)."""
        return user_for_session(session_id)

    @login_manager.request_loader
    def load_user_from_bearer_token(req) -> User | None:
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return user_for_api_token(token.strip())

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
