from __future__ import annotations

import hashlib
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.clock import now_utc
from core.extensions import db
from core.types import UTCDateTime

if TYPE_CHECKING:
    from assets.models import Grid


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    CONTRACTOR = "contractor"


# Admins and officers: the district's own people (see accounts.access).
STAFF_ROLES = (Role.ADMIN, Role.OFFICER)
# The roles whose users may have a grid scope (accounts.scope): officers, a grid's or the
# district's. Admins always see the whole district; a contractor's scope is its company.
GRID_SCOPE_ROLES = (Role.OFFICER,)
# The session version every user starts with (and every user had when migration 0009 added
# it): sessions signed in before 0009 hold the bare id and count as this version.
FIRST_SESSION_VERSION = 1
ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.OFFICER: _l("Safety officer"),
    Role.CONTRACTOR: _l("Contractor"),
}


class Contractor(db.Model):
    """A third-party maintenance company; its users see only its own work."""

    __tablename__ = "contractors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    active_from: Mapped[date | None]
    active_until: Mapped[date | None]

    users: Mapped[list[User]] = relationship(back_populates="contractor")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    contractor_id: Mapped[int | None] = mapped_column(
        ForeignKey("contractors.id", ondelete="RESTRICT"), index=True
    )
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    # An officer's grid scope (accounts.scope); None: the whole district.
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    # Part of every session's id (``get_id``): changing it ends the user's sessions.
    session_version: Mapped[int] = mapped_column(
        default=FIRST_SESSION_VERSION, server_default=str(FIRST_SESSION_VERSION)
    )

    contractor: Mapped[Contractor | None] = relationship(back_populates="users")
    grid: Mapped[Grid | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.active

    # The secret of the sign-in this user object was loaded through (a ``UserSession``'s),
    # set by ``accounts.services``; never stored on the user's row.
    # (Plain class attributes, not annotated: declarative mapping would take them as columns.)
    session_secret = None
    # The ``UserSession`` row of that sign-in (None for a bearer token or no request).
    current_session = None

    def get_id(self) -> str:
        """What the session and the remember-me cookie keep (Flask-Login's "alternative
        token"): the random secret of one sign-in, whose ``UserSession`` row says whether it
        still counts (``accounts.services.user_for_session``). Logging out, a new password, a
        deactivation or a role change revoke rows, so a copied cookie stops working."""
        if not self.session_secret:
            raise RuntimeError("a user object without a sign-in has no session id")
        return self.session_secret

    def set_password(self, password: str) -> None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS.get(self.role, self.role))

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def has_grid_scope(self) -> bool:
        """Whether this user's role may have a grid scope (officers)."""
        return self.role in GRID_SCOPE_ROLES


def secret_hash(secret: str) -> str:
    """What is stored of a session's or token's secret: its SHA-256 (the secrets are 256
    random bits, so a fast hash is enough; a stolen table gives no usable secret)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once. It has a
    name its owner chose, and stops working at ``expires_at`` or when revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    @staticmethod
    def hash_of(token: str) -> str:
        return secret_hash(token)


class UserSession(db.Model):
    """One sign-in: the session cookie and (when "keep me signed in" was ticked) the
    remember-me cookie hold its random secret, this row its hash. It counts while not
    revoked and not expired; each sign-in has its own, so revoking one leaves the others."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()
