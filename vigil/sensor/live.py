"""Live detection: every sensor event → every enabled rule's streaming engine → alerts in the store, at once.

Each runnable EQL rule whose index patterns select the sensor's index is compiled once into a `QueryStream`. Its
exceptions are applied before the query (an excepted event never reaches it, nor joins a sequence), as Kibana does.
Each match becomes Kibana-shaped alert documents, inserted idempotently, printed as one line, and handed to every
callback in `on_alerts`. With `batch_ms`, the alerts of consecutive matches are held (at most that long, or until
the caller sees an empty queue and calls `flush()`) and committed in ONE transaction: a commit costs ~0.3 ms on the
test VM, so under a burst, per-alert commits would make the evaluator the bottleneck.

Extension point for notification / response modules:

    from vigil.sensor import live
    live.on_alerts.append(lambda alerts, rule: ...)   # alerts: the NEW alert documents of one match

Callbacks run in the evaluator thread, after the alerts are committed; they must be quick (hand slow work to a
thread). A callback that raises is logged and does not stop detection.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import typing as t
import uuid
from dataclasses import dataclass, field

from vigil.alerts import AlertContext, AlertStore
from vigil.engine.query import QueryStream
from vigil.errors import VigilError
from vigil.rules.model import Rule
from vigil.engine.stepindex import ROUTE_FROM, RuleIndex
from vigil.runs.executor import compile_rule, exceptions_for, produce
from vigil.runs.select import IndexSelector
from vigil.sensor.ecs import SENSOR_INDEX
from vigil.sources.base import Record

log = logging.getLogger("vigil.sensor")

AlertCallback = t.Callable[[list[dict], Rule], None]
# Plug-in point: called with (new alert documents of one match, the rule) after they are stored.
on_alerts: list[AlertCallback] = []


@dataclass
class RuleRunner:
    rule: Rule
    stream: QueryStream
    excepted: t.Optional[t.Callable[[dict], bool]] = None
    matches: int = 0
    excepted_events: int = 0


@dataclass
class LoadReport:
    runners: list[RuleRunner] = field(default_factory=list)
    skipped: list[tuple[Rule, str]] = field(default_factory=list)  # (rule, reason)


# Rule types evaluated event by event as the sensor delivers them: EQL (events, sequences, samples) and KQL queries.
LIVE_RULE_TYPES = ("eql", "query")


def load_runners(rules: t.Iterable[Rule], *, index: str = SENSOR_INDEX, exception_store: t.Any = None,
                 only_enabled: bool = True) -> LoadReport:
    """Compile the rules that can run on the sensor's events; the others are listed with the reason."""
    report = LoadReport()
    now = dt.datetime.now(dt.timezone.utc)
    for rule in rules:
        if only_enabled and not rule.enabled:
            report.skipped.append((rule, "disabled"))
            continue
        if not rule.runnable or rule.type not in LIVE_RULE_TYPES:
            # threshold and new_terms aggregate over a window: `vigil run` executes them on their schedule
            report.skipped.append((rule, f"rule type {rule.type} is not run live (vigil run executes it)"))
            continue
        if rule.index and not IndexSelector(rule.index)(index):
            report.skipped.append((rule, f"index patterns {', '.join(rule.index)} do not select {index}"))
            continue
        try:
            compiled = compile_rule(rule)
            excepted = exceptions_for(rule, exception_store, now)
        except VigilError as error:
            report.skipped.append((rule, str(error).splitlines()[0]))
            continue
        report.runners.append(RuleRunner(rule, compiled.stream(), excepted))
    return report


def alert_summary(doc: dict, rule: Rule) -> str:
    """One line for stdout / journald: when, rule, severity, host, process, user, alert id."""

    def get(path: str) -> t.Any:
        if path in doc:
            return doc[path]
        node: t.Any = doc
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    args = get("process.command_line") or get("process.name") or "?"
    return (f"ALERT {get('@timestamp')} rule={rule.name!r} severity={rule.severity} host={get('host.name')} "
            f"pid={get('process.pid')} user={get('user.name') or get('user.id')} cmd={args!r} "
            f"id={str(doc.get('kibana.alert.uuid', ''))[:12]}")


class LiveDetector:
    """Feeds records to the rule streams and stores the alerts. Used by `vigil watch`; usable from code and tests.

    Args:
        store: an open AlertStore (the caller owns and closes it).
        runners: from `load_runners`.
        echo: receives each alert's summary line (default: nothing).
    """

    def __init__(self, store: AlertStore, runners: list[RuleRunner], *,
                 echo: t.Optional[t.Callable[[str], None]] = None, space_id: str = "default",
                 index: str = SENSOR_INDEX, batch_ms: t.Optional[float] = None):
        self.store = store
        self.index = index
        self.runners = runners
        self.echo = echo
        self.space_id = space_id
        self.events = 0
        self.alerts = 0
        self.execution_uuid = str(uuid.uuid4())
        self.batch_ns = None if batch_ms is None else int(batch_ms * 1_000_000)
        self._pending: list[tuple[Rule, list[dict]]] = []  # built, not yet committed (batch mode)
        self._pending_since = 0
        self._route()

    def _route(self) -> None:
        # Which rules an event can concern (vigil/engine/stepindex.py): with hundreds of rules most of them cannot
        # match a given exec, and asking each costs more than the index (with a few, the reverse: no index). Rules
        # with exceptions see every event, so that `excepted_events` counts them all. The index is planned now,
        # without a sample: calibrating on the first 2,000 events would stall the evaluator once, mid-stream, and
        # latency is what matters here (plans are then made per candidate set as they appear).
        self._all = (1 << len(self.runners)) - 1
        self._index: t.Optional[RuleIndex] = None
        if len(self.runners) >= ROUTE_FROM:
            self._index = RuleIndex([runner.stream.compiled for runner in self.runners])
            self._index.steps.calibrate([])
        self._always = sum(1 << p for p, runner in enumerate(self.runners) if runner.excepted is not None)

    def replace_runners(self, runners: list[RuleRunner]) -> list[dict]:
        """Swap in a new rule set (SIGHUP). Pending state of the old streams is closed out first."""
        flushed = self.close_streams()
        self.runners = runners
        self._route()
        return flushed

    def feed(self, record: Record) -> list[dict]:
        """Evaluate one record against every rule; returns the new alert documents committed now (in batch mode,
        those of the batch this record closed, if it was due; else [] and `flush()` commits them later)."""
        self.events += 1
        produced: list[dict] = []
        doc = record.doc
        runners = self.runners
        targets = self._all if self._index is None else self._index.rules(doc) | self._always
        while targets:
            low = targets & -targets
            targets ^= low
            runner = runners[low.bit_length() - 1]
            if runner.excepted is not None and runner.excepted(doc):
                runner.excepted_events += 1
                continue
            for match in runner.stream.feed(doc):
                produced += self._alert(runner, match.events, record)
        if self._pending and time.monotonic_ns() - self._pending_since >= (self.batch_ns or 0):
            produced += self.flush()
        return produced

    @property
    def pending(self) -> int:
        """Alert documents built but not committed yet (batch mode)."""
        return sum(len(docs) for _, docs in self._pending)

    def flush(self) -> list[dict]:
        """Commit every pending alert in one transaction, then echo them and run the callbacks."""
        if not self._pending:
            return []
        batch, self._pending = self._pending, []
        new_ids = set(self.store.insert_alerts([doc for _, docs in batch for doc in docs]))
        produced: list[dict] = []
        for rule, docs in batch:
            produced += self._announce(rule, [d for d in docs if d.get("kibana.alert.uuid") in new_ids])
        return produced

    def close_streams(self) -> list[dict]:
        """End of input: matches held back by the streams (e.g. `tail` pipes) are emitted now; pending committed."""
        produced: list[dict] = []
        for runner in self.runners:
            for match in runner.stream.close():
                produced += self._alert(runner, match.events, None)
        return produced + self.flush()

    def _alert(self, runner: RuleRunner, events: list[t.Optional[dict]], current: t.Optional[Record]) -> list[dict]:
        runner.matches += 1
        records: list[t.Optional[Record]] = []
        for event in events:
            if event is None:
                records.append(None)
            elif current is not None and event is current.doc:
                records.append(current)
            else:  # an earlier event of a sequence: every event of one backend has the same index
                records.append(Record(doc=event, index=self.index, source="sensor"))
        rule = runner.rule
        ctx = AlertContext(space_id=self.space_id, execution_uuid=self.execution_uuid, indices=list(rule.index))
        docs = [p.doc for p in produce(records, rule, ctx)]  # the same alerts `vigil run` would build
        if not docs:
            return []
        if self.batch_ns is not None:
            if not self._pending:
                self._pending_since = time.monotonic_ns()
            self._pending.append((rule, docs))
            return []
        new_ids = set(self.store.insert_alerts(docs))
        return self._announce(rule, [d for d in docs if d.get("kibana.alert.uuid") in new_ids])

    def _announce(self, rule: Rule, fresh: list[dict]) -> list[dict]:
        """Committed alerts: count, print, call back."""
        if not fresh:
            return []
        self.alerts += len(fresh)
        if self.echo is not None:
            shown = [d for d in fresh if "kibana.alert.group.index" not in d] or fresh[:1]
            for doc in shown:
                self.echo(alert_summary(doc, rule))
        for callback in list(on_alerts):
            try:
                callback(fresh, rule)
            except Exception:  # a broken notifier must not stop detection
                log.exception("on_alerts callback %r failed", callback)
        return fresh
