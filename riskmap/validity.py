"""How long an assessment stays valid (有效期): from the day a unit was assessed, for the criteria profile's
`reassessment_months`, to the day before the same date that many months later. The notice board prints this
period, and the re-assessment flags raise "validity_expired" once it has ended, by the same rule, so that a
board never shows a period as current that the flags already call expired (or the other way round).

Dates are Beijing dates: a period that ends on 2026-12-05 has ended on 2026-12-06 in China, whatever the
server's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from riskmap.clock import add_months

DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class Validity:
    """A validity period (有效期), both ends included: valid on `end`, expired from the day after."""

    start: date
    end: date             # the last valid day

    def expired(self, today: date) -> bool:
        """Whether the period has ended by `today`, a Beijing date (riskmap.clock.today), by the flags' rule."""
        return self.end < today

    def text(self) -> str:
        """The period as the notice board prints it: "2026-01-01 至 2026-12-31"."""
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"


def validity(last_assessed: date | None, months: int = DEFAULT_MONTHS) -> Validity | None:
    """The validity period of an assessment made on `last_assessed` (None when no date is recorded)."""
    if last_assessed is None:
        return None
    return Validity(last_assessed, add_months(last_assessed, months) - timedelta(days=1))
