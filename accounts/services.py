from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from zxcvbn import zxcvbn

from accounts.access import contract_ended
from accounts.models import (
    FIRST_SESSION_VERSION,
    GRID_SCOPE_ROLES,
    ROLE_LABELS,
    ApiToken,
    Contractor,
    Role,
    User,
)
from accounts.sessions import LAST_SEEN_EVERY, note_use, revoke_sessions
from core.audit import AuditEntry, record_change
from core.clock import now_utc
from core.errors import ConflictError, ValidationError
from core.extensions import db
from core.i18n import LANGUAGES


class AccountError(ValidationError):
    """A request about accounts that cannot be carried out; the message says why."""

    def __init__(self, message: str, field: str):
        super().__init__({field: message}, message)


class AccountConflict(ConflictError):
    """A change the accounts' current state does not allow (a user deactivating himself,
    the last active administrator deactivated)."""


GENERATED_PASSWORD_BYTES = 12  # 16 characters of URL-safe base64
MAX_TOKEN_NAME = 100  # api_tokens.name


def min_password_length() -> int:
    return current_app.config["PASSWORD_MIN_LENGTH"]


def check_password_rule(password: str, user_inputs: Iterable[str] = ()) -> None:
    """Refuse (AccountError on "password") a password shorter than PASSWORD_MIN_LENGTH, or
    one zxcvbn scores below PASSWORD_MIN_SCORE (0–4): the common passwords of its lists
    (``12345678``, ``password``, keyboard walks, names, dates), the account's own email or
    name, and their easy variants. Everywhere a person chooses a password passes here."""
    length = min_password_length()
    if len(password) < length:
        raise AccountError(
            _("The password must have at least %(n)s characters.", n=length), "password"
        )
    hints = [part for text in user_inputs if text for part in re.split(r"[@.\s]+", text) if part]
    # zxcvbn's work grows with the length; past 100 characters a password is long enough.
    score = zxcvbn(password[:100], user_inputs=hints)["score"]
    if score < current_app.config["PASSWORD_MIN_SCORE"] or leans_on(password, user_inputs):
        raise AccountError(
            _(
                "This password is too easy to guess (a common password, a simple pattern or"
                " your own name): choose a longer one, of several unrelated words."
            ),
            "password",
        )


def leans_on(password: str, user_inputs: Iterable[str]) -> bool:
    """Whether the password is mostly the account's own email, its name before the @ or the
    person's name (zxcvbn scores "officer@example.org" high): without it, too short."""
    lowered = password.lower()
    names = {text.strip().lower() for text in user_inputs if text and text.strip()}
    names |= {name.split("@", 1)[0] for name in names if "@" in name}
    return any(
        len(name) >= 3
        and name in lowered
        and len(lowered.replace(name, "")) < min_password_length()
        for name in names
    )


def generated_password() -> str:
    """A new random password, to be shown once."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def create_user(
    email: str,
    password: str,
    role: str,
    contractor_name: str | None = None,
    name: str = "",
    grid: str | None = None,
) -> User:
    """A new account. A contractor user acts for ``contractor_name`` (created when no
    contractor has that name: the command line's way); an officer may have a grid scope
    (``grid``, a grid's code). Raises AccountError; the caller commits."""
    email = email.strip().lower()
    if role not in set(Role):
        raise AccountError(
            _("Unknown role %(role)s: use admin, officer or contractor.", role=role), "role"
        )
    if "@" not in email:
        raise AccountError(_("Not an email address: %(email)s", email=email), "email")
    check_password_rule(password, (email, name))
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(
            _("A user with the email %(email)s exists already.", email=email), "email"
        )
    scope = scope_grid_named(role, grid)
    contractor = None
    contractor_name = (contractor_name or "").strip() or None
    if role == Role.CONTRACTOR:
        if not contractor_name:
            raise AccountError(_("A contractor user needs a contractor."), "contractor")
        contractor = contractor_named(contractor_name)
        if contractor is None:
            contractor = Contractor(name=contractor_name)
            db.session.add(contractor)
    elif contractor_name:
        raise AccountError(_("Only contractor users belong to a contractor."), "contractor")
    user = User(email=email, role=role, contractor=contractor, name=name.strip(), grid=scope)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_change(
        "create",
        "user",
        email,
        None,
        {"role": role, "contractor": contractor_name, "name": user.name, "grid": grid_code(user)},
    )
    return user


def contractor_named(name: str) -> Contractor | None:
    return db.session.scalar(select(Contractor).where(Contractor.name == name.strip()))


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def token_days(days: int | None) -> int:
    """A token's life in days: API_TOKEN_DAYS when not given; AccountError ("days") outside
    1 … API_TOKEN_MAX_DAYS."""
    config = current_app.config
    if days is None:
        return config["API_TOKEN_DAYS"]
    if not 1 <= days <= config["API_TOKEN_MAX_DAYS"]:
        raise AccountError(
            _("A token lives 1 to %(n)s days.", n=config["API_TOKEN_MAX_DAYS"]), "days"
        )
    return days


def issue_api_token(user: User, name: str = "", days: int | None = None) -> str:
    """A new bearer token for ``user``, called ``name``, expiring after ``days`` (default
    API_TOKEN_DAYS, at most API_TOKEN_MAX_DAYS). Only its hash is kept: show it now, once.
    Raises AccountError; the caller commits."""
    name = (name or "").strip()
    if len(name) > MAX_TOKEN_NAME:
        raise AccountError(_("At most %(n)s characters.", n=MAX_TOKEN_NAME), "name")
    days = token_days(days)
    token = secrets.token_urlsafe(32)
    api_token = ApiToken(
        user=user,
        token_hash=ApiToken.hash_of(token),
        name=name,
        created_at=now_utc(),
        expires_at=now_utc() + timedelta(days=days),
    )
    db.session.add(api_token)
    db.session.flush()
    record_change(
        "issue_token",
        "user",
        user.email,
        None,
        {"token": api_token.id, "name": name, "expires_at": api_token.expires_at},
    )
    return token


def token_is_live(now: datetime):
    """The SQL condition of a token that still works: not revoked, not expired."""
    return (ApiToken.revoked_at.is_(None)) & or_(
        ApiToken.expires_at.is_(None), ApiToken.expires_at > now
    )


def user_for_api_token(token: str) -> User | None:
    """The active user a live token belongs to (its last use noted, at most once a minute,
    after the request); None for an unknown, revoked or expired token."""
    now = now_utc()
    # The user as an entity, the token as two columns: every API request asks this.
    found = db.session.execute(
        select(User, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == ApiToken.hash_of(token), token_is_live(now))
    ).first()
    if found is None:
        return None
    user, token_id, last_used_at = found
    if not user.active:
        return None
    if last_used_at is None or now - last_used_at >= LAST_SEEN_EVERY:
        note_use(ApiToken.__table__.c.last_used_at, token_id, now)
    return None if refused_for_ended_contract(user) else user


def live_api_tokens(user: User) -> list[ApiToken]:
    """The user's tokens not revoked nor expired, the newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, token_is_live(now_utc()))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def live_token_counts(user_ids: list[int]) -> dict[int, int]:
    """How many live API tokens each of these users has (absent: none)."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(ApiToken.user_id, func.count(ApiToken.id))
        .where(ApiToken.user_id.in_(user_ids), token_is_live(now_utc()))
        .group_by(ApiToken.user_id)
    )
    return {user_id: count for user_id, count in rows}


def revoke_api_tokens(user: User) -> int:
    """Revoke every live token of ``user`` (audited when there was one); how many."""
    tokens = live_api_tokens(user)
    for api_token in tokens:
        api_token.revoked_at = now_utc()
    if tokens:
        record_change(
            "revoke_tokens", "user", user.email, {"live_tokens": len(tokens)}, {"live_tokens": 0}
        )
    return len(tokens)


def revoke_api_token(user: User, token_id: int) -> ApiToken:
    """Revoke one live token of ``user``; AccountError if it has no such live token."""
    api_token = db.session.get(ApiToken, token_id)
    if api_token is None or api_token.user_id != user.id or api_token.revoked_at is not None:
        raise AccountError(_("This user has no such live API token."), "token")
    api_token.revoked_at = now_utc()
    record_change(
        "revoke_token",
        "user",
        user.email,
        {"token": api_token.id, "revoked_at": None},
        {"token": api_token.id, "revoked_at": api_token.revoked_at},
    )
    return api_token


def user_history(user: User, limit: int = 50) -> list[AuditEntry]:
    """The latest audit entries about ``user``, the newest first."""
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == "user", AuditEntry.entity_key == user.email)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )


# --- Sessions, activity, passwords ---------------------------------------------------------


ENDED_CONTRACT_KEY = "ended_contract_refusal"


def ended_contract_message(contractor: Contractor) -> str:
    return _(
        "The contract of %(company)s ended on %(date)s: its accounts cannot sign in any more. "
        "Ask the district's safety office.",
        company=contractor.name,
        date=contractor.active_until.isoformat() if contractor.active_until else "",
    )


def refused_for_ended_contract(user: User) -> bool:
    """Whether ``user``'s company's contract has ended (``accounts.access.contract_ended``);
    if so, the request remembers the company, for the answer (``sign_in_refusal``)."""
    if not contract_ended(user):
        return False
    if has_request_context():
        g.setdefault(ENDED_CONTRACT_KEY, user.contractor)
    return True


def sign_in_refusal() -> str | None:
    """Why this request's session or token was refused, when its user's company's contract
    has ended (the sign-in check says so); None otherwise. Call it once the user is loaded:
    the message is translated, and the language may depend on the user."""
    contractor = g.get(ENDED_CONTRACT_KEY) if has_request_context() else None
    return ended_contract_message(contractor) if contractor is not None else None


def end_sessions(user: User) -> int:
    """Every sign-in of ``user`` ends: its cookies stop working at their next request (and
    the session version moves on). How many sign-ins were live; the caller commits."""
    user.session_version = (user.session_version or FIRST_SESSION_VERSION) + 1
    return revoke_sessions(user)


def active_admin_count() -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(User.role == Role.ADMIN, User.active.is_(True))
    )


def deactivate_user(user: User, acting: User | None = None) -> bool:
    """``user`` can no longer sign in: its sessions end and its API tokens are revoked at
    once. Refused (AccountConflict) for ``acting`` itself and for the last active
    administrator. Whether anything changed; the caller commits."""
    if not user.active:
        return False
    if acting is not None and acting.id == user.id:
        raise AccountConflict(_("You cannot deactivate yourself."), "user")
    if user.role == Role.ADMIN and active_admin_count() <= 1:
        raise AccountConflict(
            _("%(email)s is the last active administrator.", email=user.email), "user"
        )
    record_change("update", "user", user.email, {"active": True}, {"active": False})
    user.active = False
    end_sessions(user)
    revoke_api_tokens(user)
    return True


def reactivate_user(user: User) -> bool:
    """``user`` may sign in again (with a new sign-in: old sessions stay ended, revoked tokens
    stay revoked). Whether anything changed; the caller commits."""
    if user.active:
        return False
    record_change("update", "user", user.email, {"active": False}, {"active": True})
    user.active = True
    end_sessions(user)
    return True


def reset_password(user: User, password: str, generated: bool = False) -> None:
    """A new password for ``user`` (audited, never the password itself); every session of
    the user ends. The caller commits."""
    if not generated:
        check_password_rule(password, (user.email, user.name))
    user.set_password(password)
    end_sessions(user)
    record_change("reset_password", "user", user.email, None, {"generated": generated})


def change_own_password(user: User, current: str, new: str) -> None:
    """``user`` changes his own password: the current one must match (AccountError on
    "current_password"), the new one pass the policy. Every sign-in of the user ends,
    this one included (the caller signs in again). Audited; the caller commits."""
    if not user.check_password(current or ""):
        raise AccountError(_("This is not your current password."), "current_password")
    check_password_rule(new, (user.email, user.name))
    user.set_password(new)
    end_sessions(user)
    record_change("change_password", "user", user.email, None, None)


def change_role(
    user: User, role: str, contractor_name: str | None = None, acting: User | None = None
) -> bool:
    """A new role for ``user`` (a contractor user needs ``contractor_name``, an existing
    contractor; others have none; a grid scope goes when the role has none). Every sign-in
    of the user ends: pages opened with the old role's rights stop. Refused for ``acting``
    himself and for the last active administrator. Whether anything changed."""
    if role not in set(Role):
        raise AccountError(
            _("Unknown role %(role)s: use admin, officer or contractor.", role=role), "role"
        )
    contractor = None
    if role == Role.CONTRACTOR:
        contractor = contractor_named(contractor_name or "")
        if contractor is None:
            raise AccountError(_("A contractor user needs a contractor."), "contractor")
    if role == user.role and contractor is user.contractor:
        return False
    if acting is not None and acting.id == user.id:
        raise AccountConflict(_("You cannot change your own role."), "role")
    if user.role == Role.ADMIN and role != Role.ADMIN and user.active and active_admin_count() <= 1:
        raise AccountConflict(
            _("%(email)s is the last active administrator.", email=user.email), "role"
        )
    before = {"role": user.role, "contractor": user.contractor.name if user.contractor else None}
    user.role = role
    user.contractor = contractor
    if role not in GRID_SCOPE_ROLES:
        user.grid = None
    end_sessions(user)
    record_change(
        "update",
        "user",
        user.email,
        before,
        {"role": role, "contractor": contractor.name if contractor else None},
    )
    return True


# --- Grid scope ----------------------------------------------------------------------------


def grid_model() -> type:
    """The grid class (``assets.models.Grid``), reached through ``User.grid``: accounts lies
    below assets in the layers and does not import it."""
    return User.grid.property.mapper.class_


def grids_for_scope(current: str = "") -> tuple[list, bool]:
    """The grids a scope field offers, first level before second, by code, and whether the
    field is typed: every grid up to ``GRID_SELECT_LIMIT``; past it (a province's thousands)
    the first-level grids and the ``current`` one, suggested to a text field for the code."""
    grid = grid_model()
    limit = int(current_app.config["GRID_SELECT_LIMIT"])
    total = db.session.scalar(select(func.count()).select_from(grid))
    offered = select(grid).order_by(grid.level, grid.code)
    if total > limit:
        offered = offered.where(or_(grid.level == 1, grid.code == current.strip().upper()))
    return list(db.session.scalars(offered)), total > limit


def grid_code(user: User) -> str | None:
    return user.grid.code if user.grid is not None else None


def scope_grid_named(role: str, code: str | None):
    """The grid ``code`` names as the scope of a user with ``role``; None for no code (the
    whole district). AccountError for a role without a scope or an unknown grid."""
    code = (code or "").strip().upper()
    if not code:
        return None
    if role not in GRID_SCOPE_ROLES:
        raise AccountError(
            _("A user with the role %(role)s has no grid scope.", role=ROLE_LABELS[role]), "grid"
        )
    grid = grid_model()
    found = db.session.scalar(select(grid).where(grid.code == code))
    if found is None:
        raise AccountError(_("No grid has the code %(code)s.", code=code), "grid")
    return found


def set_grid_scope(user: User, code: str | None) -> bool:
    """The grid an officer's email, dashboard, map and lists are about (``code``; None or ""
    is the whole district). Whether anything changed; the caller commits."""
    grid = scope_grid_named(user.role, code)
    before = grid_code(user)
    after = grid.code if grid is not None else None
    if before == after:
        return False
    user.grid = grid
    record_change("update", "user", user.email, {"grid": before}, {"grid": after})
    return True


def set_user_language(user: User, language: str | None) -> User:
    """The user's own interface language (``zh`` or ``en``), which pages and weekly emails
    follow from now on; None or "" hands the choice back to the browser and the header's
    switch. Raises AccountError for any other value; the caller commits."""
    language = (language or "").strip() or None
    if language is not None and language not in LANGUAGES:
        raise AccountError(str(_l("Choose one of the offered languages.")), "locale")
    if language != user.locale:
        record_change("locale", "user", user.email, {"locale": user.locale}, {"locale": language})
        user.locale = language
    return user
