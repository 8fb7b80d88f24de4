"""Elasticsearch date math (`now-9m`, `now-1h/h`, `2024-01-01||+1d`) and Kibana rule intervals (`5m`).

A rule's `from`/`to` are date math evaluated against the run's start time; `interval` is a plain duration.
Parsing is separate from resolving so a rule can be validated once and resolved on every run.

Units (ES date math): y M w d h H m s (`H` is hours, like `h`). Rounding `/u` rounds *down* here; Elasticsearch
rounds `lte`/`lt` upper bounds up (to the end of the unit), which `resolve(..., round_up=True)` reproduces.
Intervals accept s m h d (what Kibana's schedule parser accepts), and a positive integer amount.
"""

from __future__ import annotations

import calendar
import re
import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

UNITS = "yMwdhHms"
INTERVAL_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class DateMathError(ValueError):
    """Bad date math; `column` is the 1-based position of the problem inside the expression."""

    def __init__(self, message: str, text: str, column: int):
        super().__init__(message)
        self.message = message
        self.text = text
        self.column = column


@dataclass(frozen=True, slots=True)
class DateMath:
    """A parsed expression: an anchor (`now` or an absolute datetime) and a list of operations in order."""

    text: str
    anchor: t.Optional[datetime]  # None means `now`
    ops: tuple[tuple[str, int, str], ...]  # ("+"|"-", amount, unit) or ("/", 0, unit)

    def resolve(self, now: datetime, round_up: bool = False) -> datetime:
        """The instant this expression names when the clock reads `now` (an aware datetime, kept in its zone)."""
        value = self.anchor if self.anchor is not None else now
        for op, amount, unit in self.ops:
            if op == "/":
                value = _round(value, unit, up=round_up)
            else:
                value = _add(value, amount if op == "+" else -amount, unit)
        return value

    def __str__(self) -> str:
        return self.text


def parse_datemath(text: str) -> DateMath:
    """Parse `now`, `now-9m`, `now-1h/h`, `now/d`, an ISO date/time, or `<iso>||-1d`. Raises DateMathError."""
    if not isinstance(text, str) or not text.strip():
        raise DateMathError("empty date math expression (expected e.g. now-9m)", str(text), 1)
    if text != text.strip():
        raise DateMathError("date math must not have surrounding spaces", text, 1)
    if text.startswith("now"):
        anchor, rest, offset = None, text[3:], 3
    else:
        head, sep, rest = text.partition("||")
        anchor = _parse_absolute(head, text)
        offset = len(head) + len(sep)
        if not sep:
            return DateMath(text, anchor, ())
    return DateMath(text, anchor, _parse_ops(rest, text, offset))


_OP_RE = re.compile(r"([+-])(\d+)([a-zA-Z]+)|/([a-zA-Z]+)")


def _parse_ops(rest: str, text: str, offset: int) -> tuple[tuple[str, int, str], ...]:
    ops: list[tuple[str, int, str]] = []
    pos = 0
    while pos < len(rest):
        m = _OP_RE.match(rest, pos)
        if not m:
            col = offset + pos + 1
            ch = rest[pos]
            if ch in "+-" and not rest[pos + 1 : pos + 2].isdigit():
                raise DateMathError(f"expected a number after '{ch}'", text, col + 1)
            raise DateMathError(f"unexpected {ch!r}: expected +N<unit>, -N<unit> or /<unit>", text, col)
        unit = m.group(3) or m.group(4)
        unit_col = offset + (m.start(3) if m.group(3) else m.start(4)) + 1
        if unit not in UNITS or len(unit) != 1:
            raise DateMathError(f"unknown time unit {unit!r} (use one of y M w d h H m s)", text, unit_col)
        if m.group(4):
            ops.append(("/", 0, unit))
        else:
            ops.append((m.group(1), int(m.group(2)), unit))
        pos = m.end()
    return tuple(ops)


def _parse_absolute(head: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(head.replace("Z", "+00:00"))
    except ValueError:
        raise DateMathError(
            f"{head!r} is neither 'now' nor an ISO date (e.g. now-9m, 2024-01-31T00:00:00Z)", text, 1
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _add(value: datetime, amount: int, unit: str) -> datetime:
    if unit in "yM":
        months = value.month - 1 + amount * (12 if unit == "y" else 1)
        year, month = value.year + months // 12, months % 12 + 1
        day = min(value.day, calendar.monthrange(year, month)[1])
        return value.replace(year=year, month=month, day=day)
    seconds = {"w": 604800, "d": 86400, "h": 3600, "H": 3600, "m": 60, "s": 1}[unit]
    return value + timedelta(seconds=amount * seconds)


def _round(value: datetime, unit: str, up: bool) -> datetime:
    if unit == "y":
        down = value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "M":
        down = value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "w":  # ES weeks start on Monday
        day = value.replace(hour=0, minute=0, second=0, microsecond=0)
        down = day - timedelta(days=day.weekday())
    elif unit == "d":
        down = value.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit in "hH":
        down = value.replace(minute=0, second=0, microsecond=0)
    elif unit == "m":
        down = value.replace(second=0, microsecond=0)
    else:
        down = value.replace(microsecond=0)
    if not up:
        return down
    # ES rounds an upper bound to the last millisecond of the unit.
    return _add(down, 1, unit) - timedelta(milliseconds=1)


_INTERVAL_RE = re.compile(r"^(\d+)([smhd])$")


def parse_interval(text: str) -> timedelta:
    """A Kibana rule interval such as `5m`, `60m`, `1h`, `30s`, `1d`. Raises DateMathError."""
    if not isinstance(text, str) or not text:
        raise DateMathError("empty interval (expected e.g. 5m)", str(text), 1)
    m = _INTERVAL_RE.match(text)
    if not m:
        digits = len(text) - len(text.lstrip("0123456789"))
        if digits == 0:
            raise DateMathError("an interval starts with a whole number (e.g. 5m)", text, 1)
        raise DateMathError(f"unknown interval unit {text[digits:]!r} (use s, m, h or d)", text, digits + 1)
    amount = int(m.group(1))
    if amount == 0:
        raise DateMathError("an interval must be longer than zero", text, 1)
    return timedelta(seconds=amount * INTERVAL_SECONDS[m.group(2)])


def lookback(from_: str, to: str = "now", at: t.Optional[datetime] = None) -> timedelta:
    """The length of the window `[from, to]` at time `at` (default: now, UTC)."""
    now = at or datetime.now(timezone.utc)
    return parse_datemath(to).resolve(now, round_up=True) - parse_datemath(from_).resolve(now)
