"""How long an assessment stays valid (有效期): from the day a unit was assessed, for the criteria profile's
`reassessment_months`, to the day before the same date that many months later. The notice board prints this
period, and the re-assessment flags raise "validity_expired" once it has ended, by the same rule, so that a
board never shows a period as current that the flags already call expired (or the other way round).

Dates are Beijing dates: a period that ends on 2026-12-05 has ended on 2026-12-06 in China, whatever the
server's time zone.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
DEFAULT_MONTHS = 12


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def beijing_date(moment: datetime | None = None) -> date:
    """The Beijing date of a moment (now when None; a naive moment is taken as UTC)."""
    if moment is None:
        return datetime.now(BEIJING).date()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).date()


@dataclass(frozen=True)
class Validity:
    start: date
    end: date             # the last valid day

    def expired(self, today: date) -> bool:
        return self.end < today

    def text(self) -> str:
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"


def validity(last_assessed: date | None, months: int = DEFAULT_MONTHS) -> Validity | None:
    """The validity period of an assessment made on `last_assessed` (None when no date is recorded)."""
    if last_assessed is None:
        return None
    return Validity(last_assessed, add_months(last_assessed, months) - timedelta(days=1))
