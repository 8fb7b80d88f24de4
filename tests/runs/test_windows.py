"""Execution windows, catch-up and gaps, as Kibana's getRuleRangeTuples computes them (Nping: 5m, now-9m)."""

from __future__ import annotations

import datetime as dt

import pytest

from vigil.runs.windows import Window, gap_message, humanize, plan_execution

T = dt.datetime(2026, 11, 28, 12, 5, tzinfo=dt.timezone.utc)
M = dt.timedelta(minutes=1)


def nping_plan(previous):
    return plan_execution(T, previous, interval="5m", from_="now-9m", to="now")


def test_first_run_searches_the_look_back():
    plan = nping_plan(None)
    assert plan.windows == (Window(T - 9 * M, T),) and plan.gap is None and plan.errors == ()


def test_on_time_run_overlaps_the_previous_window_by_four_minutes():
    plan = nping_plan(T - 5 * M)
    assert plan.windows == (Window(T - 9 * M, T),)
    assert plan.windows[0].contains(T - 9 * M) and plan.windows[0].contains(T)  # both bounds inclusive


def test_up_to_nine_minutes_late_needs_no_catch_up():
    assert len(nping_plan(T - 9 * M).windows) == 1


def test_twelve_minutes_adds_one_catch_up_window_oldest_first():
    plan = nping_plan(T - 12 * M)
    assert plan.windows == (Window(T - 14 * M, T - 5 * M), Window(T - 9 * M, T))
    assert plan.gap is None


@pytest.mark.parametrize("late_minutes, windows", [(15, 3), (24, 4), (29, 5), (30, 5)])
def test_catch_up_is_capped_at_four_windows(late_minutes, windows):
    assert len(nping_plan(T - late_minutes * M).windows) == windows


def test_remaining_gap_fails_the_run_with_kibanas_message():
    previous = T - 60 * M
    plan = nping_plan(previous)
    # gap = 60 - 9 = 51 minutes; 4 catch-up windows cover 20; 31 remain
    assert plan.gap is not None and plan.gap.gte == previous and plan.gap.duration == 31 * M
    assert plan.errors == (
        "31 minutes (1860000ms) were not queried between this rule execution and the last execution, so signals "
        "may have been missed. Consider increasing your look behind time or adding more Kibana instances",
    )
    assert len(plan.windows) == 5


@pytest.mark.parametrize("seconds, text", [
    (10, "a few seconds"), (44, "a few seconds"), (50, "a minute"), (90, "2 minutes"), (44 * 60, "44 minutes"),
    (45 * 60, "an hour"), (3 * 3600, "3 hours"), (22 * 3600, "a day"), (3 * 86400, "3 days"),
    (26 * 86400, "a month"), (70 * 86400, "2 months"), (400 * 86400, "a year"), (800 * 86400, "2 years"),
])
def test_humanize_matches_moment(seconds, text):
    assert humanize(dt.timedelta(seconds=seconds)) == text


def test_gap_message_counts_milliseconds():
    assert gap_message(dt.timedelta(seconds=1.5)).startswith("a few seconds (1500ms) were not queried")
