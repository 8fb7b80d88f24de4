"""Date math and intervals: parsing, resolving against a fixed clock, and located errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from vigil.rules.datemath import DateMathError, lookback, parse_datemath, parse_interval

NOW = datetime(2026, 9, 1, 12, 5, 30, 250000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("now", NOW),
        ("now-9m", NOW - timedelta(minutes=9)),
        ("now-119m", NOW - timedelta(minutes=119)),
        ("now-1h/h", datetime(2026, 9, 1, 11, 0, tzinfo=timezone.utc)),
        ("now/d", datetime(2026, 9, 1, tzinfo=timezone.utc)),
        ("now-5d", NOW - timedelta(days=5)),
        ("now+1M", NOW.replace(month=10)),
        ("now-1y/M", datetime(2025, 9, 1, tzinfo=timezone.utc)),
        ("now/w", datetime(2026, 8, 31, tzinfo=timezone.utc)),  # 2026-09-01 is a Tuesday
        ("2024-01-31T00:00:00Z||+1M", datetime(2024, 2, 29, tzinfo=timezone.utc)),  # clamped to month end
        ("2024-01-31", datetime(2024, 1, 31, tzinfo=timezone.utc)),
    ],
)
def test_resolve(text, expected):
    assert parse_datemath(text).resolve(NOW) == expected


def test_round_up_for_upper_bounds():
    assert parse_datemath("now/d").resolve(NOW, round_up=True) == datetime(
        2026, 9, 1, 23, 59, 59, 999000, tzinfo=timezone.utc
    )


def test_lookback_of_nping_window():
    assert lookback("now-9m", "now", at=NOW) == timedelta(minutes=9)


@pytest.mark.parametrize(
    "text, column, words",
    [
        ("now-9x", 6, "unknown time unit"),
        ("now-m", 5, "expected a number"),
        ("now*9m", 4, "unexpected"),
        ("yesterday", 1, "neither 'now' nor an ISO date"),
        ("", 1, "empty"),
    ],
)
def test_datemath_errors_are_located(text, column, words):
    with pytest.raises(DateMathError) as info:
        parse_datemath(text)
    assert info.value.column == column
    assert words in info.value.message


@pytest.mark.parametrize("text, seconds", [("5m", 300), ("60m", 3600), ("1h", 3600), ("30s", 30), ("1d", 86400)])
def test_interval(text, seconds):
    assert parse_interval(text).total_seconds() == seconds


@pytest.mark.parametrize("text, column", [("5x", 2), ("m5", 1), ("0m", 1), ("5 m", 2)])
def test_interval_errors(text, column):
    with pytest.raises(DateMathError) as info:
        parse_interval(text)
    assert info.value.column == column
