"""The district's clock. Tests freeze time here, at the edge of the world."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def now_utc() -> datetime:
    return datetime.now(UTC)


def district_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def district_today() -> date:
    """Today's date in the district's time zone (Asia/Shanghai unless configured)."""
    return now_utc().astimezone(district_zone()).date()
