"""As-of dates of a backfill: every month, week or N days from a start date to an end date."""
from __future__ import annotations

import calendar
import datetime as dt
import re

_EVERY = re.compile(r"\s*(?:(?P<unit>month|week)|(?P<days>\d+)\s*(?:days?|d))\s*")


def as_of_dates(start: dt.date, end: dt.date, every: str) -> list[dt.date]:
    """Dates from `start` to `end` inclusive. `every`: `month`, `week`, `N days` or `Nd`.

    Monthly dates keep start's day of the month, clipped to shorter months; a start on the
    last day of a month gives the last day of every month (01-31, 02-29, 03-31, ...)."""
    match = _EVERY.fullmatch(every)
    if match is None:
        raise ValueError(f"--every {every!r}: use month, week, or a number of days like '14 days'")
    if end < start:
        raise ValueError(f"the end date {end} is before the start date {start}")
    if match["unit"] == "month":
        month_end = start.day == calendar.monthrange(start.year, start.month)[1]
        dates, months = [], 0
        while (date := _add_months(start, months, month_end)) <= end:
            dates.append(date)
            months += 1
        return dates
    step = 7 if match["unit"] == "week" else int(match["days"])
    if step < 1:
        raise ValueError(f"--every {every!r}: the number of days must be at least 1")
    return [start + dt.timedelta(days=d) for d in range(0, (end - start).days + 1, step)]


def _add_months(start: dt.date, months: int, month_end: bool) -> dt.date:
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    last_day = calendar.monthrange(year, month)[1]
    return dt.date(year, month, last_day if month_end else min(start.day, last_day))


def add_months(start: dt.date, months: int) -> dt.date:
    """`start` moved by whole months (may be negative), as backfill dates move: the
    day clipped to shorter months, a month's last day kept a last day."""
    month_end = start.day == calendar.monthrange(start.year, start.month)[1]
    return _add_months(start, months, month_end)
