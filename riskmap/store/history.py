"""Reading the past: the moment a user names, the versions current then, the audit trail, and diffs.

The store is append-only (rows carry valid_from/valid_to version numbers and every version row its created_at), so
the state at any moment is a query, never a reconstruction from a log.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from riskmap.errors import InputError

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)       # clocks of client and server may differ; further ahead is a typo
_MOMENT_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$")


def parse_moment(text: str | None, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime.

    Without an offset the time is Beijing time (Asia/Shanghai), the time users of a Chinese plant read on the wall.
    A bare date means the end of that day there: "as of 2026-10-01" includes what was done on 1 October.
    """
    shown = repr(text)[:60]
    bad = InputError(f"时刻 {shown} 不是 ISO 8601 日期或日期时间（如 2026-10-01 或 2026-10-01T08:00）/ "
                     f"moment {shown} is not an ISO 8601 date or date-time (e.g. 2026-10-01 or 2026-10-01T08:00)")
    if not isinstance(text, str):
        raise bad
    raw = text.strip()
    if not raw.isascii() or len(raw) > 40 or not _MOMENT_SHAPE.match(raw.upper()):
        raise bad
    try:
        if len(raw) == 10:
            moment = datetime.combine(date.fromisoformat(raw), time.max, tzinfo=LOCAL_ZONE)
        else:
            moment = datetime.fromisoformat(raw.upper().replace(" ", "T"))
    except ValueError:
        raise bad from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_ZONE)
    moment = moment.astimezone(UTC)
    now = now or datetime.now(UTC)
    if moment < EARLIEST:
        raise InputError(f"时刻 {shown} 早于 1990 年 / moment {shown} is before 1990")
    if moment > now + FUTURE_SLACK:
        raise InputError(f"时刻 {shown} 在未来 / moment {shown} is in the future")
    return moment


def format_moment(moment: datetime) -> str:
    """A moment as users read it: Beijing time to the minute, with its offset (2026-10-01 08:00 +08:00)."""
    local = moment.astimezone(LOCAL_ZONE)
    return local.strftime("%Y-%m-%d %H:%M") + " +08:00"
