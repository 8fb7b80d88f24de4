"""New terms rules: alert on a value (or combination of values) of `new_terms_fields` never seen before.

Kibana's new terms executor (security_solution `rule_types/new_terms/*.ts`, the aggregation approach), reproduced:

1. the terms of the window: every value combination of the fields in the matching events of [from, to]. Like a
   composite aggregation: an event lacking one of the fields has no term; arrays give one term per value, and with
   several fields every combination (so one event can raise several alerts, one per new term);
2. a term is new when its first occurrence over [history_window_start, to] is strictly after `from`
   (`first_seen > from`, milliseconds), i.e. it has no event in [history_window_start, from].
   `history_window_start` is date math evaluated at the window's end (`forceNow: tuple.to`);
3. the alert is built from the oldest event of the window holding that term, with `kibana.alert.new_terms` = the
   term's values, and the id `objectHash([_index, _id, String(_version), "<space>:<rule>", newTerms])` (the npm
   `object-hash` package: sha1 of a typed serialisation, reproduced by `object_hash`);
4. at most `max_signals` new alerts per window (alerts already stored do not count); more gives Kibana's warning.
   Order: a single field's terms by number of window events (descending) then value, like a terms aggregation;
   several fields in composite-key order.

Where the history comes from, in `vigil run`: **both**. The executor keeps the records of the history window
([history_window_start, from]) from the sources it reads, as Kibana's query over the history window would, and the
store keeps, per term, the last time it was seen at or before a window start (`vigil.runs.terms_history`), which
covers history the sources no longer hold (rotated files, a followed source's bounded buffer). A term is seen
when either says so.

In `vigil hunt` there is no window: each matching event, in time order, raises an alert for a term that has no
earlier event within the history length (`now - history_window_start`, e.g. 7 days) before it. No persisted
history is used or written by a hunt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import typing as t

from vigil.alerts.document import build_event_alert, event_id
from vigil.alerts.ids import js_string
from vigil.alerts.rule_fields import rule_uuid_of
from vigil.engine import fields as field_paths
from vigil.engine.query import CompiledQuery
from vigil.rules.datemath import parse_datemath
from vigil.rules.model import Rule
from vigil.runs.executor import ProducedAlert
from vigil.runs.query_rule import (
    AggregatableTime,
    SearchOutcome,
    commit_capped,
    finish_alert,
    new_terms_spec,
    term_sort_key,
    term_values,
)
from vigil.runs.select import TimeFilter
from vigil.runs.terms_history import TermsHistory

Term = tuple[t.Any, ...]


# ------------------------------------------------------------------------------------------------ object-hash

def _js_number(value: t.Union[int, float]) -> str:
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def _serialise(value: t.Any, out: list[str]) -> None:
    """object-hash 3's `typeHasher` for JSON values (ordered arrays, the package's default)."""
    if value is None:
        out.append("Null")
    elif isinstance(value, bool):
        out.append("bool:" + ("true" if value else "false"))
    elif isinstance(value, (int, float)):
        out.append("number:" + _js_number(value))
    elif isinstance(value, str):
        # `string.length` counts UTF-16 code units
        out.append(f"string:{len(value.encode('utf-16-le')) // 2}:{value}")
    elif isinstance(value, (list, tuple)):
        out.append(f"array:{len(value)}:")
        for entry in value:
            _serialise(entry, out)
    elif isinstance(value, dict):
        keys = sorted(value)
        out.append(f"object:{len(keys)}:")
        for key in keys:
            _serialise(key, out)
            out.append(":")
            _serialise(value[key], out)
            out.append(",")
    else:
        raise TypeError(f"cannot hash {type(value).__name__}")


def object_hash(value: t.Any) -> str:
    """`objectHash(value)` of the npm object-hash package (sha1, hex) for JSON-like values."""
    out: list[str] = []
    _serialise(value, out)
    return hashlib.sha1("".join(out).encode("utf-8")).hexdigest()


def new_terms_alert_id(record: t.Any, terms: t.Sequence[t.Any], space_id: str, rule_uuid: str) -> str:
    version = getattr(record, "version", None)
    return object_hash([record.index, event_id(record), js_string(version), f"{space_id}:{rule_uuid}", list(terms)])


# ------------------------------------------------------------------------------------------------ terms

class TermExtractor:
    """The terms of one event (see step 1 of the module doc)."""

    def __init__(self, fields: t.Sequence[str]):
        self.getters = [field_paths.getter(f) for f in fields]

    def __call__(self, doc: dict) -> list[Term]:
        per_field = [term_values(doc, g) for g in self.getters]
        if any(not values for values in per_field):
            return []
        return list(itertools.product(*per_field))


def build_new_terms_alert(record: t.Any, term: Term, rule: Rule, ctx: t.Any) -> t.Optional[dict[str, t.Any]]:
    doc = build_event_alert(record, rule, ctx)
    if doc is None:
        return None
    old_id = doc["kibana.alert.uuid"]
    new_id = new_terms_alert_id(record, term, ctx.space_id, ctx.rule_uuid or rule_uuid_of(rule))
    doc["kibana.alert.uuid"] = new_id
    if isinstance(doc.get("kibana.alert.url"), str):
        doc["kibana.alert.url"] = doc["kibana.alert.url"].replace(old_id, new_id)
    doc["kibana.alert.new_terms"] = list(term)
    return finish_alert(doc, rule)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class NewTermsSearcher:
    """One execution of a new_terms rule, window by window (see the module doc)."""

    def __init__(self, rule: Rule, compiled: CompiledQuery, store: t.Any, ctx: t.Any, started_at: dt.datetime,
                 *, persist: bool = True):
        self.rule, self.compiled, self.store, self.ctx = rule, compiled, store, ctx
        self.fields, history_start = new_terms_spec(rule)
        self.history_start = parse_datemath(history_start)
        self.time = AggregatableTime(rule)
        self.terms = TermExtractor(self.fields)
        self.persisted = TermsHistory(store, rule, self.fields) if persist else None
        self._matched: dict[int, bool] = {}
        self._seen: dict[Term, tuple[t.Optional[int], int]] = {}  # to record: (latest <= a window start, latest)
        self._prune_before: t.Optional[int] = None

    def history_start_of(self, window: t.Any) -> dt.datetime:
        return self.history_start.resolve(window.end)

    def history_filter(self, windows: t.Sequence[t.Any]) -> t.Optional[t.Callable[[dict], bool]]:
        """Records the executor must keep besides the windows: [earliest history start, latest window start]."""
        if not windows:
            return None
        start = min(self.history_start_of(w) for w in windows)
        end = max(w.start for w in windows)
        return TimeFilter(start, end, self.rule.primary_timestamp, self.rule.secondary_timestamp)

    def _matches(self, record: t.Any) -> bool:
        hit = self._matched.get(id(record))
        if hit is None:
            hit = self._matched[id(record)] = self.compiled.matches(record.doc)
        return hit

    def search(self, index: int, window: t.Any, in_window: list[t.Any],
               candidates: t.Sequence[tuple[t.Any, t.Any]]) -> SearchOutcome:
        from_ms, to_ms = _ms(window.start), _ms(window.end)
        history_ms = _ms(self.history_start_of(window))
        # 1. the window's terms: count and oldest event (ties: input order)
        counts: dict[Term, int] = {}
        oldest: dict[Term, tuple[int, int, t.Any]] = {}
        matched = 0
        for order, record in enumerate(in_window):
            if not self._matches(record):
                continue
            matched += 1
            ms = self.time.ms(record.doc)
            if ms is None:
                continue
            for term in self.terms(record.doc):
                counts[term] = counts.get(term, 0) + 1
                if term not in oldest or (ms, order) < oldest[term][:2]:
                    oldest[term] = (ms, order, record)
        # 2. which of them occur in [history start, from]: the records held, then the persisted history
        seen_before: set[Term] = set()
        for record, _inside in candidates:
            ms = self.time.ms(record.doc)
            if ms is None or ms < history_ms or ms > to_ms or not self._matches(record):
                continue
            for term in self.terms(record.doc):
                before, last = self._seen.get(term, (None, ms))
                if ms <= from_ms:
                    if term in counts:
                        seen_before.add(term)
                    before = ms if before is None else max(before, ms)
                self._seen[term] = (before, max(last, ms))
        if self.persisted is not None:
            for term, stored in self.persisted.lookup(term for term in counts if term not in seen_before).items():
                proof = self.persisted.evidence(stored, from_ms)
                if proof is not None and proof >= history_ms:
                    seen_before.add(term)
        new_terms = [term for term in counts if term not in seen_before and oldest[term][0] > from_ms]
        # 3-4. alerts, ordered like Kibana's aggregation, capped after dedupe
        if len(self.fields) == 1:
            new_terms.sort(key=lambda term: (-counts[term], term_sort_key(term[0])))
        else:
            new_terms.sort(key=lambda term: tuple(term_sort_key(v) for v in term))
        produced = []
        for term in new_terms:
            record = oldest[term][2]
            doc = build_new_terms_alert(record, term, self.rule, self.ctx)
            if doc is not None:
                produced.append(ProducedAlert(doc, [record]))
        kept, truncated = commit_capped(self.store, produced, self.rule.max_signals)
        self._prune_before = history_ms if self._prune_before is None else min(self._prune_before, history_ms)
        return SearchOutcome(kept, matched, truncated)

    def finish(self) -> None:
        if self.persisted is not None and (self._seen or self._prune_before is not None):
            self.persisted.record(self._seen, prune_before_ms=self._prune_before)


def hunt_new_terms(rule: Rule, compiled: CompiledQuery, records: t.Sequence[t.Any], ctx: t.Any) -> list[ProducedAlert]:
    """A hunt (see the module doc): a term is new when it has no earlier event within the history length."""
    fields, history_start = new_terms_spec(rule)
    anchor = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)  # any instant: only the length of the window matters
    length_ms = _ms(anchor) - _ms(parse_datemath(history_start).resolve(anchor))
    time = AggregatableTime(rule)
    terms_of = TermExtractor(fields)
    timed = [(ms, i, r) for i, r in enumerate(records) if (ms := time.ms(r.doc)) is not None]
    timed.sort(key=lambda x: (x[0], x[1]))
    last_seen: dict[Term, int] = {}
    out: list[ProducedAlert] = []
    for ms, _i, record in timed:
        if not compiled.matches(record.doc):
            continue
        for term in terms_of(record.doc):
            previous = last_seen.get(term)
            last_seen[term] = ms
            if previous is not None and previous >= ms - length_ms:
                continue
            doc = build_new_terms_alert(record, term, rule, ctx)
            if doc is not None:
                out.append(ProducedAlert(doc, [record]))
    return out
