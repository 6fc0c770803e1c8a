"""The audit trail: who changed what, when, with the values before and after."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now_utc
from core.extensions import db
from core.types import UTCDateTime


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity_type", "entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(100))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


def json_ready(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


COMMAND_LINE = "cli"  # the actor of a change made on the command line (no user signed in)


def actor_label(actor: str | None) -> str:
    """Who made a change, as a page shows it: "command line" in the page's language for the
    command line, anyone else by the name stored (their email)."""
    return str(_l("command line")) if actor == COMMAND_LINE else (actor or "—")


def current_actor() -> tuple[int | None, str]:
    """The signed-in user, or the command line when there is none."""
    try:
        if current_user and current_user.is_authenticated:
            return current_user.id, current_user.email
    except RuntimeError:  # outside a request
        pass
    return None, COMMAND_LINE


def audit_row(
    action: str,
    entity_type: str,
    entity_key: str,
    before: dict | None,
    after: dict | None,
    actor: tuple[int | None, str] | None = None,
) -> dict:
    """An audit row as a plain dict, for bulk inserts."""
    user_id, actor_label = actor or current_actor()
    return {
        "at": now_utc(),
        "user_id": user_id,
        "actor": actor_label,
        "action": action,
        "entity_type": entity_type,
        "entity_key": entity_key,
        "before": json_ready(before),
        "after": json_ready(after),
    }


def record_change(
    action: str,
    entity_type: str,
    entity_key: str,
    before: dict | None,
    after: dict | None,
    actor: tuple[int | None, str] | None = None,
) -> AuditEntry:
    """Add an audit entry to the current unit of work (the caller commits)."""
    entry = AuditEntry(**audit_row(action, entity_type, entity_key, before, after, actor))
    db.session.add(entry)
    return entry


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose value differs, for a compact before/after pair."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}
