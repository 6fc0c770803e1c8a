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


def district_today() -> date:
    """Today's date in the district's time zone (Asia/Shanghai unless configured)."""
    return now_utc().astimezone(district_zone()).date()
