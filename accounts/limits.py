"""Brute-force protection of the sign-in form (Flask-Limiter): failed sign-ins are counted
per account (the email typed) and per address; past LOGIN_LIMIT_ACCOUNT or
LOGIN_LIMIT_ADDRESS (default "20 per 15 minutes" each) every sign-in there, the right
password included, is refused with 429 and Retry-After until the window ends. Only failures
(401) count, so people who sign in successfully are never limited. Each lock is audited once
per window, each failure by ``accounts.sessions.authenticate``.

The counters live in RATELIMIT_STORAGE_URI: ``memory://`` (the default) is one process's;
several processes or hosts must share one store (``redis://host:6379``, ``memcached://…``)
or each counts alone. Each app has a limiter of its own (tests: one per app instance).
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address

from accounts.sessions import record_lock
from core.clock import now_utc
from core.extensions import db

LOGIN_ENDPOINT = "accounts.login"
EXTENSION_KEY = "login_limiter"


def account_key() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def address_key() -> str:
    return "address:" + (get_remote_address() or "")


def failed(response) -> bool:
    """Only a refused sign-in (401) counts against the limits."""
    return response.status_code == 401


def audit_lock(limit: RequestLimit) -> None:
    """Audit a lock once per window: the first refused attempt of the window writes it."""
    limiter = current_app.extensions[EXTENSION_KEY]
    scope = "account" if "/account:" in limit.key else "address"
    key = account_key() if scope == "account" else address_key()
    key = key.partition(":")[2]
    seconds = limit.limit.get_expiry()
    if limiter.storage.incr(f"login-lock-audited/{limit.key}", seconds) == 1:
        record_lock(key, scope, retry_after_seconds(limit.reset_at))
        db.session.commit()


def retry_after_seconds(reset_at: int) -> int:
    return max(1, int(reset_at - now_utc().timestamp()))


def init_app(app: Flask) -> None:
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        headers_enabled=True,
        on_breach=audit_lock,
    )
    limiter.init_app(app)
    app.extensions[EXTENSION_KEY] = limiter
    view = app.view_functions[LOGIN_ENDPOINT]
    for limit, key in (
        (app.config["LOGIN_LIMIT_ADDRESS"], address_key),
        (app.config["LOGIN_LIMIT_ACCOUNT"], account_key),
    ):
        view = limiter.limit(limit, key_func=key, methods=["POST"], deduct_when=failed)(view)
    app.view_functions[LOGIN_ENDPOINT] = view


def locked_until() -> datetime | None:
    """When the lock on this request's sign-in ends (within a 429's handling)."""
    limit = current_app.extensions[EXTENSION_KEY].current_limit
    if limit is None:
        return None
    return datetime.fromtimestamp(limit.reset_at, tz=now_utc().tzinfo)


__all__ = ["RateLimitExceeded", "init_app", "locked_until"]
