"""The records a scheduled execution searches: configured sources, read fresh or followed live.

* A plain source is read from the start at every execution: the window filter keeps only what is in range, and a
  file that grows between executions is simply read further next time.
* A `follow = true` source is tailed by a background thread (through rotation and truncation, see
  `vigil.sources.follow`) into an in-memory buffer; executions search the buffer. Records leave the buffer once no
  rule's look-back (plus its catch-up windows) can reach them, so memory stays bounded by the event rate.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
import typing as t

from vigil.config import SourceConfig
from vigil.rules.datemath import lookback, parse_interval
from vigil.runs.windows import MAX_RULE_GAP_RATIO
from vigil.sources import SourceStats, open_sources

RETENTION_SLACK = dt.timedelta(minutes=10)


def retention_for(rules: t.Iterable[t.Any]) -> dt.timedelta:
    """How long a followed record may still be searched: the longest look-back plus every catch-up window."""
    longest = dt.timedelta(minutes=10)
    for rule in rules:
        try:
            span = lookback(rule.from_, rule.to) + (MAX_RULE_GAP_RATIO + 1) * parse_interval(rule.interval)
        except ValueError:
            continue
        longest = max(longest, span)
    return longest + RETENTION_SLACK


class LiveBuffer:
    """Records of followed sources, kept while some rule may still search them (by arrival time)."""

    def __init__(self, spec: SourceConfig, retention: dt.timedelta, stats: SourceStats):
        self.spec, self.retention, self.stats = spec, retention.total_seconds(), stats
        self._records: collections.deque[tuple[float, t.Any]] = collections.deque()
        self._lock = threading.Lock()
        self._stream: t.Any = None
        self.error: t.Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name=f"vigil-live:{spec.paths[0]}", daemon=True)

    def start(self) -> None:
        self._stream = open_sources(list(self.spec.paths), source=self.spec.format, follow=True, stats=self.stats)
        self._thread.start()

    def _run(self) -> None:
        try:
            for record in self._stream:
                with self._lock:
                    self._records.append((time.monotonic(), record))
        except BaseException as error:  # noqa: BLE001 - reported by the scheduler at its next execution
            self.error = error

    def snapshot(self) -> list[t.Any]:
        cutoff = time.monotonic() - self.retention
        with self._lock:
            while self._records and self._records[0][0] < cutoff:
                self._records.popleft()
            return [record for _, record in self._records]

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        # The reader may stay blocked waiting for the stopped stream's queue; it is a daemon thread, so a short
        # join is enough and shutdown is never held up by it.
        self._thread.join(timeout=0.5)


class Inputs:
    """All configured sources; `records()` gives what one execution searches."""

    def __init__(self, specs: t.Sequence[SourceConfig], *, live: bool = False,
                 retention: dt.timedelta = dt.timedelta(hours=1)):
        self.specs = list(specs)
        self.stats = SourceStats()
        self.live = [LiveBuffer(s, retention, self.stats) for s in self.specs if live and s.follow]
        self.batch = [s for s in self.specs if not (live and s.follow)]

    def start(self) -> None:
        for buffer in self.live:
            buffer.start()

    def records(self) -> t.Iterator[t.Any]:
        for buffer in self.live:
            if buffer.error is not None:
                raise buffer.error
            yield from buffer.snapshot()
        for spec in self.batch:
            with open_sources(list(spec.paths), source=spec.format, stats=self.stats) as stream:
                yield from stream

    def close(self) -> None:
        for buffer in self.live:
            buffer.close()
