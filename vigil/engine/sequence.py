"""Sequence state machines with Elasticsearch's semantics, fed one event at a time in (timestamp, tiebreaker) order.

The matcher mirrors Elasticsearch's `SequenceMatcher` (x-pack EQL), re-derived for a single ordered stream:

* Every positive step is a *stage*; `with runs=N` has already been expanded into N stages by the caller.
  An event that matches stage k takes, for each of its join keys, the in-flight sequence waiting in stage k-1
  for that key, and moves it to stage k. ES keeps a list per (stage, key) and always takes the *latest* entry
  before the hit, dropping it and every older one; in a time-ordered stream that is exactly "one slot per
  (stage, key), a newer sequence replaces the older one", which is what we keep (bounded state for free).
* Stages are tried from the last to the first, so one event can advance a sequence and also start or extend
  another, but never chain with itself (ES compares ordinals strictly).
* `maxspan` (inclusive, like ES: rejected only when `last - first > maxspan`) is checked when a sequence advances;
  expired slots are also swept as time moves on.
* `until`: ES rejects a move when an until event of the same key lies between the sequence's last event
  (inclusive) and the hit; in a stream that is "an until event drops every in-flight sequence of its key",
  applied after the event's own stage matches (so the until event may still complete a sequence).
* Missing-event stages (`![...]`) do not take part in matching; completed *candidates* are then checked as ES's
  TumblingWindow does (see `_rejected_by_missing`): any event of a middle missing stage between its neighbours
  rejects; leading/trailing missing events reject only together, when the span they make fits in `maxspan`.
  Candidates with trailing missing stages wait until the stream passes `first + maxspan` (or closes).
* Results come out in ES's order (its completed set is sorted by the last event's ordinal, then by join key):
  ready results are held back only while an earlier-ordered candidate is still pending.

Join keys are produced by the caller as a list of key tuples per event (multi-valued fields give the cartesian
product); an empty list means the event has no usable key for that stage and is ignored there.
"""

from __future__ import annotations

import heapq
import itertools
import typing as t
import warnings
from collections import OrderedDict, deque
from dataclasses import dataclass

Ordinal = t.Tuple[t.Any, ...]  # (timestamp ns, tiebreaker sort key, arrival index); [0] is the timestamp in ns
Key = t.Tuple[t.Any, ...]
Predicate = t.Callable[[dict], bool]
KeysOf = t.Callable[[dict], t.List[Key]]

DEFAULT_MAX_SEQUENCE_STATES = 100_000
_SWEEP_EVERY = 1024


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a sequence after `runs` expansion: its filter, its join-key function, and whether it is `![...]`."""

    predicate: Predicate
    keys_of: KeysOf
    missing: bool = False


@dataclass(frozen=True, slots=True)
class SequenceResult:
    """A completed sequence: one entry per stage (None for a missing stage) and its join key."""

    events: t.List[t.Optional[dict]]
    key: Key


class _InFlight:
    """A partial sequence: the (ordinal, event) of each positive stage matched so far."""

    __slots__ = ("hits",)

    def __init__(self, hits: tuple[tuple[Ordinal, dict], ...]):
        self.hits = hits

    @property
    def start(self) -> Ordinal:
        return self.hits[0][0]

    @property
    def last(self) -> Ordinal:
        return self.hits[-1][0]


class SequenceMatcher:
    """Streaming matcher for one sequence query. `feed(event, ordinal)` returns the results that became final."""

    def __init__(
        self,
        stages: t.Sequence[Stage],
        *,
        until: t.Optional[Stage] = None,
        maxspan_ns: t.Optional[int] = None,
        max_states: int = DEFAULT_MAX_SEQUENCE_STATES,
        key_order: t.Callable[[Key], t.Any] = lambda key: key,
    ):
        if not any(not s.missing for s in stages):
            raise ValueError("a sequence needs at least one positive (non-missing) stage")
        self.stages = list(stages)
        self.until = until
        self.maxspan_ns = maxspan_ns if maxspan_ns and maxspan_ns > 0 else None
        self.max_states = max_states
        self._key_order = key_order
        self._positive = [i for i, s in enumerate(self.stages) if not s.missing]
        self._missing = [i for i, s in enumerate(self.stages) if s.missing]
        self._trailing = [i for i in self._missing if i > self._positive[-1]]
        # in-flight slots: one OrderedDict per positive stage except the last; key -> _InFlight (LRU order)
        self._slots: list[OrderedDict[Key, _InFlight]] = [OrderedDict() for _ in self._positive[:-1]]
        # events seen for each missing stage, per key, in ordinal order (pruned by maxspan)
        self._missing_seen: dict[int, dict[Key, deque[Ordinal]]] = {i: {} for i in self._missing}
        self._pending: list[tuple[t.Any, ...]] = []  # heap of (last ordinal, key order, seq no, deadline, hits, key)
        self._counter = itertools.count()
        self._watermark: t.Optional[Ordinal] = None
        self._fed = 0
        self.states = 0  # in-flight sequences right now
        self.evicted = 0  # in-flight sequences dropped because max_states was reached
        self._warned = False

    # ----------------------------------------------------------------------------------------------- feeding
    def inert(self, event: dict) -> bool:
        """True when feeding `event` could change nothing, so its timestamp and join keys need not be computed:
        it starts no sequence (the first stage rejects it), every later stage it matches has no sequence waiting
        for it, `until` has nothing to cancel, and there are no missing stages or candidates awaiting a deadline.
        (With many rules, most events a broad later step accepts arrive when nothing is in flight.)"""
        if self._missing or self._pending:
            return False
        stages, positive, slots = self.stages, self._positive, self._slots
        if stages[positive[0]].predicate(event):
            return False
        for pos in range(1, len(positive)):
            if slots[pos - 1] and stages[positive[pos]].predicate(event):
                return False
        return not (self.states and self.until is not None and self.until.predicate(event))

    def feed(self, event: dict, ordinal: Ordinal) -> list[SequenceResult]:
        ts = ordinal[0]
        self._watermark = ordinal
        self._fed += 1
        if self._fed % _SWEEP_EVERY == 0:
            self._sweep(ts)

        candidates: list[tuple[tuple[tuple[Ordinal, dict], ...], Key]] = []
        positive = self._positive
        for pos in range(len(positive) - 1, -1, -1):
            stage = self.stages[positive[pos]]
            if not stage.predicate(event):
                continue
            for key in stage.keys_of(event):
                if pos == 0:
                    hits = ((ordinal, event),)
                else:
                    prev = self._slots[pos - 1].pop(key, None)
                    if prev is None:
                        continue
                    self.states -= 1
                    if self.maxspan_ns is not None and ts - prev.start[0] > self.maxspan_ns:
                        continue
                    hits = prev.hits + ((ordinal, event),)
                if pos == len(positive) - 1:
                    candidates.append((hits, key))
                else:
                    self._put(pos, key, _InFlight(hits))

        for missing_index in self._missing:
            stage = self.stages[missing_index]
            if stage.predicate(event):
                seen = self._missing_seen[missing_index]
                for key in stage.keys_of(event):
                    seen.setdefault(key, deque()).append(ordinal)

        if self.until is not None and self.until.predicate(event):
            for key in self.until.keys_of(event):
                for slots in self._slots:
                    if slots.pop(key, None) is not None:
                        self.states -= 1

        for hits, key in candidates:
            self._consider(hits, key)
        return self._release(ts)

    def close(self) -> list[SequenceResult]:
        """End of input: decide every pending candidate and return what remains, in order."""
        out: list[SequenceResult] = []
        while self._pending:
            item = heapq.heappop(self._pending)
            result = self._decide(item[4], item[5])
            if result is not None:
                out.append(result)
        return out

    # --------------------------------------------------------------------------------------------- internals
    def _put(self, pos: int, key: Key, seq: _InFlight) -> None:
        slots = self._slots[pos]
        if slots.pop(key, None) is None:
            self.states += 1
        slots[key] = seq
        if self.states > self.max_states:
            self._evict()

    def _evict(self) -> None:
        """Drop the least recently updated in-flight sequences until under the cap (oldest slots first)."""
        while self.states > self.max_states:
            oldest = min(
                (slots for slots in self._slots if slots),
                key=lambda slots: next(iter(slots.values())).last,
            )
            oldest.popitem(last=False)
            self.states -= 1
            self.evicted += 1
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"sequence state cap reached ({self.max_states} in-flight sequences): the oldest are being "
                "dropped; raise max_sequence_states or add a maxspan",
                RuntimeWarning,
                stacklevel=3,
            )

    def _sweep(self, ts: int) -> None:
        """Forget what can no longer matter: in-flight sequences and missing-stage events older than maxspan."""
        if self.maxspan_ns is None:
            return
        horizon = ts - self.maxspan_ns
        for slots in self._slots:
            stale = [key for key, seq in slots.items() if seq.start[0] < horizon]
            for key in stale:
                del slots[key]
            self.states -= len(stale)
        oldest_pending = min((item[4][0][0][0] for item in self._pending), default=horizon)
        keep_from = min(horizon, oldest_pending - self.maxspan_ns)
        for seen in self._missing_seen.values():
            for key in list(seen):
                ordinals = seen[key]
                while ordinals and ordinals[0][0] < keep_from:
                    ordinals.popleft()
                if not ordinals:
                    del seen[key]

    def _consider(self, hits: tuple[tuple[Ordinal, dict], ...], key: Key) -> None:
        deadline = None
        if self._trailing:
            # a trailing missing event can only count inside first + maxspan; without maxspan wait for close()
            deadline = hits[0][0][0] + self.maxspan_ns if self.maxspan_ns is not None else float("inf")
        heapq.heappush(
            self._pending, (hits[-1][0], self._key_order(key), next(self._counter), deadline, hits, key)
        )

    def _release(self, ts: int) -> list[SequenceResult]:
        out: list[SequenceResult] = []
        while self._pending:
            deadline = self._pending[0][3]
            if deadline is not None and deadline >= ts:
                break  # an event at or before the deadline may still arrive
            item = heapq.heappop(self._pending)
            result = self._decide(item[4], item[5])
            if result is not None:
                out.append(result)
        return out

    def _decide(self, hits: tuple[tuple[Ordinal, dict], ...], key: Key) -> t.Optional[SequenceResult]:
        """Apply the missing-stage check to a candidate; build the result if it survives."""
        if self._missing and self._rejected_by_missing(hits, key):
            return None
        events: list[t.Optional[dict]] = [None] * len(self.stages)
        for stage_index, (_, event) in zip(self._positive, hits):
            events[stage_index] = event
        return SequenceResult(events, key)

    def _rejected_by_missing(self, hits: tuple[tuple[Ordinal, dict], ...], key: Key) -> bool:
        """ES's check (TumblingWindow.doCheckMissingEvents), on timestamps only, with strict bounds:

        * a middle missing stage rejects when any event of it (same key) lies strictly between its neighbours;
        * leading stages give the latest such event before the first positive one, trailing stages the earliest
          after the last; the candidate is rejected only when every side that exists found one and the span they
          make (leading..last, first..trailing, or leading..trailing) fits in maxspan.
        """
        positive = self._positive
        ts_of = {stage: ordinal[0] for stage, (ordinal, _) in zip(positive, hits)}
        first_ts, last_ts = hits[0][0][0], hits[-1][0][0]
        last_leading: t.Optional[int] = None
        first_trailing: t.Optional[int] = None
        for stage in self._missing:
            seen = self._missing_seen[stage].get(key, ())
            if stage < positive[0]:
                before = [o[0] for o in seen if o[0] < first_ts]
                if before and (last_leading is None or before[-1] > last_leading):
                    last_leading = before[-1]
            elif stage > positive[-1]:
                after = next((o[0] for o in seen if o[0] > last_ts), None)
                if after is not None and (first_trailing is None or after < first_trailing):
                    first_trailing = after
            else:
                low = ts_of[max(p for p in positive if p < stage)]
                high = ts_of[min(p for p in positive if p > stage)]
                if any(low < o[0] < high for o in seen):
                    return True
        has_leading = positive[0] > 0
        has_trailing = positive[-1] < len(self.stages) - 1
        if (has_leading and last_leading is None) or (has_trailing and first_trailing is None):
            return False
        if not has_leading and not has_trailing:
            return False
        span_from = last_leading if has_leading else first_ts
        span_to = first_trailing if has_trailing else last_ts
        return not (self.maxspan_ns is not None and span_to - span_from > self.maxspan_ns)  # type: ignore[operator]
