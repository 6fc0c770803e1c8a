"""Sign-ins that can be revoked, and the answer to a sign-in attempt.

A sign-in is a ``UserSession`` row; the cookies hold only its random secret (``User.get_id``).
Every request looks the row up by the secret's hash: revoked, expired, or its user inactive,
and the cookie is nobody. So a cookie copied before a logout, a new password, a deactivation,
a reactivation or a role change stops working at its next request.

A sign-in attempt costs the same password-hash work whether the email is known, unknown or
deactivated (an unknown one is checked against a dummy hash of the app's own method), so the
answer's time says nothing about which emails exist. Every attempt is audited.
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from datetime import datetime, timedelta
from functools import cache

from flask import current_app, g, request
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from accounts.models import User, UserSession, secret_hash
from core.audit import record_change
from core.clock import now_utc
from core.errors import drop_session
from core.extensions import db

SESSION_SECRET_BYTES = 32
# The last-seen time of a sign-in is written at most this often (not on every request).
LAST_SEEN_EVERY = timedelta(minutes=1)
MAX_AUDIT_KEY = 100  # audit_entries.entity_key


def session_lifetime(remember: bool) -> timedelta:
    """How long a sign-in counts: REMEMBER_DAYS with "keep me signed in", else
    SESSION_HOURS (the browser forgets the cookie sooner when it closes)."""
    config = current_app.config
    if remember:
        return timedelta(days=config["REMEMBER_DAYS"])
    return timedelta(hours=config["SESSION_HOURS"])


def client_address() -> str | None:
    try:
        return (request.remote_addr or "")[:64] or None
    except RuntimeError:  # outside a request
        return None


def start_session(user: User, remember: bool = False) -> UserSession:
    """A new sign-in of ``user``: a row holding the hash of a new random secret, which
    ``user.get_id()`` gives to the cookies. The caller commits."""
    secret = secrets.token_urlsafe(SESSION_SECRET_BYTES)
    now = now_utc()
    agent = None
    with suppress(RuntimeError):  # outside a request
        agent = (request.user_agent.string or "")[:200] or None
    row = UserSession(
        user=user,
        secret_hash=secret_hash(secret),
        remember=remember,
        created_at=now,
        last_seen_at=now,
        expires_at=now + session_lifetime(remember),
        address=client_address(),
        user_agent=agent,
    )
    db.session.add(row)
    user.session_secret = secret
    user.current_session = row
    return row


def user_for_session(secret: str) -> User | None:
    """The user whose live sign-in holds ``secret`` (a session's or remember-me cookie's),
    with ``current_session`` set; None for anything else."""
    if not secret or len(secret) > 200:
        return None
    now = now_utc()
    row = db.session.scalar(
        select(UserSession)
        .options(joinedload(UserSession.user))
        .where(
            UserSession.secret_hash == secret_hash(str(secret)),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
    )
    if row is None or not row.user.active:
        return None
    if now - row.last_seen_at >= LAST_SEEN_EVERY:
        note_use(UserSession.__table__.c.last_seen_at, row.id, now)
    row.user.session_secret = secret
    row.user.current_session = row
    return row.user


USES_KEY = "sar_uses_to_note"


def note_use(column, row_id: int, now: datetime) -> None:
    """Note that a sign-in (or a token) was used now; written when the request ends
    (``write_noted_uses``), never inside the request's own unit of work."""
    g.setdefault(USES_KEY, []).append((column, row_id, now))


def write_noted_uses() -> None:
    """The last-seen and last-used times noted during a request, in a transaction of their
    own after the request's (a page that only reads commits nothing; on SQLite a second
    writer inside the request would wait for the request's own write lock)."""
    uses = g.pop(USES_KEY, None)
    if not uses:
        return
    session = db.session
    if session.new or session.dirty or session.deleted:
        return  # changes the request left unsaved are not ours to end; the times can wait
    # The request's transaction may still be open (a read after its commit, which in a
    # writing request on SQLite holds the write lock): end it, or the write below waits for
    # this very request until the busy timeout runs out. Closed, not rolled back: a rollback
    # expires the request's objects, and a streamed download still reads its user's role
    # after this (``stream_with_context`` runs the rows after the request's teardown, when
    # the session that loaded the user is gone and cannot load it again).
    # The answer is made by now: a database gone away loses the times, not the answer.
    try:
        session.close()
        with db.engine.begin() as connection:
            for column, row_id, now in uses:
                table = column.table
                connection.execute(
                    update(table).where(table.c.id == row_id).values({column.name: now})
                )
    except DBAPIError as error:
        current_app.logger.warning("last-use times not written: %s", error)
        drop_session()


def live_sessions(user: User) -> list[UserSession]:
    """The user's sign-ins that still count, the latest first."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now_utc(),
            )
            .order_by(UserSession.created_at.desc(), UserSession.id.desc())
        )
    )


def revoke_session(user: User, session_id: int) -> bool:
    """End one sign-in of ``user`` (its cookies stop working). Whether it was live."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return False
    row.revoked_at = now_utc()
    return True


def revoke_sessions(user: User) -> int:
    """End every sign-in of ``user``; how many were live. The caller commits."""
    now = now_utc()
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


# --- Sign-in attempts ----------------------------------------------------------------------


@cache
def dummy_hash(method: str) -> str:
    """A hash of a random password made with ``method``, to check unknown emails against."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """One password-hash check, against ``stored_hash`` or (None) the dummy hash of the
    app's method: the same work either way."""
    if stored_hash is None:
        check_password_hash(dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return check_password_hash(stored_hash, password)


def attempt_actor(email: str) -> tuple[None, str]:
    """Who an anonymous attempt is, in the audit trail: the address it came from."""
    return None, f"{client_address() or 'unknown'}"[:200]


def authenticate(email: str, password: str) -> User | None:
    """The active user with ``email`` and ``password``, or None; the same hash work for an
    unknown, a deactivated or a known email. Audits the attempt (the caller commits)."""
    email = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(User.email == email))
    matches = password_matches(user.password_hash if user is not None else None, password)
    if user is not None and user.active and matches:
        record_change(
            "login",
            "user",
            user.email,
            None,
            {"address": client_address()},
            actor=(user.id, user.email),
        )
        return user
    reason = "unknown" if user is None else ("inactive" if not user.active else "password")
    record_change(
        "login_failed",
        "user",
        email[:MAX_AUDIT_KEY],
        None,
        {"reason": reason, "address": client_address()},
        actor=attempt_actor(email),
    )
    return None


def refuse_ended_contract_sign_in(user: User) -> None:
    """Audit a right password refused because the user's company's contract has ended
    (the caller commits)."""
    record_change(
        "login_failed",
        "user",
        user.email,
        None,
        {"reason": "contract_ended", "address": client_address()},
        actor=(user.id, user.email),
    )


def record_lock(key: str, scope: str, retry_after: int | None) -> None:
    """Audit a sign-in refused because of too many failures (``scope``: account or
    address; ``key``: the email or the address). The caller commits."""
    record_change(
        "login_locked",
        "user" if scope == "account" else "address",
        key[:MAX_AUDIT_KEY],
        None,
        {"scope": scope, "address": client_address(), "retry_after": retry_after},
        actor=attempt_actor(key),
    )
