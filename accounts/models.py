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

    def get_id(self) -> str:
        """What a session and a remember-me cookie keep of the user (Flask-Login's
        "alternative token"): the id and the session version. A password reset or a
        deactivation moves the version on (``accounts.services.end_sessions``), so every
        session and cookie holding the old one stops working at once."""
        return f"{self.id}:{self.session_version}"

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


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    @staticmethod
    def hash_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
