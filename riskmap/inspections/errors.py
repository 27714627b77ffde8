"""The inspection room's errors: each a RiskmapError with its HTTP status and a message in Chinese, then English."""

from __future__ import annotations

from riskmap.errors import AlreadyExistsError, ForbiddenError, InputError, NotFoundError, RiskmapError


class CadenceError(InputError):
    """A cadence that cannot be: an unknown kind, a shift that is not 8 or 12 hours, a 31st of no month."""


class CalendarError(RiskmapError, http_status=422):
    """A date beyond the working-day calendar's data: riskmap does not guess a year's holidays."""


class NoTaskError(NotFoundError):
    """No inspection task with that id in the enterprise."""


class NoOccurrenceError(InputError):
    """A check that belongs to no window of its task (before the task starts, or in the future)."""


class AlreadyCheckedError(AlreadyExistsError):
    """A second check of the same occurrence; a correction names the record it corrects instead."""


class NotAssignedError(ForbiddenError, http_status=403):
    """An inspector who is not the task's post, role or person."""


class CheckpointError(NotFoundError):
    """A QR token that is unknown, reissued (its plate no longer works) or of another enterprise."""


class RecordError(InputError):
    """A check record with bad items: unknown results, items the task lacks, an oversized note."""
