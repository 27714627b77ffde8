"""Reading the past: moments users type, versions current at a moment, the audit trail, diffs between moments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from riskmap.errors import InputError
from riskmap.store.history import format_moment, parse_moment

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("2026-10-01T08:00", datetime(2026, 10, 1, 0, 0, tzinfo=UTC)),            # no offset: Beijing time
    ("2026-10-01 08:00:30", datetime(2026, 10, 1, 0, 0, 30, tzinfo=UTC)),
    ("2026-10-01T08:00Z", datetime(2026, 10, 1, 8, 0, tzinfo=UTC)),
    ("2026-10-01T08:00:00+02:00", datetime(2026, 10, 1, 6, 0, tzinfo=UTC)),
    ("2026-10-01", datetime(2026, 10, 1, 15, 59, 59, 999999, tzinfo=UTC)),     # a date: the end of that day there
])
def test_parse_moment_reads_iso_dates_and_times(text, expected):
    assert parse_moment(text, now=NOW) == expected
    assert parse_moment(text, now=NOW).tzinfo is UTC


@pytest.mark.parametrize("text, words", [
    ("yesterday", "not an ISO 8601"), ("2026-13-01", "not an ISO 8601"), ("2026-02-30", "not an ISO 8601"),
    ("2026-10-01T25:00", "not an ISO 8601"), ("２０２６-10-01", "not an ISO 8601"), ("", "not an ISO 8601"),
    ("2026-10-01T08:00" + "0" * 100, "not an ISO 8601"), (None, "not an ISO 8601"),
    ("1989-12-31", "before 1990"), ("2027-01-01", "in the future"), ("20261001", "not an ISO 8601"),
])
def test_parse_moment_refuses_garbage_in_both_languages(text, words):
    with pytest.raises(InputError) as caught:
        parse_moment(text, now=NOW)
    assert words in caught.value.message and "时刻" in caught.value.message


def test_format_moment_is_beijing_time():
    assert format_moment(datetime(2026, 10, 1, 0, 0, tzinfo=UTC)) == "2026-10-01 08:00 +08:00"
