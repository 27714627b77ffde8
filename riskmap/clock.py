"""Time as the users of a Chinese plant read it: Beijing time, whole days and calendar months.

One definition of the zone and of the date arithmetic that deadlines, re-assessment periods and validity periods
use, so that a flag, a tile's day and a printed date never disagree about what "today" is.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
# The earliest moment riskmap records or shows: every `at=`, `since=` and accident date is bounded by it.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def now() -> datetime:
    """The present as an aware UTC datetime (what the store records)."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in Beijing."""
    return datetime.now(LOCAL_ZONE).date()


def local_date(moment: datetime) -> date:
    """The Beijing date of an aware moment (a naive one is taken as UTC, as the store keeps them)."""
    return local_time(moment).date()


def local_time(moment: datetime) -> datetime:
    """An aware moment in Beijing time (a naive one is taken as UTC, as the store keeps them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_ZONE)


def local_text(moment: datetime, seconds: bool = True) -> str:
    """A moment as a printed plan says it: Beijing time with its offset, 2026-12-06 22:44:59 +08:00 北京时间."""
    return local_time(moment).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) + " +08:00 北京时间"


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date or date and time (2026-12-01, 2026-12-01T08:00, …+08:00, …Z) as a datetime (naive when
    the text names no zone); ValueError for anything else, a bare number included."""
    text = (text or "").strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        raise ValueError(text)
    return datetime.fromisoformat(text)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter): 2026-01-31 + 1 → 2026-02-28."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
