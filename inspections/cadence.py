"""Fixed-calendar cadences: "every N days/weeks/months/quarters/years from the anchor date".

The k-th occurrence is always computed from the anchor (``start_on + k * every units``), never
from the previous occurrence, so a plan anchored on 31 January falls on 28/29 February,
31 March, 30 April… and never drifts to the 28th. Pure functions: no database, no clock.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

UNITS = ("day", "week", "month", "quarter", "year")
MONTHS_PER_UNIT = {"month": 1, "quarter": 3, "year": 12}
DAYS_PER_UNIT = {"day": 1, "week": 7}


def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by whole calendar months, its day clamped to the month's last day."""
    month_index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last_day))


def nth_occurrence(start_on: date, unit: str, every: int, k: int) -> date:
    """The k-th occurrence (k = 0 is ``start_on`` itself)."""
    if unit in DAYS_PER_UNIT:
        return start_on + timedelta(days=k * every * DAYS_PER_UNIT[unit])
    if unit in MONTHS_PER_UNIT:
        return add_months(start_on, k * every * MONTHS_PER_UNIT[unit])
    raise ValueError(f"unknown cadence unit {unit!r}: use one of {', '.join(UNITS)}")


def _first_index_at_or_after(start_on: date, unit: str, every: int, day: date) -> int:
    """The smallest k whose occurrence is on or after ``day`` (an estimate, then corrected)."""
    if day <= start_on:
        return 0
    if unit in DAYS_PER_UNIT:
        step = every * DAYS_PER_UNIT[unit]
        return -(-(day - start_on).days // step)
    step = every * MONTHS_PER_UNIT[unit]
    months = (day.year - start_on.year) * 12 + day.month - start_on.month
    k = max(0, months // step - 1)
    while nth_occurrence(start_on, unit, every, k) < day:
        k += 1
    return k


def occurrences(
    start_on: date,
    unit: str,
    every: int,
    window_start: date,
    window_end: date,
    end_on: date | None = None,
) -> list[date]:
    """The cadence's dates within ``[window_start, window_end]`` (both inclusive), never
    before ``start_on`` and never after ``end_on`` when one is given."""
    if unit not in UNITS:
        raise ValueError(f"unknown cadence unit {unit!r}: use one of {', '.join(UNITS)}")
    if every < 1:
        raise ValueError("a cadence repeats every 1 or more units")
    last = window_end if end_on is None else min(window_end, end_on)
    k = _first_index_at_or_after(start_on, unit, every, window_start)
    dates: list[date] = []
    while (day := nth_occurrence(start_on, unit, every, k)) <= last:
        dates.append(day)
        k += 1
    return dates
