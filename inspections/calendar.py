"""Each contractor's private iCalendar feed of its due inspections, behind a revocable token.

The feed URL carries a secret token; only its SHA-256 is stored. Creating a new token revokes
the previous one; a revoked or unknown token answers 404. The feed lists the contractor's
scheduled inspections due in the next 90 days and the overdue ones, as all-day events. An
overdue inspection stands on today (the district's date), its summary prefixed "Overdue" in the
feed's language (the calendar app's Accept-Language, else the default), until it is done or
cancelled: a past date in a phone's calendar is never looked at again.

The page offers the new address as a ``webcal://`` link and as a QR code (segno) to scan with
a phone, shown once like the address itself.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from icalendar import Calendar, Event, vDDDTypes, vGeo
from sqlalchemy import or_, select, update

from accounts.access import acting_contractor_id, contract_over, is_staff
from accounts.auth import roles_required
from accounts.models import Contractor, Role, User
from assets.kinds import kind_named
from assets.labels import base_url
from assets.models import Asset
from core import clock
from core.audit import record_change
from core.clock import district_today
from core.extensions import db
from core.inputs import id_or_none
from core.spatial import latitude_of, longitude_of
from inspections.models import CalendarFeed, Inspection, InspectionStatus
from inspections.services import overdue_clause

bp = Blueprint("calendar", __name__, url_prefix="/calendar", template_folder="templates")

FEED_HORIZON_DAYS = 90
PRODID = "-//Safety Asset Registry//Inspections//EN"
INSPECTION_PATH = "/inspections/{id}"


# --- Tokens -------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def active_feed(contractor_id: int) -> CalendarFeed | None:
    return db.session.scalar(
        select(CalendarFeed)
        .where(CalendarFeed.contractor_id == contractor_id, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.id.desc())
    )


def feed_for_token(token: str) -> CalendarFeed | None:
    """The live feed whose token this is, or None (unknown or revoked)."""
    return db.session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None)
        )
    )


def revoke_feeds(contractor: Contractor) -> int:
    """Revoke the contractor's live feeds (audited); returns how many. The caller commits."""
    revoked = db.session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.contractor_id == contractor.id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=clock.now_utc())
        .execution_options(synchronize_session=False)
    ).rowcount
    if revoked:
        record_change("revoke", "calendar_feed", contractor.name, {"live": True}, {"live": False})
    return revoked


def create_feed(contractor: Contractor, created_by: User | None) -> str:
    """A new secret token for the contractor's feed, revoking the previous one (audited).

    Returns the token, to be shown once: only its SHA-256 is stored. The caller commits.
    """
    revoke_feeds(contractor)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        contractor_id=contractor.id,
        token_hash=token_hash(token),
        created_at=clock.now_utc(),
        created_by_id=created_by.id if created_by is not None else None,
    )
    db.session.add(feed)
    db.session.flush()
    record_change("create", "calendar_feed", contractor.name, None, {"feed_id": feed.id})
    return token


def feed_url(token: str) -> str:
    return base_url() + url_for("calendar.feed", token=token)


def webcal_url(url: str) -> str:
    """The feed address with the ``webcal`` scheme, which calendar apps open to subscribe."""
    return "webcal://" + url.split("://", 1)[1] if "://" in url else url


def feed_qr(url: str) -> segno.QRCode:
    return segno.make(url, error="m", boost_error=False)


def feed_qr_svg(url: str) -> str:
    """The address's QR code as an inline ``<svg>`` (no user text in it)."""
    return feed_qr(url).svg_inline(
        scale=1, border=4, omitsize=True, light="#fff", svgclass="qr-code feed-qr"
    )


# --- The iCalendar document ---------------------------------------------------------------


FEED_BATCH = 1_000
CHUNK_EVENTS = 100  # events written to the response at a time
CALENDAR_END = b"END:VCALENDAR\r\n"


class FeedRow(NamedTuple):
    """What an event shows of one inspection and its asset."""

    id: int
    due_on: date
    code: str
    kind: str
    name: str
    address: str | None
    longitude: float | None
    latitude: float | None


def feed_inspections(
    contractor_id: int, today: date, horizon_days: int = FEED_HORIZON_DAYS
) -> Iterator[FeedRow]:
    """The contractor's scheduled inspections due up to ``today + horizon_days``, overdue ones
    included, by due date: only the columns an event shows, read in batches (a large
    contractor has tens of thousands)."""
    rows = db.session.execute(
        select(
            Inspection.id,
            Inspection.due_on,
            Asset.code,
            Asset.kind,
            Asset.name,
            Asset.address,
            longitude_of(Asset.location),
            latitude_of(Asset.location),
        )
        .join(Asset, Asset.id == Inspection.asset_id)
        .where(
            Inspection.contractor_id == contractor_id,
            Inspection.status == InspectionStatus.SCHEDULED,
            or_(
                overdue_clause(today),
                Inspection.due_on.between(today, today + timedelta(days=horizon_days)),
            ),
        )
        .order_by(Inspection.due_on, Inspection.id)
        .execution_options(yield_per=FEED_BATCH)
    )
    for row in rows:
        yield FeedRow(*row)


def calendar_head(contractor: Contractor) -> Calendar:
    """The feed's calendar without its events."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("Inspections · %(name)s", name=contractor.name))
    calendar.add("x-wr-timezone", current_app.config["TIMEZONE"])
    return calendar


def contractor_calendar(contractor: Contractor, today: date | None = None) -> Calendar:
    """The whole feed as one ``Calendar`` made by icalendar, event by event (held in memory:
    the reference the streamed feed is tested against, byte for byte)."""
    today = district_today() if today is None else today
    calendar = calendar_head(contractor)
    writer = EventWriter(today)
    for row in feed_inspections(contractor.id, today):
        calendar.add_component(writer.event(row))
    return calendar


def calendar_chunks(contractor: Contractor, today: date | None = None) -> Iterator[bytes]:
    """The feed's bytes, the same as ``contractor_calendar(...).to_ical()``: the calendar's
    opening lines (icalendar), the events ``CHUNK_EVENTS`` at a time (``EventWriter.event_text``),
    the closing line. Memory stays that of one batch however many events there are."""
    today = district_today() if today is None else today
    head = calendar_head(contractor).to_ical()
    assert head.endswith(CALENDAR_END)
    yield head[: -len(CALENDAR_END)]
    writer = EventWriter(today)
    batch: list[str] = []
    for row in feed_inspections(contractor.id, today):
        batch.append(writer.event_text(row))
        if len(batch) == CHUNK_EVENTS:
            yield "".join(batch).encode()
            batch = []
    yield "".join(batch).encode() + CALENDAR_END


def ical_text(value: str) -> str:
    """A TEXT value escaped as icalendar's ``vText`` escapes it (RFC 5545 3.3.11; ``\\N``
    read as a line break, every line ending written ``\\n``)."""
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def ical_line(line: str) -> str:
    """One content line and its CRLF, folded as icalendar folds: pieces of at most 74 octets,
    never cut inside a character nor just after a backslash (or ``^``), each piece after the
    first on a new line that starts with a space."""
    encoded = line.encode()
    if len(encoded) < FOLD_OCTETS:
        return line + "\r\n"
    pieces = []
    while len(encoded) >= FOLD_OCTETS:
        cut = FOLD_OCTETS - 1
        while encoded[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: inside a character
            cut -= 1
        if cut > 1 and encoded[cut - 1] in b"\\^":
            cut -= 1  # keep an escape's backslash with what it escapes
        pieces.append(encoded[:cut])
        encoded = encoded[cut:]
    pieces.append(encoded)
    return b"\r\n ".join(pieces).decode() + "\r\n"


def ical_date(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


FOLD_OCTETS = 75


class EventWriter:
    """Makes the events of one feed: what every event shares (the host, the time stamp, the
    labels in the feed's language) is worked out once, not per event.

    ``event`` builds an icalendar ``Event``; ``event_text`` writes the same bytes as its
    ``to_ical()`` with string formatting, about 40 times faster: icalendar spends about
    0.7 ms on an event (building its properties and parameters, folding lines a character
    at a time), which made the feed of a contractor with 10k open inspections take seconds.
    ``tests/test_calendar.py`` holds the two to the same bytes, odd text included."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.base = base_url()
        self.host = urlsplit(self.base).hostname or "localhost"
        self.stamp = clock.now_utc()
        self.stamp_text = vDDDTypes(self.stamp).to_ical().decode()
        self.kind_labels: dict[str, str] = {}
        # The feed's language's templates, filled in per event.
        self.overdue_summary = _("Overdue · %(summary)s")
        self.overdue_since = _("Overdue since %(due)s.")
        self.log_the_result = _("Log the result: %(url)s")

    def kind_label(self, kind_name: str) -> str:
        if kind_name not in self.kind_labels:
            kind = kind_named(kind_name)
            self.kind_labels[kind_name] = str(kind.label) if kind is not None else kind_name
        return self.kind_labels[kind_name]

    def parts(self, row: FeedRow) -> EventParts:
        """What the event says: an all-day event on the due date, or on ``today`` marked
        overdue when that has passed."""
        link = self.base + INSPECTION_PATH.format(id=row.id)
        overdue = row.due_on < self.today
        summary = f"{row.code} · {self.kind_label(row.kind)} · {row.name}"
        description = self.log_the_result % {"url": link}
        if overdue:
            summary = self.overdue_summary % {"summary": summary}
            description = self.overdue_since % {"due": row.due_on.isoformat()} + "\n" + description
        geo = None
        if row.longitude is not None and row.latitude is not None:
            geo = vGeo((row.latitude, row.longitude))
        return EventParts(
            uid=f"inspection-{row.id}@{self.host}",
            day=self.today if overdue else row.due_on,
            summary=summary,
            location=row.address or None,
            geo=geo,
            description=description,
            url=link,
        )

    def event(self, row: FeedRow) -> Event:
        parts = self.parts(row)
        event = Event()
        event.add("uid", parts.uid)
        event.add("dtstamp", self.stamp)
        event.add("dtstart", parts.day)
        event.add("dtend", parts.day + timedelta(days=1))
        event.add("summary", parts.summary)
        if parts.location:
            event.add("location", parts.location)
        if parts.geo is not None:
            event.add("geo", parts.geo)
        event.add("description", parts.description)
        event.add("url", parts.url)
        event.add("transp", "TRANSPARENT")
        return event

    def event_text(self, row: FeedRow) -> str:
        """``event(row).to_ical()`` as text: its properties in icalendar's order for an event
        (its canonical ones, then the others alphabetically)."""
        parts = self.parts(row)
        lines = [
            "BEGIN:VEVENT\r\n",
            ical_line("SUMMARY:" + ical_text(parts.summary)),
            f"DTSTART;VALUE=DATE:{ical_date(parts.day)}\r\n",
            f"DTEND;VALUE=DATE:{ical_date(parts.day + timedelta(days=1))}\r\n",
            f"DTSTAMP:{self.stamp_text}\r\n",
            ical_line("UID:" + ical_text(parts.uid)),
            ical_line("DESCRIPTION:" + ical_text(parts.description)),
        ]
        if parts.geo is not None:
            lines.append(f"GEO:{parts.geo.to_ical()}\r\n")
        if parts.location:
            lines.append(ical_line("LOCATION:" + ical_text(parts.location)))
        lines += ["TRANSP:TRANSPARENT\r\n", ical_line("URL:" + parts.url), "END:VEVENT\r\n"]
        return "".join(lines)


class EventParts(NamedTuple):
    uid: str
    day: date
    summary: str
    location: str | None
    geo: vGeo | None
    description: str
    url: str


@bp.get("/<token>.ics")
def feed(token: str):
    """The public feed: no login, the token is the key. Reads only. A company whose contract
    has ended has no feed any more: 410 Gone. Streamed: a large contractor's feed holds tens
    of thousands of events."""
    found = feed_for_token(token)
    if found is None:
        abort(404)
    if contract_over(found.contractor):
        abort(410)
    body = stream_with_context(calendar_chunks(found.contractor))
    response = current_app.response_class(body, content_type="text/calendar; charset=utf-8")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# --- Token management ---------------------------------------------------------------------


def managed_contractor(raw_id: str | None) -> Contractor | None:
    """The contractor whose feed the current user manages: its own for a contractor user,
    the one picked (``contractor`` id) for staff."""
    if not is_staff(current_user):
        contractor_id = acting_contractor_id(current_user)
        if contractor_id is None:
            abort(403)
        return db.session.get(Contractor, contractor_id)
    if not raw_id:
        return None
    number = id_or_none(raw_id)
    if number is None:
        abort(400, description=_("Pick a contractor."))
    contractor = db.session.get(Contractor, number)
    if contractor is None:
        abort(404, description=_("No such contractor."))
    return contractor


def may_manage_feed() -> bool:
    """Administrators and the contractor's own users create and revoke; officers look."""
    return current_user.has_role(Role.ADMIN, Role.CONTRACTOR)


def render_feed_page(contractor: Contractor | None, new_url: str | None = None, status=200):
    contractors = []
    if is_staff(current_user):
        contractors = db.session.scalars(select(Contractor).order_by(Contractor.name)).all()
    response = current_app.make_response(
        (
            render_template(
                "calendar/index.html",
                contractor=contractor,
                contractors=contractors,
                feed=active_feed(contractor.id) if contractor is not None else None,
                new_url=new_url,
                webcal=webcal_url(new_url) if new_url else None,
                qr_svg=feed_qr_svg(webcal_url(new_url)) if new_url else None,
                may_manage=may_manage_feed(),
            ),
            status,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@roles_required(Role.ADMIN, Role.OFFICER, Role.CONTRACTOR)
def feed_page():
    return render_feed_page(managed_contractor(request.args.get("contractor")))


@bp.post("/new")
@roles_required(Role.ADMIN, Role.CONTRACTOR)
def feed_new():
    contractor = managed_contractor(request.form.get("contractor"))
    if contractor is None:
        abort(400, description=_("Pick a contractor."))
    token = create_feed(contractor, current_user)
    db.session.commit()
    # Shown once, in this answer only (never in a flash message, a log or a redirect).
    return render_feed_page(contractor, new_url=feed_url(token))


@bp.post("/revoke")
@roles_required(Role.ADMIN, Role.CONTRACTOR)
def feed_revoke():
    contractor = managed_contractor(request.form.get("contractor"))
    if contractor is None:
        abort(400, description=_("Pick a contractor."))
    if revoke_feeds(contractor):
        db.session.commit()
        flash(_("The calendar feed is revoked; its address no longer works."), "success")
    else:
        flash(_("There was no calendar feed to revoke."), "info")
    args = {} if current_user.has_role(Role.CONTRACTOR) else {"contractor": contractor.id}
    return redirect(url_for("calendar.feed_page", **args))
