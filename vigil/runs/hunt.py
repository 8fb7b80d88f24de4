"""A retroactive hunt: run rules over whole files once, with no time window, and store the alerts.

Unlike a scheduled execution there is no window and no `max_signals` cap (a hunt looks at everything it is given),
but everything else is the same: the rule's index patterns select records (unless `all_indices`), exceptions drop
records before the query, alerts get the same deterministic ids (so hunting twice, or hunting what `vigil run`
already saw, stores nothing twice).

The sources are read once for all rules. Plain event queries are evaluated as records stream by and their alerts
committed in batches; sequences, samples and piped queries need the events in timestamp order, so their records are
collected and sorted first.
"""

from __future__ import annotations

import datetime as dt
import typing as t
import uuid
from dataclasses import dataclass, field

from vigil.alerts import AlertContext, AlertStore
from vigil.alerts.times import utc_now
from vigil.engine import stepindex
from vigil.engine.stepindex import RuleIndex
from vigil.errors import VigilError
from vigil.rules.model import Rule
from vigil.runs import query_rule, suppress
from vigil.runs.executor import MatchRunner, ProducedAlert, compile_rule, exceptions_for, produce
from vigil.runs.reads import rules_read
from vigil.runs.select import IndexSelector

BATCH = 500  # alerts per store transaction while streaming
ROUTE_FROM = stepindex.ROUTE_FROM  # rules from which records are routed through the step index


@dataclass
class RuleHunt:
    """What one rule found during a hunt."""

    rule: Rule
    events_searched: int = 0
    excepted: int = 0
    matches: int = 0
    alerts: list[ProducedAlert] = field(default_factory=list)
    error: t.Optional[str] = None

    @property
    def new_alert_ids(self) -> list[str]:
        return [a.id for a in self.alerts if a.new]


class _RuleState:
    def __init__(self, rule: Rule, all_indices: bool, exception_store: t.Any, at: dt.datetime, ctx: AlertContext):
        self.hunt = RuleHunt(rule)
        self.compiled = compile_rule(rule)
        self.runner = MatchRunner(rule, self.compiled)
        self.select = (lambda _index: True) if all_indices else IndexSelector(rule.index)
        self.is_excepted = exceptions_for(rule, exception_store, at)
        self.ctx = ctx
        # threshold / new_terms look at the whole input at the end (query_rule.hunter_for)
        self.aggregate = query_rule.hunter_for(rule, self.compiled, ctx)
        # Streaming is only exact for a plain event query: pipes and sequences need the whole ordered input.
        self.streaming = self.aggregate is None and self.compiled.kind == "event" and not self.compiled.query.pipes
        # alert_suppression: the whole hunt is one execution (batches of it extend the alerts of earlier batches)
        self.suppressor = suppress.suppressor_for(rule, self.compiled, ctx)
        self.pending: list[ProducedAlert] = []
        self.collected: list[t.Any] = []

    def feed(self, record: t.Any) -> None:
        """One record this rule's index patterns select (counted in `events_searched` by the caller)."""
        if self.is_excepted is not None and self.is_excepted(record.doc):
            self.hunt.excepted += 1
            return
        if not self.streaming:
            if self.aggregate is None or self.compiled.matches(record.doc):  # aggregations keep matches only
                self.collected.append(record)
        elif self.compiled.matches(record.doc):
            self._add([record])

    def _add(self, records: list[t.Any]) -> None:
        self.hunt.matches += 1
        self.pending.extend(produce(records, self.hunt.rule, self.ctx))

    def finish(self) -> None:
        if self.aggregate is not None:
            alerts = self.aggregate(self.collected)
            self.hunt.matches += len(alerts)
            self.pending.extend(alerts)
            self.collected = []
            return
        if not self.streaming:
            for recs in self.runner.matches(self.runner.ordered(self.collected), None):
                self._add(recs)
            self.collected = []


OnCommit = t.Callable[[list[ProducedAlert]], None]


def _flush(state: _RuleState, store: AlertStore, on_commit: t.Optional[OnCommit]) -> None:
    if not state.pending:
        return
    if state.suppressor is not None:
        committed = state.suppressor.commit(store, state.pending, window_start=None, max_alerts=None).alerts
    else:
        committed = state.pending
        new_ids = set(store.insert_alerts([p.doc for p in committed]))
        for p in committed:
            p.new = p.id in new_ids
            new_ids.discard(p.id)
    state.hunt.alerts.extend(committed)
    if on_commit is not None:  # only now: whatever it reports is already on disk
        on_commit(committed)
    state.pending = []


class _Router:
    """Which rules a record goes to, without asking each rule.

    A record goes to a rule when the rule's index patterns select the record's index (answered once per distinct
    index name, as a bitmask over the rules) and, unless the rule has exceptions to count, when one of the rule's
    steps may match it (the step index over every rule's compiled query: vigil/engine/stepindex.py). A record no
    step can match cannot change a rule's result, sequences and aggregations included, so this is exact; it is
    still counted as searched (`searched`, per index name, credited at the end)."""

    def __init__(self, states: t.Sequence[_RuleState]):
        self.states = states
        # With a handful of rules, asking each costs less than consulting the index.
        self.index = RuleIndex([st.compiled for st in states]) if len(states) >= ROUTE_FROM else None
        # rules whose exceptions must see every selected record, so that `excepted` counts them all
        self.always = sum(1 << p for p, st in enumerate(states) if st.is_excepted is not None)
        self._selected: dict[str, int] = {}
        self.searched: dict[str, int] = {}

    def selected(self, index_name: str) -> int:
        found = self._selected.get(index_name)
        if found is None:
            found = self._selected[index_name] = sum(
                1 << p for p, st in enumerate(self.states) if st.select(index_name))
        return found

    def targets(self, record: t.Any) -> t.Iterator[_RuleState]:
        name = record.index
        selected = self._selected.get(name)
        if selected is None:
            selected = self.selected(name)
        self.searched[name] = self.searched.get(name, 0) + 1
        if not selected:
            return
        rules = selected if self.index is None else (self.index.rules(record.doc) | self.always) & selected
        states = self.states
        while rules:
            low = rules & -rules
            rules ^= low
            yield states[low.bit_length() - 1]

    def credit_searched(self) -> None:
        for name, count in self.searched.items():
            selected = self.selected(name)
            for position, st in enumerate(self.states):
                if selected >> position & 1:
                    st.hunt.events_searched += count
        self.searched = {}


def fields_read(states: t.Sequence[_RuleState]) -> t.Optional[frozenset[str]]:
    """The ECS fields the hunt's rules read before alerting (vigil/runs/reads.py), or None for all of them: when a
    rule has exceptions (their entries name fields of their own)."""
    if any(st.is_excepted is not None for st in states):
        return None
    return rules_read((st.hunt.rule, st.compiled) for st in states)


def hunt(
    rules: t.Sequence[Rule],
    records: t.Union[t.Iterable[t.Any], t.Callable[[t.Optional[frozenset[str]]], t.Iterable[t.Any]]],
    *,
    store: AlertStore,
    exception_store: t.Any = None,
    all_indices: bool = False,
    created_at: t.Optional[dt.datetime] = None,
    space_id: str = "default",
    on_commit: t.Optional[OnCommit] = None,
) -> list[RuleHunt]:
    """Run every rule over `records` (consumed once); alerts go to `store`. A rule that cannot run reports its
    error in its `RuleHunt.error` and the others go on. `on_commit(alerts)` is called after each batch is committed.

    `records` may also be a function of the fields the rules read (`fields_read`; None: every field) returning the
    records, so that sources normalize only those fields (`open_sources(fields=...)`); records that become alerts
    are completed to their full documents (`executor.produce`)."""
    at = created_at or utc_now()
    execution = str(uuid.uuid4())
    states: list[_RuleState] = []
    out: list[RuleHunt] = []  # in the order the rules were given
    for rule in rules:
        ctx = AlertContext(created_at=at, space_id=space_id, execution_uuid=execution, indices=list(rule.index))
        try:
            states.append(_RuleState(rule, all_indices, exception_store, at, ctx))
            out.append(states[-1].hunt)
        except VigilError as error:
            out.append(RuleHunt(rule, error=str(error)))
    if callable(records):
        records = records(fields_read(states))
    router = _Router(states)
    try:
        for record in records:
            for st in router.targets(record):
                st.feed(record)
                if len(st.pending) >= BATCH:
                    _flush(st, store, on_commit)
    finally:
        router.credit_searched()
    for st in states:
        st.finish()
        _flush(st, store, on_commit)
    return out
