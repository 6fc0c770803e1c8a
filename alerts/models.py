"""Weekly alert runs and deliveries, and the generic record of scheduled job runs.

The exactly-once guarantee of the weekly email lives here, not in any process: a delivery
row per (ISO week, recipient) is claimed before the message is handed to SMTP and marked
sent after; the unique constraint decides which of several racing processes sends it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now_utc
from core.extensions import db
from core.types import UTCDateTime


class AlertTrigger(StrEnum):
    SCHEDULE = "schedule"  # the scheduler's weekly job, on time or caught up within the grace
    CLI = "cli"  # flask alerts send-weekly


class AlertRunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"  # missed beyond the misfire grace: nothing sent, reason recorded


class RecipientKind(StrEnum):
    DISTRICT = "district"  # officers and admins: the district digest
    CONTRACTOR = "contractor"  # a contractor's contact address and its users
    GRID = "grid"  # a grid leader


class DeliveryStatus(StrEnum):
    CLAIMED = "claimed"  # a process owns it and is handing it to SMTP
    SENT = "sent"  # SMTP accepted it
    FAILED = "failed"  # SMTP refused or was unreachable; retried later in the same week


class AlertRun(db.Model):
    """One run of the weekly alert per ISO week and trigger (``2026-W10``, ``schedule``).

    ``summary`` keeps the week's counts so the next week's digest can say what changed.
    """

    __tablename__ = "alert_runs"
    __table_args__ = (
        UniqueConstraint("week", "trigger"),
        CheckConstraint("trigger IN ('schedule', 'cli')", name="trigger"),
        CheckConstraint("status IN ('running', 'done', 'skipped')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    trigger: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=AlertRunStatus.RUNNING)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertDelivery(db.Model):
    """One weekly email to one recipient, unique per (ISO week, recipient).

    ``recipient`` is a stable key (``district:officer@example.org``,
    ``contractor:3:office@fixers.example``, ``grid:G1-01:leader@example.org``); the subject
    and both bodies are kept, so a retry sends what was claimed and the alerts page shows it.
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("week", "recipient"),
        CheckConstraint("kind IN ('district', 'contractor', 'grid')", name="kind"),
        CheckConstraint("status IN ('claimed', 'sent', 'failed')", name="status"),
        Index("ix_alert_deliveries_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_runs.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str | None] = mapped_column(String(200))  # contractor name or grid code
    locale: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.CLAIMED)
    claim_token: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=1)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    subject: Mapped[str] = mapped_column(String(300))
    inspection_count: Mapped[int] = mapped_column(default=0)
    hazard_count: Mapped[int] = mapped_column(default=0)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    run: Mapped[AlertRun | None] = relationship()
