"""`compile_query()` → `CompiledQuery`: one EQL query ready to run over ordered events, in batch or live.

    cq = compile_query('sequence by host.id [process where true] [network where true]')
    for m in cq.run(events):            # events already in (timestamp, tiebreaker) order
        m.events, m.join_keys
    s = cq.stream(); s.feed(event) -> [Match]; s.close() -> [Match]

Event queries filter; sequences and samples delegate to `sequence.SequenceMatcher` / `sample.SampleMatcher`.
Pipes (`head N`, `tail N`) apply to the results in order; `run()` stops reading input once every result a `head`
can pass has been produced.

Ordering follows Elasticsearch's *ordinal*: the timestamp (to the nanosecond), then the tiebreaker field if one is
configured, then arrival order (ES's implicit `_shard_doc` tiebreaker). `sort_key()` gives that order for sorting
input; `timestamp_ns()` reads ISO-8601 strings (any fraction length, `Z` or offsets), and epoch milliseconds given
as numbers or digit strings, as an ES `date`/`date_nanos` field accepts them.
"""

from __future__ import annotations

import itertools
import re
import typing as t
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from vigil.engine import fields
from vigil.engine.sample import SampleMatcher, SampleStep
from vigil.engine.sequence import DEFAULT_MAX_SEQUENCE_STATES, SequenceMatcher, Stage
from vigil.eql import ast
from vigil.errors import EqlSemanticError

Event = t.Dict[str, t.Any]


@dataclass(slots=True)
class Match:
    """One result: the matching event (event queries), or a sequence's / sample's events in step order.

    `events` holds None where a missing-event step (`![...]`) sits; `join_keys` is the key values of a sequence or
    sample (None for event queries)."""

    events: t.List[t.Optional[Event]]
    join_keys: t.Optional[t.List[t.Any]] = None


# ------------------------------------------------------------------------------------------------ ordering
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:[.,](?P<frac>\d+))?)?"
    r"(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def timestamp_ns(value: t.Any) -> t.Optional[int]:
    """Nanoseconds since the epoch for an ES date value, or None when it is missing or unreadable.

    Numbers and digit strings are epoch milliseconds (fractions allowed); strings otherwise are ISO-8601 dates."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, list):
        return timestamp_ns(value[0]) if value else None
    if isinstance(value, int):
        return value * 1_000_000
    if isinstance(value, float):
        return int(Decimal(repr(value)) * 1_000_000)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[:1] in "-0123456789" and text.lstrip("-").replace(".", "", 1).isdigit():
        try:
            return int(Decimal(text) * 1_000_000)
        except InvalidOperation:
            return None
    match = _ISO.match(text)
    if match is None:
        return None
    time = match["time"] or "00:00:00"
    if len(time) == 5:
        time += ":00"
    tz = match["tz"] or "Z"
    if tz in ("Z", "z"):
        tz = "+00:00"
    elif len(tz) == 3:
        tz += ":00"
    elif ":" not in tz:
        tz = tz[:3] + ":" + tz[3:]
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{time}{tz}")
    except ValueError:
        return None
    delta = moment - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    frac = (match["frac"] or "")[:9].ljust(9, "0")
    return seconds * 1_000_000_000 + int(frac)


def _tiebreaker_key(value: t.Any) -> tuple:
    """Total order over tiebreaker values of any JSON type: numbers, then strings, then missing."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return (2, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def sort_key(event: Event, *, timestamp_field: str = "@timestamp", tiebreaker_field: t.Optional[str] = None) -> tuple:
    """Sort key giving ES's event order: timestamp (ns; unreadable or missing ones first), then tiebreaker.

    `sorted(events, key=sort_key)` is stable, so arrival order breaks the remaining ties, as ES's implicit
    tiebreaker does."""
    ns = timestamp_ns(fields.getter(timestamp_field)(event))
    tb = _tiebreaker_key(fields.getter(tiebreaker_field)(event)) if tiebreaker_field else (2, 0)
    return (-1 if ns is None else 0, ns or 0, tb)


def key_order(key: tuple) -> tuple:
    """Ascending order of join keys as ES sorts them (null first, numbers, then strings; per component)."""
    out = []
    for value in key:
        if value is None:
            out.append((0, 0))
        elif isinstance(value, bool):
            out.append((1, int(value)))
        elif isinstance(value, (int, float)):
            out.append((2, value))
        else:
            out.append((3, str(value)))
    return tuple(out)


# ----------------------------------------------------------------------------------------------- join keys
def _key_function(exprs: t.Sequence[ast.Expr]) -> t.Callable[[Event], list[tuple]]:
    """Event -> its join keys: the cartesian product of each key's distinct values.

    A missing key makes the event unusable unless the field is optional (`?field`), which joins on null; this is
    how ES treats missing values of mandatory and optional keys. Multi-valued fields contribute every value."""
    if not exprs:
        return lambda event: [()]
    from vigil.engine import compiler  # imported late: only needed once a query is compiled

    getters = [compiler.compile_expression(expr) for expr in exprs]
    optional = [isinstance(expr, ast.Field) and expr.optional for expr in exprs]

    def keys_of(event: Event) -> list[tuple]:
        columns: list[list[t.Any]] = []
        for get, is_optional in zip(getters, optional):
            values: list[t.Any] = []
            for value in fields.values_of(get(event)):
                if value is not None:
                    value = _hashable(value)
                    if value not in values:
                        values.append(value)
            if not values:
                if not is_optional:
                    return []
                values = [None]
            columns.append(values)
        if len(columns) == 1:
            return [(value,) for value in columns[0]]
        return list(itertools.product(*columns))

    return keys_of


def _hashable(value: t.Any) -> t.Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


# --------------------------------------------------------------------------------------------------- query
class CompiledQuery:
    """A compiled EQL query (see the module doc). Build it with `compile_query()`."""

    def __init__(
        self,
        query: ast.Query,
        *,
        category_field: str,
        timestamp_field: str,
        tiebreaker_field: t.Optional[str],
        max_sequence_states: int,
        max_samples_per_key: int,
    ):
        from vigil.engine import compiler  # imported late: the expression compiler is a separate module

        self.query = query
        self.category_field = category_field
        self.timestamp_field = timestamp_field
        self.tiebreaker_field = tiebreaker_field
        self.max_sequence_states = max_sequence_states
        self.max_samples_per_key = max_samples_per_key
        body = query.body
        self.kind = (
            "event" if isinstance(body, ast.EventQuery) else "sequence" if isinstance(body, ast.Sequence) else "sample"
        )
        self._filter: t.Optional[t.Callable[[Event], bool]] = None
        self._stages: list[Stage] = []
        self._until: t.Optional[Stage] = None
        self._maxspan_ns: t.Optional[int] = None
        self._sample_steps: list[SampleStep] = []

        def predicate(step_query: ast.EventQuery) -> t.Callable[[Event], bool]:
            return compiler.compile_event_filter(step_query, category_field=category_field)

        if isinstance(body, ast.EventQuery):
            self._filter = predicate(body)
        elif isinstance(body, ast.Sequence):
            self._check_key_counts(body.by, body.steps + ((body.until,) if body.until else ()))
            for step in body.steps:
                stage = Stage(predicate(step.query), _key_function(body.by + step.by), step.missing)
                self._stages.extend([stage] * step.runs)
            if body.until is not None:
                self._until = Stage(predicate(body.until.query), _key_function(body.by + body.until.by))
            if body.maxspan is not None:
                self._maxspan_ns = int(Decimal(str(body.maxspan.millis)) * 1_000_000)
        else:
            self._check_key_counts(body.by, body.steps)
            for step in body.steps:
                self._sample_steps.append(SampleStep(predicate(step.query), _key_function(body.by + step.by)))
        self._timestamp = fields.getter(timestamp_field)
        self._tiebreaker = fields.getter(tiebreaker_field) if tiebreaker_field else None

    @staticmethod
    def _check_key_counts(by: tuple[ast.Expr, ...], steps: t.Sequence[ast.SequenceStep]) -> None:
        counts = {len(step.by) for step in steps}
        if len(counts) > 1:
            step = next(s for s in steps if len(s.by) != len(steps[0].by))
            line, column = step.pos or (None, None)
            raise EqlSemanticError(
                "every step must have the same number of join keys "
                f"(found {', '.join(str(len(s.by)) for s in steps)})",
                line=line,
                column=column,
                hint="give each step the same `by` fields, or move the shared ones to `sequence by` / `sample by`",
            )

    # ------------------------------------------------------------------------------------------- public API
    def matches(self, event: Event) -> bool:
        """Does this one event match? Event queries only (sequences and samples need several events)."""
        if self._filter is None:
            raise TypeError(f"matches() works on event queries only; this is a {self.kind} query: use run() or stream()")
        return self._filter(event)

    def sort_key(self, event: Event) -> tuple:
        return sort_key(event, timestamp_field=self.timestamp_field, tiebreaker_field=self.tiebreaker_field)

    def run(self, events: t.Iterable[Event]) -> t.Iterator[Match]:
        """Results over `events` (in timestamp, tiebreaker order), pipes applied; stops reading after `head` is met."""
        if self.kind == "sample":
            stream = self.stream()
            for event in events:
                stream._matcher_feed_only(event)
            yield from _apply_pipes(self.query.pipes, stream._sample_finish())
            return
        yield from _apply_pipes(self.query.pipes, self._unpiped(events))

    def _unpiped(self, events: t.Iterable[Event]) -> t.Iterator[Match]:
        stream = QueryStream(self, pipes=False)
        for event in events:
            yield from stream.feed(event)
        yield from stream.close()

    def stream(self) -> "QueryStream":
        """A live matcher: `feed(event)` returns the results it completes, `close()` the rest."""
        return QueryStream(self)


def _apply_pipes(pipes: t.Sequence[ast.Pipe], results: t.Iterator[Match]) -> t.Iterator[Match]:
    for pipe in pipes:
        if pipe.kind == "head":
            results = itertools.islice(results, pipe.count)
        else:
            results = iter(deque(results, maxlen=pipe.count))
    return results


class QueryStream:
    """Live evaluation of a `CompiledQuery`. Events must arrive in (timestamp, tiebreaker) order.

    Counters: `events_seen`, `no_timestamp` (sequence events skipped for lack of a readable timestamp),
    `out_of_order` (events older than their predecessor; still processed), `evicted` (sequence states dropped at
    the `max_sequence_states` cap, which also raises a RuntimeWarning once)."""

    def __init__(self, compiled: CompiledQuery, *, pipes: bool = True):
        self.compiled = compiled
        self.events_seen = 0
        self.no_timestamp = 0
        self.out_of_order = 0
        self._arrival = itertools.count()
        self._last_ordinal: t.Optional[tuple] = None
        self._pipes = compiled.query.pipes if pipes else ()
        self._head_left = [p.count if p.kind == "head" else None for p in self._pipes]
        self._tails: list[t.Optional[deque]] = [deque(maxlen=p.count) if p.kind == "tail" else None for p in self._pipes]
        self._done = False
        self._sequence: t.Optional[SequenceMatcher] = None
        self._sample: t.Optional[SampleMatcher] = None
        if compiled.kind == "sequence":
            self._sequence = SequenceMatcher(
                compiled._stages,
                until=compiled._until,
                maxspan_ns=compiled._maxspan_ns,
                max_states=compiled.max_sequence_states,
                key_order=key_order,
            )
        elif compiled.kind == "sample":
            self._sample = SampleMatcher(
                compiled._sample_steps, max_samples_per_key=compiled.max_samples_per_key, key_order=key_order
            )

    @property
    def evicted(self) -> int:
        return self._sequence.evicted if self._sequence is not None else 0

    @property
    def done(self) -> bool:
        """True once a `head` pipe has passed all it will: further events cannot change the output."""
        return self._done

    def feed(self, event: Event) -> list[Match]:
        if self._done:
            return []
        self.events_seen += 1
        compiled = self.compiled
        if compiled.kind == "event":
            found = [Match([event])] if compiled._filter(event) else []  # type: ignore[misc]
        elif compiled.kind == "sample":
            found = [Match(list(r.events), list(r.key)) for r in self._sample.feed(event)]  # type: ignore[union-attr]
        else:
            if self._sequence.inert(event):  # type: ignore[union-attr]
                return []
            ordinal = self._ordinal(event)
            if ordinal is None:
                return []
            found = [Match(r.events, list(r.key)) for r in self._sequence.feed(event, ordinal)]  # type: ignore[union-attr]
        return self._piped(found)

    def close(self) -> list[Match]:
        found: list[Match] = []
        if self._sequence is not None and not self._done:
            found = [Match(r.events, list(r.key)) for r in self._sequence.close()]
        out = self._piped(found)
        # flush tails in pipe order: each tail's content flows through the pipes after it
        for index, tail in enumerate(self._tails):
            if tail is not None:
                flushed = list(tail)
                tail.clear()
                out.extend(self._piped(flushed, start=index + 1))
        self._done = True
        return out

    # --------------------------------------------------------------------------------------------- internals
    def _ordinal(self, event: Event) -> t.Optional[tuple]:
        ns = timestamp_ns(self.compiled._timestamp(event))
        if ns is None:
            self.no_timestamp += 1
            return None
        tiebreaker = self.compiled._tiebreaker
        ordinal = (ns, _tiebreaker_key(tiebreaker(event)) if tiebreaker else (2, 0), next(self._arrival))
        if self._last_ordinal is not None and ordinal[:2] < self._last_ordinal[:2]:
            self.out_of_order += 1
        self._last_ordinal = ordinal
        return ordinal

    def _piped(self, matches: list[Match], start: int = 0) -> list[Match]:
        for index in range(start, len(self._pipes)):
            if not matches:
                return []
            tail = self._tails[index]
            if tail is not None:
                tail.extend(matches)
                return []
            left = self._head_left[index]
            matches = matches[:left]
            self._head_left[index] = left - len(matches)  # type: ignore[operator]
            if self._head_left[index] == 0 and all(self._tails[i] is None for i in range(index)):
                self._done = True
        return matches

    # used by CompiledQuery.run for samples: ES orders samples by key, which needs all input first
    def _matcher_feed_only(self, event: Event) -> None:
        self.events_seen += 1
        self._sample.feed(event)  # type: ignore[union-attr]

    def _sample_finish(self) -> t.Iterator[Match]:
        return (Match(list(r.events), list(r.key)) for r in self._sample.finish())  # type: ignore[union-attr]


def compile_query(
    query: t.Union[str, ast.Query],
    *,
    category_field: str = "event.category",
    timestamp_field: str = "@timestamp",
    tiebreaker_field: t.Optional[str] = None,
    max_sequence_states: int = DEFAULT_MAX_SEQUENCE_STATES,
    max_samples_per_key: int = 1,
) -> CompiledQuery:
    """Parse (if given text) and compile an EQL query. Raises `EqlError` subclasses for bad queries."""
    if isinstance(query, str):
        from vigil.eql import parse

        query = parse(query)
    return CompiledQuery(
        query,
        category_field=category_field,
        timestamp_field=timestamp_field,
        tiebreaker_field=tiebreaker_field,
        max_sequence_states=max_sequence_states,
        max_samples_per_key=max_samples_per_key,
    )
