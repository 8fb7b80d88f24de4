"""`sample by` with Elasticsearch's semantics: events grouped by join key, one distinct event per step, in any order.

Elasticsearch (`SampleIterator`) walks the join keys in ascending order (a composite aggregation), fetches for each
key the first `max_samples_per_key` hits of every step, and picks samples from those lists by backtracking: step by
step, in list order, never using one document twice within a sample, stopping after `max_samples_per_key` samples.
Timestamps play no part. We keep, per key, the first `max_samples_per_key` events of each step in arrival order
(bounded state) and run the same backtracking:

* `finish()` returns every key's samples ordered by key, as ES does (what `CompiledQuery.run` uses);
* `feed()` returns samples as soon as a key can form a new one (live use; a key never yields more than
  `max_samples_per_key` samples in total).
"""

from __future__ import annotations

import typing as t
import warnings
from dataclasses import dataclass

Key = t.Tuple[t.Any, ...]
Predicate = t.Callable[[dict], bool]
KeysOf = t.Callable[[dict], t.List[Key]]

DEFAULT_MAX_SAMPLE_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class SampleStep:
    predicate: Predicate
    keys_of: KeysOf


@dataclass(frozen=True, slots=True)
class SampleResult:
    events: t.List[dict]
    key: Key


class SampleMatcher:
    """Collects candidate events per key and step; builds samples with ES's backtracking."""

    def __init__(
        self,
        steps: t.Sequence[SampleStep],
        *,
        max_samples_per_key: int = 1,
        max_keys: int = DEFAULT_MAX_SAMPLE_KEYS,
        key_order: t.Callable[[Key], t.Any] = lambda key: key,
    ):
        if max_samples_per_key < 1:
            raise ValueError("max_samples_per_key must be at least 1")
        self.steps = list(steps)
        self.max_samples_per_key = max_samples_per_key
        self.max_keys = max_keys
        self._key_order = key_order
        self._hits: dict[Key, list[list[dict]]] = {}
        self._emitted: dict[Key, set[tuple[int, ...]]] = {}
        self.dropped_keys = 0  # keys not tracked because max_keys was reached
        self._warned = False

    def feed(self, event: dict) -> list[SampleResult]:
        """Record the event; return the samples this event made possible for the first time."""
        touched: list[Key] = []
        for index, step in enumerate(self.steps):
            if not step.predicate(event):
                continue
            for key in step.keys_of(event):
                lists = self._hits.get(key)
                if lists is None:
                    if len(self._hits) >= self.max_keys:
                        self._drop_key()
                        continue
                    lists = self._hits[key] = [[] for _ in self.steps]
                if len(lists[index]) < self.max_samples_per_key:
                    lists[index].append(event)
                    if key not in touched:
                        touched.append(key)
        out: list[SampleResult] = []
        for key in touched:
            emitted = self._emitted.setdefault(key, set())
            if len(emitted) >= self.max_samples_per_key:
                continue
            for sample in self._samples(key):
                ident = tuple(id(e) for e in sample)
                if ident not in emitted and len(emitted) < self.max_samples_per_key:
                    emitted.add(ident)
                    out.append(SampleResult(sample, key))
        return out

    def finish(self) -> list[SampleResult]:
        """All samples, keys in ascending order, each key's samples in backtracking order (ES's response order)."""
        out: list[SampleResult] = []
        for key in sorted(self._hits, key=self._key_order):
            out.extend(SampleResult(sample, key) for sample in self._samples(key))
        return out

    def _samples(self, key: Key) -> list[list[dict]]:
        lists = self._hits[key]
        if any(not hits for hits in lists):
            return []
        found: list[list[dict]] = []
        partial: list[dict] = []
        limit = self.max_samples_per_key

        def walk(step: int) -> bool:  # True once enough samples were found
            for event in lists[step]:
                if any(event is chosen for chosen in partial):
                    continue
                partial.append(event)
                if step == len(lists) - 1:
                    found.append(list(partial))
                    if len(found) == limit:
                        return True
                elif walk(step + 1):
                    return True
                partial.pop()
            return False

        walk(0)
        return found

    def _drop_key(self) -> None:
        self.dropped_keys += 1
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"sample key cap reached ({self.max_keys} keys): events of new keys are ignored",
                RuntimeWarning,
                stacklevel=3,
            )
