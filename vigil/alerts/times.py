"""Timestamps as Kibana writes them: JavaScript's `Date.prototype.toISOString()` (UTC, milliseconds, `Z`)."""

from __future__ import annotations

import datetime as dt
import re
import typing as t

_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def js_iso(moment: dt.datetime) -> str:
    """`2026-09-01T12:01:10.000Z`; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_time(value: t.Any) -> t.Optional[dt.datetime]:
    """An event timestamp (ISO-8601 string, or epoch milliseconds) as an aware UTC datetime; None if unusable.

    Like Kibana's `getValidDateFromDoc`: numbers and numeric strings are epoch milliseconds; digits beyond
    microseconds are dropped (JavaScript keeps milliseconds; `js_iso` truncates to them); a string without an offset
    is read as UTC (Kibana's moment would use the server's zone, which is UTC on Elastic's images).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return dt.datetime.fromtimestamp(float(text) / 1000, tz=dt.timezone.utc)
    text = _FRACTION.sub(lambda m: m.group(1), text, count=1)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def to_iso(value: t.Any) -> t.Any:
    """A datetime as `js_iso`, anything else unchanged (rule `created_at` may be either)."""
    return js_iso(value) if isinstance(value, dt.datetime) else value
