"""The long-running loop behind `vigil run`: every enabled rule on its own interval, over the configured sources.

Each rule is due `interval` after its last start, which is kept in the store (`state.py`): after a restart, a rule
whose last start is older than its interval runs at once, and the executor's catch-up windows and gap report cover
the time vigil was down, as Kibana's do after an outage. Executions run one at a time in the calling thread; `stop`
(set by the SIGTERM/SIGINT handler of `vigil run`) is checked between executions, so a stop request lets the current
execution commit its alerts and record itself before the loop returns.
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t

from vigil.alerts import AlertStore
from vigil.alerts.times import utc_now
from vigil.rules.datemath import parse_interval
from vigil.rules.model import Rule
from vigil.runs import state
from vigil.runs.executor import ExecutionResult, execute_rule
from vigil.runs.inputs import Inputs

MAX_SLEEP = 30.0  # seconds: wake up now and then even with long intervals (cheap; keeps stop responsive)


class Scheduler:
    def __init__(
        self,
        rules: t.Sequence[Rule],
        inputs: Inputs,
        store: AlertStore,
        *,
        exception_store: t.Any = None,
        clock: t.Callable[[], dt.datetime] = utc_now,
        on_result: t.Optional[t.Callable[[ExecutionResult], None]] = None,
    ):
        self.rules = list(rules)
        self.inputs, self.store = inputs, store
        self.exception_store, self.clock = exception_store, clock
        self.on_result = on_result or (lambda _result: None)

    def execute(self, rule: Rule, at: t.Optional[dt.datetime] = None, *, created_at: t.Optional[dt.datetime] = None
                ) -> ExecutionResult:
        started = at or self.clock()
        result = execute_rule(rule, self.inputs.records(), store=self.store, started_at=started,
                              exception_store=self.exception_store, created_at=created_at)
        self.on_result(result)
        return result

    def run_once(self, at: t.Optional[dt.datetime] = None) -> list[ExecutionResult]:
        """One execution of every rule, started at `at` (default: now); alerts stamped with the same time."""
        return [self.execute(rule, at, created_at=at) for rule in self.rules]

    def _interval(self, rule: Rule) -> dt.timedelta:
        try:
            return parse_interval(rule.interval)
        except ValueError:
            return dt.timedelta(minutes=5)  # Kibana's default; the execution itself reports the bad value

    def next_due(self) -> dict[str, dt.datetime]:
        now = self.clock()
        due = {}
        for rule in self.rules:
            last = state.last_started_at(self.store, rule.rule_id)
            # overdue rules (their due time is in the past) run at once; the executor covers the missed time
            due[rule.rule_id] = now if last is None else last + self._interval(rule)
        return due

    def run_forever(self, stop: threading.Event) -> int:
        """Run until `stop` is set; returns the number of executions."""
        due = self.next_due()
        count = 0
        while not stop.is_set():
            now = self.clock()
            for rule in sorted(self.rules, key=lambda r: due[r.rule_id]):
                if stop.is_set():
                    break
                if due[rule.rule_id] > now:
                    continue
                result = self.execute(rule)
                count += 1
                due[rule.rule_id] = result.started_at + self._interval(rule)
            if not self.rules:
                stop.wait(MAX_SLEEP)
                continue
            wait = (min(due.values()) - self.clock()).total_seconds()
            if wait > 0:
                stop.wait(min(wait, MAX_SLEEP))
        return count
