"""The weekly overdue alert: who gets what, composed in their language, sent exactly once.

Composition reads the database once (overdue inspections and hazards of the day) and renders
each distinct email once per language. Sending follows one protocol, whoever runs it (the
scheduler's job, its catch-up at start, the retry job, ``flask alerts send-weekly``):

1. claim: insert the (ISO week, recipient) delivery row and commit; the unique constraint
   lets exactly one of several racing processes own it;
2. renew the claim (a conditional update) just before handing the message to SMTP;
3. mark it sent right after SMTP accepted it and commit at once, or record the failure with
   the next attempt time (backing off). Only unsent deliveries are ever retried.

A crash between SMTP's accept and the commit in 3 leaves a claim with no outcome; after
``ALERT_CLAIM_LEASE_MINUTES`` it may be sent again: the one window for a duplicate. Every
copy of one delivery carries the same ``Message-ID``, so most mail clients show one.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mail import BadHeaderError, Connection, Message
from sqlalchemy import and_, or_, select, update

from accounts.models import GRID_SCOPE_ROLES, STAFF_ROLES, Contractor, User
from alerts.models import (
    AlertDelivery,
    AlertRun,
    AlertRunStatus,
    AlertTrigger,
    DeliveryStatus,
    RecipientKind,
)
from assets.models import Asset, Grid
from core import clock
from core.clock import district_today, district_zone
from core.extensions import db
from core.i18n import known_language
from core.spatial import insert_ignoring_duplicates
from hazards.models import Hazard
from hazards.services import (
    CATEGORY_LABELS,
    SEVERITY_LABELS,
    checklist_label,
    describe,
    hazard_overdue_clause,
)
from inspections.models import Inspection
from inspections.services import overdue_clause

log = logging.getLogger(__name__)

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
MAX_BACKOFF = timedelta(hours=24)
ERROR_MAX_LENGTH = 2000
# Errors after which no further message of the batch is tried (they fail at once, and retry
# later); other errors (a refused recipient, bad data) concern one message only.
SERVER_UNUSABLE = (
    OSError,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
)


# --- ISO weeks ---------------------------------------------------------------------------


def iso_week(day: date) -> str:
    """``2026-W10`` for any day of that ISO week."""
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(week: str) -> date:
    """The Monday of ``YYYY-Www``; ValueError for anything else."""
    match = WEEK_PATTERN.match(week.strip())
    if not match:
        raise ValueError(f"{week!r} is not an ISO week (YYYY-Www)")
    return date.fromisocalendar(int(match[1]), int(match[2]), 1)


def week_of(moment: datetime) -> str:
    """The ISO week of an instant, in the district's time zone."""
    return iso_week(moment.astimezone(district_zone()).date())


def previous_week(week: str) -> str:
    return iso_week(week_monday(week) - timedelta(days=7))


# --- What is overdue today ----------------------------------------------------------------


class OverdueInspection(NamedTuple):
    inspection_id: int
    asset_code: str
    asset_name: str
    grid_id: int | None
    grid_code: str
    grid_name: str
    due_on: date
    days_overdue: int
    contractor_id: int
    contractor: str
    link: str


class OverdueHazard(NamedTuple):
    code: str
    category: str
    severity: str
    typed_description: str
    failed_items: tuple[str, ...]
    kind: str | None  # the asset's, for the failed items' labels
    from_inspection: bool
    grid_id: int | None
    grid_code: str
    deadline: date
    days_overdue: int
    asset_code: str | None
    link: str

    @property
    def description(self) -> str:
        """What is wrong, in the language being rendered (the recipient's), shortened."""
        labels = [checklist_label(self.kind, key) for key in self.failed_items]
        return _shorten(describe(self.typed_description, labels, self.from_inspection))


@dataclass
class OverdueSnapshot:
    """Everything overdue on ``today``; the inspections sorted by grid, contractor, due date."""

    today: date
    week: str
    inspections: list[OverdueInspection]
    hazards: list[OverdueHazard]
    grid_subtrees: dict[int, set[int]]  # grid id -> itself and its descendants
    previous: dict[str, int] | None = None  # last week's counts, if a run recorded them
    _index: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def summary(self) -> dict[str, int]:
        return {"inspections": len(self.inspections), "hazards": len(self.hazards)}

    def of_contractor(self, contractor_id: int | None) -> list[OverdueInspection]:
        """The contractor's overdue inspections, in the snapshot's order."""
        return self._by_contractor().get(contractor_id, [])

    def in_grid(self, grid_id: int | None) -> tuple[list[OverdueInspection], list[OverdueHazard]]:
        """The overdue inspections and hazards of the grid and its descendants, in the
        snapshot's order. Each recipient's share is picked from rows indexed once by grid,
        never by going through every row for every grid: a province has thousands of grids
        and tens of thousands of overdue rows."""
        subtree = self.grid_subtrees.get(grid_id, {grid_id})
        return (
            _picked(self.inspections, self._positions("inspections"), subtree),
            _picked(self.hazards, self._positions("hazards"), subtree),
        )

    def _by_contractor(self) -> dict[int, list[OverdueInspection]]:
        if "contractor" not in self._index:
            rows: dict[int, list[OverdueInspection]] = defaultdict(list)
            for row in self.inspections:
                rows[row.contractor_id].append(row)
            self._index["contractor"] = dict(rows)
        return self._index["contractor"]

    def _positions(self, name: str) -> dict[int | None, list[int]]:
        """Where each grid's rows stand in ``inspections`` or ``hazards``."""
        if name not in self._index:
            positions: dict[int | None, list[int]] = defaultdict(list)
            for position, row in enumerate(getattr(self, name)):
                positions[row.grid_id].append(position)
            self._index[name] = dict(positions)
        return self._index[name]


def _picked(rows: list, positions: dict[int | None, list[int]], grids: set) -> list:
    """The rows of ``grids``, in their order in ``rows``."""
    wanted = sorted(p for grid_id in grids for p in positions.get(grid_id, ()))
    return [rows[p] for p in wanted]


class Links:
    """Absolute links into the app from ``BASE_URL``, built without a request."""

    def __init__(self) -> None:
        base = urlsplit(current_app.config["BASE_URL"])
        self._adapter = current_app.url_map.bind(
            base.netloc or "localhost",
            script_name=base.path.rstrip("/") or "/",
            url_scheme=base.scheme or "http",
        )

    def __call__(self, endpoint: str, **values: Any) -> str:
        return self._adapter.build(endpoint, values, force_external=True)


def _grid_maps() -> tuple[dict[int, tuple[str, str]], dict[int, set[int]]]:
    grids = db.session.execute(select(Grid.id, Grid.code, Grid.name, Grid.parent_id)).all()
    names = {grid.id: (grid.code, grid.name) for grid in grids}
    parent = {grid.id: grid.parent_id for grid in grids}
    subtrees: dict[int, set[int]] = defaultdict(set)
    for grid_id in parent:
        ancestor: int | None = grid_id
        seen: set[int] = set()
        while ancestor is not None and ancestor not in seen:
            seen.add(ancestor)
            subtrees[ancestor].add(grid_id)
            ancestor = parent.get(ancestor)
    return names, dict(subtrees)


def overdue_inspections(today: date, grid_names, link: Links) -> list[OverdueInspection]:
    """Every overdue inspection (``overdue_clause``), by grid code, contractor, due date."""
    query = (
        select(
            Inspection.id,
            Inspection.due_on,
            Inspection.contractor_id,
            Contractor.name,
            Asset.code,
            Asset.name,
            Asset.grid_id,
        )
        .join(Asset, Asset.id == Inspection.asset_id)
        .join(Contractor, Contractor.id == Inspection.contractor_id)
        .where(overdue_clause(today))
    )
    no_grid = ("", "")
    rows = [
        OverdueInspection(
            inspection_id=row[0],
            asset_code=row[4],
            asset_name=row[5],
            grid_id=row[6],
            grid_code=grid_names.get(row[6], no_grid)[0],
            grid_name=grid_names.get(row[6], no_grid)[1],
            due_on=row[1],
            days_overdue=(today - row[1]).days,
            contractor_id=row[2],
            contractor=row[3],
            link=link("inspections.inspection_detail", id=row[0]),
        )
        for row in db.session.execute(query)
    ]
    rows.sort(key=lambda r: (r.grid_code, r.contractor, r.due_on, r.asset_code))
    return rows


def overdue_hazards(today: date, grid_names, link: Links) -> list[OverdueHazard]:
    query = (
        select(
            Hazard.code,
            Hazard.category,
            Hazard.severity,
            Hazard.description,
            Hazard.grid_id,
            Hazard.deadline,
            Asset.code,
            Hazard.failed_items,
            Asset.kind,
            Hazard.inspection_id,
        )
        .outerjoin(Asset, Asset.id == Hazard.asset_id)
        .where(hazard_overdue_clause(today))
        .order_by(Hazard.deadline, Hazard.code)
    )
    return [
        OverdueHazard(
            code=row[0],
            category=row[1],
            severity=row[2],
            typed_description=row[3],
            failed_items=tuple(row[7] or ()),
            kind=row[8],
            from_inspection=row[9] is not None,
            grid_id=row[4],
            grid_code=grid_names.get(row[4], ("", ""))[0],
            deadline=row[5],
            days_overdue=(today - row[5]).days,
            asset_code=row[6],
            link=link("hazards.hazard_detail", code=row[0]),
        )
        for row in db.session.execute(query)
    ]


def _shorten(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def previous_summary(week: str) -> dict[str, int] | None:
    """The counts recorded by last week's run (any trigger), if there was one."""
    return db.session.scalar(
        select(AlertRun.summary)
        .where(AlertRun.week == previous_week(week), AlertRun.summary.is_not(None))
        .order_by(AlertRun.id)
        .limit(1)
    )


def overdue_snapshot(week: str | None = None, today: date | None = None) -> OverdueSnapshot:
    today = district_today() if today is None else today
    week = iso_week(today) if week is None else week
    grid_names, subtrees = _grid_maps()
    link = Links()
    return OverdueSnapshot(
        today=today,
        week=week,
        inspections=overdue_inspections(today, grid_names, link),
        hazards=overdue_hazards(today, grid_names, link),
        grid_subtrees=subtrees,
        previous=previous_summary(week),
    )


# --- Who gets what ------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    key: str  # unique within a week: the delivery's identity
    email: str
    kind: str
    scope: str | None  # the contractor's name or the grid's code
    scope_id: int | None
    locale: str


@dataclass
class ComposedEmail:
    recipient: Recipient
    subject: str
    text: str
    html: str
    inspection_count: int
    hazard_count: int


def _locale_of(user_locale: str | None) -> str:
    """The language a user chose on the profile page; the default for everyone else."""
    return known_language(user_locale) or current_app.config["BABEL_DEFAULT_LOCALE"]


def _user_locales() -> dict[str, str | None]:
    rows = db.session.execute(select(User.email, User.locale).where(User.active.is_(True)))
    return {email.lower(): locale for email, locale in rows}


def alert_recipients(snapshot: OverdueSnapshot, send_empty: bool) -> list[Recipient]:
    """Officers and admins (the digest), each contractor's contact address and users, each
    grid's leader and the officers whose scope it is (``accounts.scope``: an officer with a
    grid gets that grid's email, its second-level children included, instead of the
    digest). Without ``send_empty``, only those with something overdue."""
    locales = _user_locales()
    recipients: list[Recipient] = []

    def add(kind: str, scope: str | None, scope_id: int | None, emails: Iterable[str]) -> None:
        seen: set[str] = set()
        for raw in emails:
            email = (raw or "").strip()
            if not email or email.lower() in seen:
                continue
            seen.add(email.lower())
            prefix = kind if scope is None else f"{kind}:{scope_id}"
            recipients.append(
                Recipient(
                    key=f"{prefix}:{email.lower()}",
                    email=email,
                    kind=kind,
                    scope=scope,
                    scope_id=scope_id,
                    locale=_locale_of(locales.get(email.lower())),
                )
            )

    staff = select(User.email, User.role, User.grid_id).where(
        User.active.is_(True), User.role.in_(STAFF_ROLES)
    )
    district: list[str] = []
    officers_of_grid: dict[int, list[str]] = defaultdict(list)
    for email, role, grid_id in db.session.execute(staff.order_by(User.email)):
        if grid_id is not None and role in GRID_SCOPE_ROLES:
            officers_of_grid[grid_id].append(email)
        else:
            district.append(email)
    if send_empty or snapshot.inspections or snapshot.hazards:
        add(RecipientKind.DISTRICT, None, None, district)

    with_overdue = {row.contractor_id for row in snapshot.inspections}
    for contractor in db.session.scalars(select(Contractor).order_by(Contractor.name)):
        if contractor.id not in with_overdue and not (
            send_empty and _contractor_active(contractor, snapshot.today)
        ):
            continue
        users = sorted(user.email for user in contractor.users if user.active)
        add(
            RecipientKind.CONTRACTOR,
            contractor.name,
            contractor.id,
            [contractor.contact_email, *users],
        )

    grids = select(Grid.id, Grid.code, Grid.leader_email).where(
        or_(Grid.leader_email.is_not(None), Grid.id.in_(list(officers_of_grid)))
    )
    for grid_id, code, leader_email in db.session.execute(grids.order_by(Grid.code)):
        inspections, hazards = snapshot.in_grid(grid_id)
        if inspections or hazards or send_empty:
            add(RecipientKind.GRID, code, grid_id, [leader_email, *officers_of_grid[grid_id]])
    return recipients


def _contractor_active(contractor: Contractor, today: date) -> bool:
    return (contractor.active_from is None or contractor.active_from <= today) and (
        contractor.active_until is None or contractor.active_until >= today
    )


# --- Composition --------------------------------------------------------------------------


@dataclass
class Group:
    grid_code: str
    grid_name: str
    contractor: str
    count: int
    rows: list[OverdueInspection] = field(default_factory=list)


def _items_for(
    snapshot: OverdueSnapshot, recipient: Recipient
) -> tuple[list[OverdueInspection], list[OverdueHazard]]:
    if recipient.kind == RecipientKind.DISTRICT:
        return snapshot.inspections, snapshot.hazards
    if recipient.kind == RecipientKind.CONTRACTOR:
        return snapshot.of_contractor(recipient.scope_id), []
    return snapshot.in_grid(recipient.scope_id)


def _groups(rows: list[OverdueInspection], max_rows: int | None) -> tuple[list[Group], int]:
    """Counts per (grid, contractor) over every row; the rows listed, up to ``max_rows``."""
    counts = Counter((row.grid_code, row.contractor) for row in rows)
    groups: dict[tuple[str, str], Group] = {}
    for row in rows:
        key = (row.grid_code, row.contractor)
        if key not in groups:
            groups[key] = Group(row.grid_code, row.grid_name, row.contractor, counts[key])
    listed = rows if max_rows is None else rows[:max_rows]
    for row in listed:
        groups[(row.grid_code, row.contractor)].rows.append(row)
    return list(groups.values()), len(rows) - len(listed)


def _change(snapshot: OverdueSnapshot) -> dict[str, Any]:
    week_ago = snapshot.today - timedelta(days=7)
    previous = snapshot.previous or {}
    return {
        "known": snapshot.previous is not None,
        "previous_inspections": previous.get("inspections", 0),
        "previous_hazards": previous.get("hazards", 0),
        "inspections_delta": len(snapshot.inspections) - previous.get("inspections", 0),
        "hazards_delta": len(snapshot.hazards) - previous.get("hazards", 0),
        "new_inspections": sum(1 for row in snapshot.inspections if row.due_on >= week_ago),
        "new_hazards": sum(1 for hazard in snapshot.hazards if hazard.deadline >= week_ago),
    }


def _subject(recipient: Recipient, week: str, inspections: int, hazards: int) -> str:
    if recipient.kind == RecipientKind.DISTRICT:
        return _(
            "Week %(week)s: %(inspections)d overdue inspections, %(hazards)d overdue hazards",
            week=week,
            inspections=inspections,
            hazards=hazards,
        )
    if recipient.kind == RecipientKind.CONTRACTOR:
        return _(
            "Week %(week)s: %(inspections)d overdue inspections for %(name)s",
            week=week,
            inspections=inspections,
            name=recipient.scope,
        )
    return _(
        "Week %(week)s: grid %(grid)s has %(inspections)d overdue inspections, "
        "%(hazards)d overdue hazards",
        week=week,
        grid=recipient.scope,
        inspections=inspections,
        hazards=hazards,
    )


def _render(snapshot: OverdueSnapshot, recipient: Recipient, link: Links) -> ComposedEmail:
    inspections, hazards = _items_for(snapshot, recipient)
    max_rows = current_app.config["ALERT_MAX_ROWS"]
    groups, hidden_rows = _groups(inspections, max_rows)
    listed_hazards = hazards if max_rows is None else hazards[:max_rows]
    with force_locale(recipient.locale):
        context = {
            "recipient": recipient,
            "kind": recipient.kind,
            "week": snapshot.week,
            "today": snapshot.today,
            "total_inspections": len(inspections),
            "total_hazards": len(hazards),
            "show_hazards": recipient.kind != RecipientKind.CONTRACTOR,
            "groups": groups,
            "hidden_rows": hidden_rows,
            "hazards": listed_hazards,
            "hidden_hazards": len(hazards) - len(listed_hazards),
            "change": _change(snapshot) if recipient.kind == RecipientKind.DISTRICT else None,
            "category_labels": CATEGORY_LABELS,
            "severity_labels": SEVERITY_LABELS,
            "app_url": link("dashboard.index"),
            "overdue_url": link("inspections.inspection_list", status="overdue"),
            "hazards_url": link("hazards.hazard_list"),
        }
        # One line: a name with a line break must not become a header injection.
        subject = _subject(recipient, snapshot.week, len(inspections), len(hazards))
        if district := current_app.config["DISTRICT_NAME"]:
            subject = f"{district} · {subject}"
        subject = " ".join(subject.split())
        text = render_template("alerts/email_weekly.txt", subject=subject, **context)
        html = render_template("alerts/email_weekly.html", subject=subject, **context)
    return ComposedEmail(recipient, subject, text, html, len(inspections), len(hazards))


def compose_weekly(
    snapshot: OverdueSnapshot, send_empty: bool | None = None
) -> list[ComposedEmail]:
    """Every recipient's email for the snapshot's week. Each distinct email (same kind, scope
    and language) is rendered once and shared by its recipients."""
    if send_empty is None:
        send_empty = bool(current_app.config["ALERT_SEND_EMPTY"])
    link = Links()
    rendered: dict[tuple[str, int | None, str], ComposedEmail] = {}
    emails = []
    for recipient in alert_recipients(snapshot, send_empty):
        key = (recipient.kind, recipient.scope_id, recipient.locale)
        if key not in rendered:
            rendered[key] = _render(snapshot, recipient, link)
        template = rendered[key]
        if not send_empty and not (template.inspection_count or template.hazard_count):
            continue
        emails.append(
            ComposedEmail(
                recipient,
                template.subject,
                template.text,
                template.html,
                template.inspection_count,
                template.hazard_count,
            )
        )
    return emails


# --- Sending, exactly once ----------------------------------------------------------------


@dataclass
class WeeklyOutcome:
    week: str
    dry_run: bool = False
    composed: list[ComposedEmail] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # recipient keys owned elsewhere/before
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped_reason: str | None = None


class Claim(NamedTuple):
    delivery_id: int
    token: str


def _config(name: str) -> Any:
    return current_app.config[name]


def _backoff(attempts: int) -> timedelta:
    minutes = _config("ALERT_RETRY_BACKOFF_MINUTES") * 2 ** max(attempts - 1, 0)
    return min(timedelta(minutes=minutes), MAX_BACKOFF)


def _message_id(week: str, delivery_id: int) -> str:
    host = urlsplit(_config("BASE_URL")).hostname or "localhost"
    return f"<alerts.{week}.{delivery_id}@{host}>"


def ensure_run(
    week: str,
    trigger: str,
    summary: dict[str, int] | None,
    scheduled_for: datetime | None = None,
) -> int:
    """The (week, trigger) run's id, created if missing; commits."""
    statement = insert_ignoring_duplicates(AlertRun.__table__).values(
        week=week,
        trigger=trigger,
        status=AlertRunStatus.RUNNING,
        summary=summary,
        scheduled_for=scheduled_for,
        started_at=clock.now_utc(),
    )
    db.session.execute(statement)
    db.session.commit()
    return db.session.scalar(
        select(AlertRun.id).where(AlertRun.week == week, AlertRun.trigger == trigger)
    )


def _claim_new(emails: list[ComposedEmail], week: str, run_id: int | None) -> list[Claim]:
    """Insert a claimed delivery per email, in one transaction, in key order (no deadlock
    between racing processes); returns (id, token) of those this process now owns."""
    now = clock.now_utc()
    owned = []
    for email in sorted(emails, key=lambda e: e.recipient.key):
        token = uuid.uuid4().hex
        recipient = email.recipient
        statement = (
            insert_ignoring_duplicates(AlertDelivery.__table__)
            .values(
                week=week,
                recipient=recipient.key,
                run_id=run_id,
                email=recipient.email,
                kind=recipient.kind,
                scope=recipient.scope,
                locale=recipient.locale,
                status=DeliveryStatus.CLAIMED,
                claim_token=token,
                attempts=1,
                subject=email.subject[:300],
                inspection_count=email.inspection_count,
                hazard_count=email.hazard_count,
                body_text=email.text,
                body_html=email.html,
                message_id="",
                claimed_at=now,
            )
            .returning(AlertDelivery.__table__.c.id)
        )
        delivery_id = db.session.execute(statement).scalar()
        if delivery_id is not None:
            owned.append(Claim(delivery_id, token))
    db.session.commit()
    return owned


def _retryable_clause(now: datetime, ignore_backoff: bool) -> Any:
    lease = timedelta(minutes=_config("ALERT_CLAIM_LEASE_MINUTES"))
    failed = AlertDelivery.status == DeliveryStatus.FAILED
    if not ignore_backoff:
        failed = and_(
            failed,
            AlertDelivery.attempts < _config("ALERT_RETRY_MAX_ATTEMPTS"),
            or_(AlertDelivery.next_attempt_at.is_(None), AlertDelivery.next_attempt_at <= now),
        )
    stale = and_(
        AlertDelivery.status == DeliveryStatus.CLAIMED, AlertDelivery.claimed_at < now - lease
    )
    return or_(failed, stale)


def _reclaim_unsent(week: str, ignore_backoff: bool) -> list[Claim]:
    """Claim again the week's unsent deliveries that are due (failed, or a claim whose lease
    ran out): a conditional update per row, so only one process wins each."""
    now = clock.now_utc()
    candidates = db.session.scalars(
        select(AlertDelivery.id)
        .where(AlertDelivery.week == week, _retryable_clause(now, ignore_backoff))
        .order_by(AlertDelivery.id)
    ).all()
    owned = []
    for delivery_id in candidates:
        token = uuid.uuid4().hex
        result = db.session.execute(
            update(AlertDelivery)
            .where(AlertDelivery.id == delivery_id, _retryable_clause(now, ignore_backoff))
            .values(
                status=DeliveryStatus.CLAIMED,
                claim_token=token,
                attempts=AlertDelivery.attempts + 1,
                claimed_at=now,
                next_attempt_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if result.rowcount == 1:
            owned.append(Claim(delivery_id, token))
    return owned


def _renew_claim(delivery_id: int, token: str) -> bool:
    """Still ours? Refresh the lease just before SMTP; False if another process took it."""
    result = db.session.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.id == delivery_id,
            AlertDelivery.claim_token == token,
            AlertDelivery.status == DeliveryStatus.CLAIMED,
        )
        .values(claimed_at=clock.now_utc())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _mark(delivery_id: int, token: str, **values: Any) -> None:
    db.session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id, AlertDelivery.claim_token == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


class TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout, so a stuck server cannot hold a claim."""

    def configure_host(self) -> smtplib.SMTP:
        timeout = _config("MAIL_TIMEOUT_SECONDS")
        state = self.mail
        host_class = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
        host = host_class(state.server, state.port, timeout=timeout)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


class Mailer:
    """One SMTP connection for a batch, opened on first use and again after a failure."""

    def __init__(self) -> None:
        self.connection: TimedConnection | None = None

    def send(self, message: Message) -> None:
        if self.connection is None:
            connection = TimedConnection(current_app.extensions["mail"])
            self.connection = connection.__enter__()
        try:
            self.connection.send(message)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            try:
                if self.connection.host is not None:
                    self.connection.host.close()
            finally:
                self.connection = None

    def quit(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.__exit__(None, None, None)  # type: ignore[arg-type]
            self.connection = None


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]


def _send_owned(owned: list[Claim], outcome: WeeklyOutcome) -> None:
    """Send each owned delivery; each outcome is committed the moment it is known."""
    mailer = Mailer()
    connection_error: str | None = None
    try:
        for delivery_id, token in owned:
            delivery = db.session.get(AlertDelivery, delivery_id, populate_existing=True)
            if connection_error is not None:
                _record_failure(delivery, token, connection_error, outcome)
                continue
            if not _renew_claim(delivery_id, token):
                continue  # its lease ran out and another process took it over
            message = Message(
                subject=delivery.subject,
                recipients=[delivery.email],
                body=delivery.body_text,
                html=delivery.body_html,
                sender=_config("MAIL_DEFAULT_SENDER"),
            )
            message.msgId = _message_id(delivery.week, delivery.id)
            try:
                mailer.send(message)
            except (smtplib.SMTPException, OSError, BadHeaderError) as error:
                text = _error_text(error)
                if isinstance(error, SERVER_UNUSABLE):
                    connection_error = text  # the server is unreachable: fail the rest now
                _record_failure(delivery, token, text, outcome)
                continue
            _mark(
                delivery_id,
                token,
                status=DeliveryStatus.SENT,
                sent_at=clock.now_utc(),
                last_error=None,
                message_id=message.msgId,
            )
            outcome.sent.append(delivery.recipient)
    finally:
        mailer.quit()


def _record_failure(delivery: AlertDelivery, token: str, text: str, outcome) -> None:
    log.warning("weekly alert to %s failed: %s", delivery.email, text)
    _mark(
        delivery.id,
        token,
        status=DeliveryStatus.FAILED,
        last_error=text,
        next_attempt_at=clock.now_utc() + _backoff(delivery.attempts),
    )
    outcome.failed[delivery.recipient] = text


def _finish_runs(week: str) -> None:
    """The week's runs are done when no email of the week is still claimed: a process that
    found nothing left to send leaves its run to the one still handing an email to SMTP
    (each commits its outcomes before it gets here, so the last to finish sees them all),
    and a retry that sends a crashed process's claim finishes that process's run."""
    in_flight = (
        select(AlertDelivery.id)
        .where(AlertDelivery.week == week, AlertDelivery.status == DeliveryStatus.CLAIMED)
        .exists()
    )
    db.session.execute(
        update(AlertRun)
        .where(AlertRun.week == week, AlertRun.status == AlertRunStatus.RUNNING, ~in_flight)
        .values(status=AlertRunStatus.DONE, finished_at=clock.now_utc())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def check_week(week: str) -> str:
    """``week`` normalised; ValueError if it is malformed or still in the future."""
    monday = week_monday(week)
    if monday > district_today():
        raise ValueError(f"{week} has not started yet")
    return iso_week(monday)


def send_weekly(
    week: str | None = None,
    trigger: str = AlertTrigger.CLI,
    dry_run: bool = False,
    scheduled_for: datetime | None = None,
    ignore_backoff: bool | None = None,
) -> WeeklyOutcome:
    """The weekly alert for ``week`` (default: this week), overdue as of today.

    Safe to run any number of times, in any number of processes: each recipient gets the
    week's email once. Unsent deliveries of the week are retried too (the CLI ignores the
    backoff; the scheduler respects it). ``dry_run`` composes and writes nothing.
    """
    week = check_week(week or iso_week(district_today()))
    if ignore_backoff is None:
        ignore_backoff = trigger == AlertTrigger.CLI
    snapshot = overdue_snapshot(week)
    outcome = WeeklyOutcome(week=week, dry_run=dry_run, composed=compose_weekly(snapshot))
    if dry_run:
        outcome.already = _delivered_keys(week, [e.recipient.key for e in outcome.composed])
        db.session.rollback()
        return outcome
    run_id = ensure_run(week, trigger, snapshot.summary(), scheduled_for)
    owned = _claim_new(outcome.composed, week, run_id)
    owned += _reclaim_unsent(week, ignore_backoff)
    _send_owned(owned, outcome)
    _finish_runs(week)
    done_here = set(outcome.sent) | set(outcome.failed)
    outcome.already = [
        e.recipient.key for e in outcome.composed if e.recipient.key not in done_here
    ]
    return outcome


def _delivered_keys(week: str, keys: list[str]) -> list[str]:
    if not keys:
        return []
    query = select(AlertDelivery.recipient).where(
        AlertDelivery.week == week,
        AlertDelivery.recipient.in_(keys),
        AlertDelivery.status == DeliveryStatus.SENT,
    )
    return list(db.session.scalars(query))


def retry_unsent(week: str | None = None, ignore_backoff: bool = False) -> WeeklyOutcome:
    """Send the week's unsent deliveries that are due again (the scheduler's retry job)."""
    week = week or iso_week(district_today())
    outcome = WeeklyOutcome(week=week)
    _send_owned(_reclaim_unsent(week, ignore_backoff), outcome)
    _finish_runs(week)
    return outcome


# --- The scheduled run and its catch-up ----------------------------------------------------


def run_exists(week: str) -> bool:
    return db.session.scalar(select(AlertRun.id).where(AlertRun.week == week).limit(1)) is not None


def record_skipped(week: str, scheduled_for: datetime, reason: str) -> None:
    """A scheduled run missed beyond the grace: a 'skipped' run with the reason, nothing
    sent (``flask alerts send-weekly --week`` can still send it). Commits."""
    log.warning("weekly alert for %s skipped: %s", week, reason)
    db.session.execute(
        insert_ignoring_duplicates(AlertRun.__table__).values(
            week=week,
            trigger=AlertTrigger.SCHEDULE,
            status=AlertRunStatus.SKIPPED,
            scheduled_for=scheduled_for,
            reason=reason,
            started_at=clock.now_utc(),
            finished_at=clock.now_utc(),
        )
    )
    db.session.commit()


def catch_up_weekly(last_fire_time: Callable[[datetime], datetime | None], grace: timedelta) -> str:
    """At scheduler start: the missed-run rule, kept in the database.

    ``last_fire_time(now)`` is the latest scheduled time not after now. If that week has no
    run yet: within ``grace`` of the scheduled time it runs once now; later it records a
    skipped run with the reason and sends nothing. Returns what it did.
    """
    now = clock.now_utc()
    fire_time = last_fire_time(now)
    if fire_time is None:
        return "nothing scheduled"
    week = week_of(fire_time)
    if run_exists(week):
        return f"{week} already ran"
    late = now - fire_time
    if late <= grace:
        outcome = send_weekly(week, AlertTrigger.SCHEDULE, scheduled_for=fire_time)
        return f"{week} caught up: {len(outcome.sent)} sent, {len(outcome.failed)} failed"
    hours = late.total_seconds() / 3600
    scheduled = fire_time.astimezone(district_zone())
    reason = (
        f"the scheduler was not running at {scheduled:%Y-%m-%d %H:%M %Z}"
        f" and started {hours:.1f} h later, beyond the {grace.total_seconds() / 3600:g} h grace;"
        f" send it with: flask --app app alerts send-weekly --week {week}"
    )
    record_skipped(week, fire_time, reason)
    return f"{week} skipped"
