"""Synthesize events that fire a rule, and a near miss that must not, and prove both with the real engine.

    s = synthesize_rule(rule)              # or synthesize(query, category_field=..., timestamp_field=...)
    s.positive       -> list[dict]         ECS documents (nested) that the query matches
    s.negative       -> list[dict]         the same events with one required condition broken
    s.broken         -> str                that condition, as EQL text
    s.positive_ok, s.negative_ok, s.reason

How: the condition of each event query (or sequence / sample step) is searched for a consistent set of literals
and field values (`synth_solve`); the event category, join keys and timestamps are added; then the events are run
through `vigil.engine.compile_query(...).run(...)`. A positive counts only if the engine returns a match, a negative
only if it returns none: the synthesizer may guess, the verdict never does. When a guess fails, the next choice of
`or` branches is tried before giving up with a reason.

Sequences get one event per step in order (`with runs=N` gives N events), 1 s apart or closer so the whole sequence
fits inside `maxspan`; every step shares the values of its join keys (top-level `by` and per-step `by`);
missing-event steps `![...]` and `until` get no event. Samples get one event per step with shared keys.
"""

from __future__ import annotations

import copy
import datetime as dt
import typing as t
from dataclasses import dataclass, field

from vigil.engine import compile_query
from vigil.engine.compiler import compile_event_filter
from vigil.eql import ast
from vigil.eql.printer import to_eql
from vigil.errors import VigilError
from vigil.rules.synth_solve import ABSENT, Solver, State
from vigil.rules.synth_values import PUBLIC_IPS, CannotSynthesize

__all__ = ["CannotSynthesize", "Synthesis", "synthesize", "synthesize_rule", "rule_query", "BASE_TIME"]

BASE_TIME = dt.datetime(2026, 1, 15, 10, 0, 0, tzinfo=dt.timezone.utc)

#: Choices of `or` branches tried per event query before giving up.
MAX_ATTEMPTS = 64

#: Fields that identify the platform or the category: broken last when making a near miss, because breaking the
#: rule's own specific condition (e.g. `process.name == "nping"`) is the more telling test.
GENERIC_FIELDS = ("event.category", "host.os.type", "event.type", "event.action")

Event = t.Dict[str, t.Any]


@dataclass
class Synthesis:
    """The synthesized events for one query and the engine's verdict on them."""

    query: ast.Query
    positive: list[Event] = field(default_factory=list)
    negative: list[Event] = field(default_factory=list)
    broken: t.Optional[str] = None
    positive_ok: bool = False
    negative_ok: bool = False
    reason: t.Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.positive_ok and self.negative_ok


@dataclass
class _StepPlan:
    """One event to emit: the step's query, its chosen literals and values, and its join-key fields."""

    query: ast.EventQuery
    state: State
    values: dict[str, t.Any]
    key_fields: list[t.Optional[str]]
    runs: int = 1


# ------------------------------------------------------------------------------------------------ documents
def set_path(doc: Event, name: str, value: t.Any) -> None:
    """Store `value` at the dotted path as nested objects; where a level is already a value, use a dotted key."""
    parts = name.split(".")
    node = doc
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            node[".".join(parts[i:])] = value
            return
        node = child
    node[parts[-1]] = value


def build_document(values: t.Mapping[str, t.Any]) -> Event:
    doc: Event = {}
    # parents before children: a leaf value never hides a nested object that comes later
    for name in sorted(values, key=lambda n: n.count(".")):
        set_path(doc, name, copy.deepcopy(values[name]))
    return doc


def _stamp(doc: Event, fields_: t.Sequence[str], moment: dt.datetime) -> Event:
    text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for name in fields_:
        set_path(doc, name, text)
    return doc


# ------------------------------------------------------------------------------------------------ the search
class _Synthesizer:
    def __init__(self, query: ast.Query, category_field: str, timestamp_field: str,
                 tiebreaker_field: t.Optional[str], extra_time_fields: t.Sequence[str]):
        self.query = query
        self.category_field = category_field
        self.timestamp_field = timestamp_field
        self.tiebreaker_field = tiebreaker_field
        self.time_fields = list(dict.fromkeys([timestamp_field, *extra_time_fields]))
        self.solver = Solver()
        self.compiled = compile_query(query, category_field=category_field, timestamp_field=timestamp_field,
                                      tiebreaker_field=tiebreaker_field)

    def condition(self, step: ast.EventQuery) -> ast.Expr:
        """The step's condition with its event category as one more literal (so it is solved with the rest)."""
        if step.category is None:
            return step.condition
        category = ast.Comparison("==", ast.Field(self.category_field), ast.Literal(step.category))
        return ast.And((category, step.condition))

    def states(self, step: ast.EventQuery) -> t.Iterator[tuple[State, dict[str, t.Any]]]:
        """Consistent literal choices for one step whose document passes the step's real filter."""
        accept = compile_event_filter(step, category_field=self.category_field)
        tried = 0
        for state in self.solver.search(self.condition(step)):
            values = self.solver.values(state)
            if accept(build_document(values)):
                yield state, values
            tried += 1
            if tried >= MAX_ATTEMPTS:
                return

    def first_state(self, step: ast.EventQuery, where: str) -> tuple[State, dict[str, t.Any]]:
        for found in self.states(step):
            return found
        raise CannotSynthesize(f"{where}: no combination of values satisfies `{to_eql(step)}`")

    # ------------------------------------------------------------------------------------------- plans
    def plans(self) -> list[_StepPlan]:
        body = self.query.body
        if isinstance(body, ast.EventQuery):
            state, values = self.first_state(body, "query")
            return [_StepPlan(body, state, values, [])]
        steps = list(body.steps)
        plans = []
        for index, step in enumerate(steps, 1):
            keys = list(body.by) + list(step.by)
            key_fields = [k.name if isinstance(k, ast.Field) else None for k in keys]
            if any(name is None for name in key_fields):
                raise CannotSynthesize(f"step {index}: a join key is an expression, not a field")
            if step.missing:
                continue
            state, values = self.first_state(step.query, f"step {index}")
            plans.append(_StepPlan(step.query, state, values, key_fields, step.runs))
        self.share_keys(plans)
        return plans

    def share_keys(self, plans: list[_StepPlan]) -> None:
        """Give join key position j the same value in every step: a value one step needs, else a made-up one."""
        if not plans:
            return
        width = len(plans[0].key_fields)
        for j in range(width):
            names = [p.key_fields[j] for p in plans]
            options = [p.values[n] for p, n in zip(plans, names) if n in p.values]
            options.extend(_key_values(names[0]))
            for value in options:
                if all(self.solver.accepts(n, p.state.fields.get(n, ()), value) for p, n in zip(plans, names)):
                    for p, n in zip(plans, names):
                        p.values[n] = value
                    break
            else:
                raise CannotSynthesize(f"join key {j + 1} ({', '.join(dict.fromkeys(n or '?' for n in names))}): "
                                       "no value satisfies every step")

    def events(self, plans: t.Sequence[_StepPlan]) -> list[Event]:
        total = sum(p.runs for p in plans)
        body = self.query.body
        step_ms = 1000.0
        if isinstance(body, ast.Sequence) and body.maxspan is not None:
            step_ms = min(step_ms, body.maxspan.millis / (total + 1))
        out = []
        n = 0
        for plan in plans:
            for _ in range(plan.runs):
                moment = BASE_TIME + dt.timedelta(milliseconds=step_ms * n)
                out.append(_stamp(build_document(plan.values), self.time_fields, moment))
                n += 1
        return out

    # ------------------------------------------------------------------------------------------- verdicts
    def fires(self, events: t.Sequence[Event]) -> bool:
        ordered = sorted(events, key=self.compiled.sort_key)
        return next(iter(self.compiled.run(ordered)), None) is not None

    def near_miss(self, plans: list[_StepPlan]) -> tuple[list[Event], str]:
        """Break one required literal of one step (the rule's own specific conditions first) and re-solve that
        field; the first variant the engine does not match is the near miss."""
        for index in reversed(range(len(plans))):
            plan = plans[index]
            keys = set(plan.key_fields)
            order = [(n, lit) for n, lit in reversed(plan.state.order) if n not in keys
                     and not self.solver.holds(lit, {})]
            # the rule's own positive conditions first; negated ones and generic fields last
            order.sort(key=lambda item: (item[0] in GENERIC_FIELDS, isinstance(item[1], ast.Not)))
            for name, literal in order:
                others = tuple(lit for lit in plan.state.fields[name] if lit is not literal)
                value = self.solver.solve(name, others + (_negate(literal),))
                if value is None:
                    continue
                broken_values = dict(plan.values)
                if value is ABSENT:
                    broken_values.pop(name, None)
                else:
                    broken_values[name] = value
                variant = [_StepPlan(p.query, p.state, broken_values if i == index else p.values, p.key_fields,
                                     p.runs) for i, p in enumerate(plans)]
                events = self.events(variant)
                if not self.fires(events):
                    where = f"step {index + 1}: " if len(plans) > 1 else ""
                    return events, where + to_eql(literal)
        raise CannotSynthesize("no single broken condition stops the match")


def _negate(literal: ast.Expr) -> ast.Expr:
    return literal.operand if isinstance(literal, ast.Not) else ast.Not(literal)


def _key_values(name: t.Optional[str]) -> list[t.Any]:
    """Made-up join-key values for a key no step constrains: numbers for pids, addresses for ips, else text."""
    last = (name or "key").rsplit(".", 1)[-1]
    if last in ("pid", "ppid", "uid", "gid"):
        return [4242]
    if last == "ip":
        return list(PUBLIC_IPS)
    return [f"synth-{last}"]


# ------------------------------------------------------------------------------------------------ public API
def synthesize(
    query: t.Union[str, ast.Query],
    *,
    category_field: str = "event.category",
    timestamp_field: str = "@timestamp",
    tiebreaker_field: t.Optional[str] = None,
    extra_time_fields: t.Sequence[str] = (),
) -> Synthesis:
    """Synthesize and verify matching events and a near miss for an EQL query (text or AST).

    Never raises for a query it cannot handle: the reason is in `Synthesis.reason`. Invalid query text raises the
    parser's located `EqlError`."""
    if isinstance(query, str):
        from vigil.eql import parse

        query = parse(query)
    result = Synthesis(query)
    try:
        synth = _Synthesizer(query, category_field, timestamp_field, tiebreaker_field, extra_time_fields)
        plans = synth.plans()
        result.positive = synth.events(plans)
        result.positive_ok = synth.fires(result.positive)
        if not result.positive_ok:
            result.reason = "the engine does not match the synthesized events"
            return result
        result.negative, result.broken = synth.near_miss(plans)
        result.negative_ok = not synth.fires(result.negative)
    except CannotSynthesize as error:
        result.reason = error.message
    except VigilError as error:  # e.g. an unsupported regex operator met while compiling
        result.reason = str(error)
    return result


def rule_query(rule: t.Any) -> ast.Query:
    """The rule's query as an EQL AST: EQL rules parse theirs; KQL `query` rules compile to `any where <kql>`.

    Raises CannotSynthesize for rule types whose alerts do not come from one query's matches."""
    language = rule.language or ("eql" if rule.type == "eql" else None)
    if rule.type == "eql" and language == "eql" and rule.query:
        from vigil.eql import parse

        return parse(rule.query)
    if rule.type == "query" and language == "kuery" and rule.query is not None:
        try:
            from vigil.kql import kql_query
        except ImportError:  # pragma: no cover - KQL ships with vigil; this guards a partial checkout
            raise CannotSynthesize("KQL rules need vigil.kql, which is not available") from None
        return kql_query(rule.query)
    why = _NOT_SYNTHESIZED.get(rule.type, "only eql rules and KQL query rules are synthesized")
    raise CannotSynthesize(f"rule type {rule.type!r} ({language or 'no language'}): {why}")


_NOT_SYNTHESIZED = {
    # threshold and new_terms rules are synthesized as event sets by vigil.rules.synth_aggregate
    "esql": "ES|QL is not supported",
    "machine_learning": "it fires on anomaly scores of Elastic ML jobs",
    "threat_match": "it fires on matches against threat-intel indicators",
}


def synthesize_rule(rule: t.Any) -> Synthesis:
    """`synthesize()` with the rule's own settings: event category override, timestamp and tiebreaker fields; the
    `timestamp_override` field (e.g. `event.ingested`) gets the same time as `@timestamp`."""
    query = rule_query(rule)
    extra = [rule.timestamp_override] if rule.timestamp_override else []
    return synthesize(
        query,
        category_field=rule.event_category_override or "event.category",
        timestamp_field=rule.timestamp_field or "@timestamp",
        tiebreaker_field=rule.tiebreaker_field,
        extra_time_fields=extra,
    )
