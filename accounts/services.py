from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from accounts.models import ApiToken, Contractor, Role, User
from core.audit import record_change
from core.clock import now_utc
from core.errors import ValidationError
from core.extensions import db
from core.i18n import LANGUAGES


class AccountError(ValidationError):
    """A request about accounts that cannot be carried out; the message says why."""

    def __init__(self, message: str, field: str):
        super().__init__({field: message}, message)


def create_user(
    email: str,
    password: str,
    role: str,
    contractor_name: str | None = None,
    name: str = "",
) -> User:
    email = email.strip().lower()
    if role not in set(Role):
        raise AccountError(f"unknown role {role!r}: use admin, officer or contractor", "role")
    if "@" not in email:
        raise AccountError(f"not an email address: {email!r}", "email")
    if len(password) < 8:
        raise AccountError("the password must have at least 8 characters", "password")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"a user with email {email} exists already", "email")
    contractor = None
    if role == Role.CONTRACTOR:
        if not contractor_name:
            raise AccountError("a contractor user needs --contractor NAME", "contractor")
        contractor = contractor_named(contractor_name)
        if contractor is None:
            contractor = Contractor(name=contractor_name.strip())
            db.session.add(contractor)
    elif contractor_name:
        raise AccountError("only contractor users belong to a contractor", "contractor")
    user = User(email=email, role=role, contractor=contractor, name=name)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_change("create", "user", email, None, {"role": role, "contractor": contractor_name})
    return user


def contractor_named(name: str) -> Contractor | None:
    return db.session.scalar(select(Contractor).where(Contractor.name == name.strip()))


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def issue_api_token(user: User) -> str:
    """A new bearer token for ``user``; only its hash is kept, so show it now."""
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=ApiToken.hash_of(token)))
    record_change("issue_token", "user", user.email, None, None)
    return token


def user_for_api_token(token: str) -> User | None:
    api_token = db.session.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.user))
        .where(ApiToken.token_hash == ApiToken.hash_of(token), ApiToken.revoked_at.is_(None))
    )
    if api_token is None or not api_token.user.active:
        return None
    return api_token.user


def revoke_api_tokens(user: User) -> int:
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for api_token in tokens:
        api_token.revoked_at = now_utc()
    return len(tokens)


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
