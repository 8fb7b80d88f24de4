"""The time windows of one rule execution: look-back, catch-up after a late run, and the gap that remains.

This follows Kibana's `getRuleRangeTuples` (security solution `rule_types/utils/utils.ts`):

* the window of a run started at T is [from(T), to(T)], both bounds inclusive (`gte`/`lte`);
* the gap since the previous run is `(T - previous start) - (to - from)`: positive means time was not covered;
* `min(ceil(gap / interval), 4)` extra windows are added, each the original shifted back by k * interval; all windows
  run oldest first and each has its own `max_signals` budget;
* whatever gap remains after that is reported: the execution fails with Kibana's message and the gap range
  `{gte: previous start, lte: previous start + remaining}` is recorded.
"""

from __future__ import annotations

import datetime as dt
import math
import typing as t
from dataclasses import dataclass, field

from vigil.rules.datemath import parse_datemath, parse_interval

MAX_RULE_GAP_RATIO = 4  # Kibana: at most 4 catch-up windows per execution


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end], both inclusive."""

    start: dt.datetime
    end: dt.datetime

    def contains(self, when: dt.datetime) -> bool:
        return self.start <= when <= self.end


@dataclass(frozen=True, slots=True)
class Gap:
    gte: dt.datetime
    lte: dt.datetime

    @property
    def duration(self) -> dt.timedelta:
        return self.lte - self.gte


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    windows: tuple[Window, ...]  # oldest first; the last one is the normal window of this run
    gap: t.Optional[Gap] = None
    errors: tuple[str, ...] = field(default=())


def gap_message(remaining: dt.timedelta) -> str:
    """Kibana's error text for a gap that catch-up windows could not cover."""
    ms = int(round(remaining.total_seconds() * 1000))
    return (
        f"{humanize(remaining)} ({ms}ms) were not queried between this rule execution and the last execution, "
        "so signals may have been missed. Consider increasing your look behind time or adding more Kibana instances"
    )


def humanize(duration: dt.timedelta) -> str:
    """moment.js `duration.humanize()` with its default thresholds (what Kibana prints in the gap message)."""
    secs = abs(duration.total_seconds())

    def rnd(x: float) -> int:  # JavaScript Math.round: halves go up
        return int(math.floor(x + 0.5))

    seconds, minutes, hours, days = rnd(secs), rnd(secs / 60), rnd(secs / 3600), rnd(secs / 86400)
    months = rnd(secs / 86400 * 4800 / 146097)
    years = rnd(secs / 86400 * 4800 / 146097 / 12)
    if seconds <= 44:
        return "a few seconds"
    if seconds < 45:
        return f"{seconds} seconds"
    if minutes <= 1:
        return "a minute"
    if minutes < 45:
        return f"{minutes} minutes"
    if hours <= 1:
        return "an hour"
    if hours < 22:
        return f"{hours} hours"
    if days <= 1:
        return "a day"
    if days < 26:
        return f"{days} days"
    if months <= 1:
        return "a month"
    if months < 11:
        return f"{months} months"
    if years <= 1:
        return "a year"
    return f"{years} years"


def plan_execution(
    started_at: dt.datetime,
    previous_started_at: t.Optional[dt.datetime],
    *,
    interval: str = "5m",
    from_: str = "now-6m",
    to: str = "now",
) -> ExecutionPlan:
    """The windows an execution at `started_at` searches, given when the previous one started (None: first run)."""
    original_from = parse_datemath(from_).resolve(started_at)
    original_to = parse_datemath(to).resolve(started_at, round_up=True)
    step = parse_interval(interval)
    windows = [Window(original_from, original_to)]
    if previous_started_at is None:
        return ExecutionPlan(tuple(windows))
    gap = (started_at - previous_started_at) - (original_to - original_from)
    if gap <= dt.timedelta(0):
        return ExecutionPlan(tuple(windows))
    catchup = min(math.ceil(gap / step), MAX_RULE_GAP_RATIO)
    for k in range(1, catchup + 1):
        windows.append(Window(original_from - k * step, original_to - k * step))
    windows.reverse()
    remaining = gap - catchup * step
    if remaining > dt.timedelta(0):
        return ExecutionPlan(
            tuple(windows),
            Gap(previous_started_at, previous_started_at + remaining),
            (gap_message(remaining),),
        )
    return ExecutionPlan(tuple(windows))
