"""One execution of one rule at time T over a stream of records, as Kibana's security rule wrapper runs it.

Steps (kibana-engine.md §1): plan the windows (the normal one plus catch-up windows after a late start, and the gap
that remains); keep the records whose index matches the rule's index patterns and whose timestamp (override, with
`@timestamp` fallback) falls in some window; drop excepted records *before* the query (an excepted event never joins a
sequence); then for each window, oldest first: order by `@timestamp` (the EQL timestamp field, never the override),
run the query, keep at most `max_signals` events or sequences (the earliest), build the alerts, and commit them in one
transaction. Finally the execution is recorded with Kibana's status and message, and the rule's last start is
updated for the next gap computation.

Records are read once; only those inside the execution's windows are held in memory.
"""

from __future__ import annotations

import datetime as dt
import time
import typing as t
import uuid
from dataclasses import dataclass, field

from vigil.alerts import AlertContext, AlertStore, build_alerts
from vigil.alerts.times import js_iso, utc_now
from vigil.engine import compile_query
from vigil.engine import fields as field_paths
from vigil.engine.query import CompiledQuery, sort_key
from vigil.errors import VigilError
from vigil.rules.model import Rule
from vigil.runs import messages, query_rule, state, suppress
from vigil.runs.select import IndexSelector, TimeFilter, has_field
from vigil.runs.windows import ExecutionPlan, Window, plan_execution

Predicate = t.Callable[[dict], bool]


@dataclass
class ProducedAlert:
    """An alert built by an execution, with the records it came from (for display: format, file:line)."""

    doc: dict
    records: list[t.Any]
    new: bool = False

    @property
    def id(self) -> str:
        return str(self.doc["kibana.alert.uuid"])

    @property
    def building_block(self) -> bool:
        return "kibana.alert.group.index" in self.doc


@dataclass
class ExecutionResult:
    rule: Rule
    started_at: dt.datetime
    execution_uuid: str
    plan: t.Optional[ExecutionPlan] = None
    status: str = messages.SUCCEEDED
    message: str = messages.SUCCESS_MESSAGE
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    events_searched: int = 0
    matches: int = 0
    alerts: list[ProducedAlert] = field(default_factory=list)
    duration_ms: float = 0.0
    execution_id: t.Optional[int] = None

    @property
    def new_alert_ids(self) -> list[str]:
        return [a.id for a in self.alerts if a.new]

    @property
    def windows(self) -> tuple[Window, ...]:
        return self.plan.windows if self.plan else ()


def produce(records: t.Sequence[t.Optional[t.Any]], rule: Rule, ctx: AlertContext) -> list[ProducedAlert]:
    """The alerts of one match: an event alert, or a sequence's shell (all records) and one block per record."""
    present = [r for r in records if r is not None]
    for record in present:  # a projected record (docs/sources.md, "Projection") becomes its full document now
        complete = getattr(record, "complete", None)
        if complete is not None:
            complete()
    docs = build_alerts(records, rule, ctx)
    if rule.type != "eql":  # a KQL rule: its own rule_type_id, category and parameters
        docs = [query_rule.finish_alert(doc, rule) for doc in docs]
    if len(docs) <= 1:
        return [ProducedAlert(doc, present) for doc in docs]
    shell, blocks = docs[0], docs[1:]
    return [ProducedAlert(shell, present)] + [ProducedAlert(doc, [r]) for doc, r in zip(blocks, present)]


# Compiled queries by rule object (kept alive beside its query, so the id stays its own): a hunt asks once to learn
# the fields the rules read and again to run them; a compiled query holds no per-run state (streams are made anew).
_COMPILED: dict[int, tuple[Rule, CompiledQuery]] = {}
_COMPILED_MAX = 4096


def compile_rule(rule: Rule) -> CompiledQuery:
    """The rule's query, compiled with the rule's EQL settings (ES defaults where the rule sets none)."""
    found = _COMPILED.get(id(rule))
    if found is not None and found[0] is rule:
        return found[1]
    compiled = _compile_rule(rule)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[id(rule)] = (rule, compiled)
    return compiled


def _compile_rule(rule: Rule) -> CompiledQuery:
    if rule.type in query_rule.KQL_RULE_TYPES:
        return query_rule.compile_kql_rule(rule)
    if not rule.runnable or rule.language not in (None, "eql") or not rule.query:
        raise VigilError(f"rule type {rule.type!r} ({rule.language or 'no language'}) is not run by vigil",
                         rule.location_of("rule.type"))
    return compile_query(
        rule.query,
        category_field=rule.event_category_override or "event.category",
        timestamp_field=rule.timestamp_field or "@timestamp",
        tiebreaker_field=rule.tiebreaker_field,
    )


def exceptions_for(rule: Rule, exception_store: t.Any, at: dt.datetime) -> t.Optional[Predicate]:
    """The rule's compiled exceptions (None when it has none). `exception_store` may be None: no exceptions."""
    if exception_store is None:
        return None
    from vigil.exceptions import compile_exceptions

    return compile_exceptions(exception_store.lists_for_rule(rule), at=at, value_lists=exception_store.value_list)


class MatchRunner:
    """Runs a compiled query over records and turns matches back into the records they came from."""

    def __init__(self, rule: Rule, compiled: CompiledQuery):
        self.rule, self.compiled = rule, compiled
        self.ts_getter = field_paths.getter(compiled.timestamp_field)

    def ordered(self, records: t.Iterable[t.Any]) -> list[t.Any]:
        # EQL needs the timestamp field: Elasticsearch never returns events without it.
        kept = [r for r in records if has_field(r.doc, self.ts_getter)]
        kept.sort(key=lambda r: sort_key(r.doc, timestamp_field=self.compiled.timestamp_field,
                                         tiebreaker_field=self.compiled.tiebreaker_field))
        return kept

    def matches(self, records: t.Sequence[t.Any], limit: t.Optional[int]) -> list[list[t.Optional[t.Any]]]:
        """Up to `limit` matches (earliest first), each as its records (None for a missing-step placeholder)."""
        by_doc = {id(r.doc): r for r in records}
        out: list[list[t.Optional[t.Any]]] = []
        for match in self.compiled.run(r.doc for r in records):
            out.append([by_doc.get(id(e)) if e is not None else None for e in match.events])
            if limit is not None and len(out) >= limit:
                break
        return out


def execute_rule(
    rule: Rule,
    records: t.Iterable[t.Any],
    *,
    store: AlertStore,
    started_at: t.Optional[dt.datetime] = None,
    previous_started_at: t.Union[dt.datetime, None, str] = "stored",
    exception_store: t.Any = None,
    created_at: t.Optional[dt.datetime] = None,
    space_id: str = "default",
    compiled: t.Optional[CompiledQuery] = None,
) -> ExecutionResult:
    """Execute `rule` once at `started_at` (default: now) over `records` (`vigil.sources.Record`s), into `store`.

    `previous_started_at="stored"` reads the rule's last start from the store (None: a first run). The records
    iterable is consumed once. Problems with the rule or its data end up in the execution status, never raised,
    except store errors (nothing can be recorded then).
    """
    clock = time.monotonic()
    started_at = started_at or utc_now()
    if previous_started_at == "stored":
        previous_started_at = state.last_started_at(store, rule.rule_id)
    result = ExecutionResult(rule=rule, started_at=started_at, execution_uuid=str(uuid.uuid4()))
    gap_errors: list[str] = []
    try:
        result.plan = plan_execution(started_at, t.cast(t.Optional[dt.datetime], previous_started_at),
                                     interval=rule.interval, from_=rule.from_, to=rule.to)
        gap_errors = list(result.plan.errors)
        compiled = compiled or compile_rule(rule)
        is_excepted = exceptions_for(rule, exception_store, started_at)
        ctx = AlertContext(created_at=created_at or utc_now(), space_id=space_id,
                           execution_uuid=result.execution_uuid, indices=list(rule.index))
        searcher = query_rule.searcher_for(rule, compiled, store, ctx, started_at)
        _search(rule, compiled, result, records, is_excepted, store, ctx, searcher)
    except VigilError as error:
        result.errors.append(error.message if not error.location else str(error))
    except ValueError as error:  # bad date math or interval in a rule that skipped validation
        result.errors.append(str(error))
    result.status, result.message = messages.final_status(result.warnings, result.errors, gap_errors)
    result.duration_ms = round((time.monotonic() - clock) * 1000, 3)
    _record(store, result)
    return result


def _search(rule: Rule, compiled: CompiledQuery, result: ExecutionResult, records: t.Iterable[t.Any],
            is_excepted: t.Optional[Predicate], store: AlertStore, ctx: AlertContext,
            searcher: t.Any = None) -> None:
    assert result.plan is not None
    windows = result.plan.windows
    # alert_suppression (EQL event queries): validated before anything runs, applied when alerts are committed
    suppressor = suppress.suppressor_for(rule, compiled, ctx) if searcher is None else None
    selector = IndexSelector(rule.index)
    filters = [TimeFilter(w.start, w.end, rule.primary_timestamp, rule.secondary_timestamp) for w in windows]
    # a KQL rule type may need records outside the windows too (new_terms: its history window)
    history = searcher.history_filter(windows) if searcher is not None else None
    override = rule.timestamp_override if rule.timestamp_override not in (None, "@timestamp") else None
    override_getter = field_paths.getter(override) if override else None
    indices_seen: set[str] = set()
    indices_with_override: set[str] = set()
    candidates: list[tuple[t.Any, tuple[bool, ...]]] = []
    for record in records:
        if not selector(record.index):
            continue
        indices_seen.add(record.index)
        if override_getter is not None and record.index not in indices_with_override \
                and has_field(record.doc, override_getter):
            indices_with_override.add(record.index)
        inside = tuple(f(record.doc) for f in filters)
        if not any(inside):
            if history is None or not history(record.doc):
                continue
        else:
            result.events_searched += 1
        if is_excepted is not None and is_excepted(record.doc):
            continue
        candidates.append((record, inside))

    if not indices_seen:
        # Kibana skips the search when no index matches (field_caps found nothing): a partial failure.
        result.warnings.append(messages.no_index_warning(rule.index))
        return
    if override is not None and indices_seen - indices_with_override:
        result.warnings.append(messages.missing_timestamp_warning(override, indices_seen - indices_with_override))

    runner = MatchRunner(rule, compiled)
    reached_limit = False
    for i, window in enumerate(windows):
        if searcher is not None:  # query, threshold, new_terms: the type's own search and commit
            outcome = searcher.search(i, window, [r for r, inside in candidates if inside[i]], candidates)
            result.matches += outcome.matches
            reached_limit = reached_limit or outcome.limited
            result.alerts.extend(outcome.alerts)
            continue
        in_window = runner.ordered(r for r, inside in candidates if inside[i])
        found = runner.matches(in_window, rule.max_signals)
        result.matches += len(found)
        if len(found) >= rule.max_signals:
            reached_limit = True
        produced = [alert for recs in found for alert in produce(recs, rule, ctx)]
        if suppressor is not None:  # group, extend open alerts, commit (one transaction)
            outcome = suppressor.commit(store, produced, window_start=window.start, max_alerts=rule.max_signals)
            result.alerts.extend(outcome.alerts)
            continue
        # one transaction per window, like Kibana's bulk create per tuple: committed whole or not at all
        new_ids = set(store.insert_alerts([p.doc for p in produced])) if produced else set()
        for p in produced:
            p.new = p.id in new_ids
            new_ids.discard(p.id)  # an alert built again by an overlapping catch-up window is not new twice
        result.alerts.extend(produced)
    if searcher is not None:
        searcher.finish()
    if reached_limit:
        result.warnings.append(suppress.SUPPRESSION_MAX_SIGNALS_WARNING if suppressor is not None
                               else messages.MAX_SIGNALS_WARNING)


def _record(store: AlertStore, result: ExecutionResult) -> None:
    windows = result.windows
    gap = result.plan.gap if result.plan else None
    details = {
        "windows": [{"gte": js_iso(w.start), "lte": js_iso(w.end)} for w in windows],
        "warnings": result.warnings,
        "errors": result.errors,
        "matches": result.matches,
        "alerts_built": len(result.alerts),
        "gap": {"gte": js_iso(gap.gte), "lte": js_iso(gap.lte)} if gap else None,
    }
    result.execution_id = store.record_execution(
        result.rule.rule_id,
        started_at=result.started_at,
        status=result.status,
        duration_ms=result.duration_ms,
        window_from=windows[0].start if windows else None,
        window_to=windows[-1].end if windows else None,
        message=result.message,
        events_searched=result.events_searched,
        alerts_created=len(result.new_alert_ids),
        gap_ms=gap.duration.total_seconds() * 1000 if gap else None,
        execution_uuid=result.execution_uuid,
        details=details,
    )
    state.set_last_started_at(store, result.rule.rule_id, result.started_at)
