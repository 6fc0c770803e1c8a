"""The district's clock: the one "now" of the whole app (column defaults included).

Tests freeze it here, at the edge of the world: ``freeze(moment)``, and ``freeze(None)`` to
let it run again.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app

_frozen_at: datetime | None = None


def now_utc() -> datetime:
    return datetime.now(UTC) if _frozen_at is None else _frozen_at


def freeze(moment: datetime | None) -> None:
    """Stop the clock at ``moment`` (an aware datetime), or let it run again (None)."""
    global _frozen_at
    if moment is not None and moment.tzinfo is None:
        raise ValueError("freeze the clock at an aware datetime")
    _frozen_at = moment


def district_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def district_time(moment: datetime | None, seconds: bool = False) -> str:
    """A stored time as the district's wall clock, "YYYY-MM-DD HH:MM" (":SS" with ``seconds``).

    The one way every page and email shows a time (the Jinja filter ``local_time``); the page
    names the zone once (base.html's footer), so the value carries none. A naive value is UTC
    (as stored). None is "—"."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return moment.astimezone(district_zone()).strftime(pattern)


def district_today() -> date:
    """Today's date in the district's time zone (Asia/Shanghai unless configured)."""
    return now_utc().astimezone(district_zone()).date()
