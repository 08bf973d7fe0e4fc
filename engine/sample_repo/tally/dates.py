"""Date helpers for delivery schedules."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def parse_date(text: str) -> date:
    """Parse YYYY-MM-DD (surrounding spaces allowed)."""
    year, month, day = (int(part) for part in text.strip().split("-"))
    return date(year, month, day)


def days_between(start: date, end: date) -> int:
    """Whole days from start to end (negative if end is earlier)."""
    delta = end - start
    return delta.days


def add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the end of shorter months."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


def next_business_day(day: date) -> date:
    """The first weekday strictly after `day`."""
    nxt = day + timedelta(days=1)
    while is_weekend(nxt):
        nxt += timedelta(days=1)
    return nxt
