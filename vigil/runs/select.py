"""Which documents one rule execution searches: index patterns, then the time window (kibana-engine.md §1, §3).

Index patterns follow Elasticsearch's multi-target syntax, applied to the concrete index name each source adapter
gives a record (`logs-endpoint.events.process-default`, `auditbeat-8.17.0-2026.11.28`, ...):

* `*` is the only wildcard (`?` and `[` are literal characters in index names);
* a pattern may hold several comma-separated expressions; `-expr` excludes what earlier expressions included;
* a wildcard does not match hidden indices (names starting with `.`) unless the pattern itself starts with `.`.

The window filter is Kibana's `buildTimeRangeFilter`: with a timestamp override (e.g. `event.ingested`) and the
fallback enabled, a document is in the window when the override is in range, or when it has no override value and
its `@timestamp` is in range. Both bounds are inclusive.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

from vigil.engine import fields
from vigil.engine.query import timestamp_ns

Predicate = t.Callable[[dict], bool]


def _compile_expression(expr: str) -> t.Callable[[str], bool]:
    if "*" not in expr:
        return lambda name: name == expr
    regex = re.compile("^" + ".*".join(re.escape(part) for part in expr.split("*")) + "$", re.DOTALL)
    hidden_ok = expr.startswith(".")
    return lambda name: bool(regex.match(name)) and (hidden_ok or not name.startswith("."))


class IndexSelector:
    """Does an index name match a rule's index patterns? Answers are cached: there are few distinct names."""

    def __init__(self, patterns: t.Iterable[str]):
        self.patterns = tuple(patterns)
        self._steps: list[tuple[bool, t.Callable[[str], bool]]] = []
        for pattern in self.patterns:
            for expr in (e.strip() for e in pattern.split(",")):
                if not expr:
                    continue
                if ":" in expr:  # cross-cluster search (`remote:logs-*`): there is no remote cluster here
                    continue
                exclude = expr.startswith("-") and bool(self._steps)
                self._steps.append((exclude, _compile_expression(expr[1:] if exclude else expr)))
        self._cache: dict[str, bool] = {}

    def __call__(self, index: str) -> bool:
        hit = self._cache.get(index)
        if hit is None:
            hit = False
            for exclude, test in self._steps:
                if exclude:
                    hit = hit and not test(index)
                elif not hit:
                    hit = test(index)
            self._cache[index] = hit
        return hit


def _ns(moment: dt.datetime) -> int:
    delta = moment.astimezone(dt.timezone.utc) - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _values(value: t.Any) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return [value]


class TimeFilter:
    """Kibana's time-range filter for one window [start, end] on the primary (and maybe secondary) timestamp."""

    def __init__(self, start: dt.datetime, end: dt.datetime, primary: str = "@timestamp",
                 secondary: t.Optional[str] = None):
        self.start_ns, self.end_ns = _ns(start), _ns(end)
        self.primary = fields.getter(primary)
        self.secondary = fields.getter(secondary) if secondary else None

    def _in_range(self, values: list) -> bool:
        # A multi-valued date field matches a range query when any of its values is in range (Elasticsearch).
        for value in values:
            ns = timestamp_ns(value)
            if ns is not None and self.start_ns <= ns <= self.end_ns:
                return True
        return False

    def __call__(self, doc: dict) -> bool:
        values = _values(self.primary(doc))
        if values:
            return self._in_range(values)
        if self.secondary is None:
            return False
        return self._in_range(_values(self.secondary(doc)))


def has_field(doc: dict, getter: t.Callable[[t.Any], t.Any]) -> bool:
    return bool(_values(getter(doc)))
