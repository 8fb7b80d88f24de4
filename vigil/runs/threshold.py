"""Threshold rules: group the window's matching events into buckets and alert once per bucket that is big enough.

Kibana's threshold executor (security_solution `rule_types/threshold/*.ts`), reproduced:

* buckets are a composite terms aggregation over `threshold.field` (0..n fields). An event lacking any of the
  fields is in no bucket; a multi-valued field puts the event in one bucket per value (several fields: every
  combination). No field at all: one bucket holding every matching event;
* a bucket qualifies when `count >= threshold.value` and, with `threshold.cardinality[0]`, when the number of
  distinct values of that field in the bucket is `>= cardinality.value`;
* buckets come in composite-key order; at most `max_signals` per window, with Kibana's warning when there were more;
* one alert per bucket, built from a pseudo-event `{@timestamp: newest event time, <field>: <value>...}` with
  `kibana.alert.threshold_result = {cardinality?, count, from: oldest event time, terms: [{field, value}]}`;
  its `_id` is uuidv5(rule_id + execution start + fields + sorted key values) in Kibana's threshold namespace,
  and the alert id is Kibana's usual sha256 of (index patterns joined by ",", that `_id`, "undefined", space, rule);
* **signal history** (the dedupe across overlapping windows): for every alerted bucket, the terms and the newest
  event time it covered. Later windows ignore events of those terms at or before that time, so an overlap never
  re-alerts the same events. Entries whose time is at or before the window start are dropped. The history is kept
  in the store's state table (`threshold.signal_history:<rule_id>`, Kibana keeps it in the rule's task state);
  without it (first run, or a store written before), it is rebuilt from this rule's stored alerts, as Kibana does
  on upgrade.

Event times are the aggregatable timestamp (`query_rule.AggregatableTime`): `timestamp_override` with the
`@timestamp` fallback, in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import typing as t
import uuid
from dataclasses import dataclass, field

from vigil.alerts.document import build_event_alert
from vigil.alerts.ids import js_string
from vigil.alerts.times import js_iso, parse_time
from vigil.engine import fields as field_paths
from vigil.engine.query import CompiledQuery
from vigil.rules.model import Rule
from vigil.runs.executor import ProducedAlert
from vigil.runs.query_rule import (
    AggregatableTime,
    SearchOutcome,
    ThresholdSpec,
    finish_alert,
    term_sort_key,
    term_values,
    threshold_spec,
)
from vigil.sources.base import Record

# `calculateThresholdSignalUuid`'s namespace: part of every threshold `_id`.
THRESHOLD_NAMESPACE = uuid.UUID("0684ec03-7201-4ee0-8ee0-3a3f6b2479b2")
_STATE = "threshold.signal_history:"

History = dict[str, dict[str, t.Any]]  # terms hash -> {"terms": [{field, value}], "lastSignalTimestamp": ms}


def _iso_ms(ms: int) -> str:
    return js_iso(dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc))


def signal_id(rule_id: str, started_at: dt.datetime, fields: t.Sequence[str], key: t.Sequence[t.Any]) -> str:
    """`calculateThresholdSignalUuid(ruleId, startedAt, fields, Object.values(bucket.key).sort().join(','))`."""
    key_text = ",".join(sorted(js_string(v) for v in key))
    return str(uuid.uuid5(THRESHOLD_NAMESPACE, f"{rule_id}{js_iso(started_at)}{','.join(fields)}{key_text}"))


def terms_hash(terms: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """`getThresholdTermsHash`: sha256 of `field:value` pairs ordered by field, joined by ","."""
    ordered = sorted(terms, key=lambda term: str(term["field"]))
    return hashlib.sha256(",".join(f"{x['field']}:{js_string(x['value'])}" for x in ordered).encode()).hexdigest()


@dataclass
class Bucket:
    key: tuple[t.Any, ...]
    count: int = 0
    min_ms: t.Optional[int] = None
    max_ms: t.Optional[int] = None
    distinct: set[str] = field(default_factory=set)
    records: list[t.Any] = field(default_factory=list)

    def add(self, record: t.Any, ms: t.Optional[int], cardinality_values: t.Iterable[t.Any]) -> None:
        self.count += 1
        if ms is not None:
            self.min_ms = ms if self.min_ms is None else min(self.min_ms, ms)
            self.max_ms = ms if self.max_ms is None else max(self.max_ms, ms)
        self.distinct.update(js_string(v) for v in cardinality_values)
        self.records.append(record)


def aggregate(spec: ThresholdSpec, time: AggregatableTime, hits: t.Iterable[t.Any]) -> list[Bucket]:
    """The qualifying buckets of `hits` (records that matched the query), in composite-key order."""
    getters = [field_paths.getter(f) for f in spec.fields]
    card_getter = field_paths.getter(spec.cardinality[0][0]) if spec.cardinality else None
    buckets: dict[tuple, Bucket] = {}
    for record in hits:
        per_field = [term_values(record.doc, g) for g in getters]
        if any(not values for values in per_field):
            continue  # composite aggregations skip documents without a value (no missing_bucket)
        ms = time.ms(record.doc)
        card = term_values(record.doc, card_getter) if card_getter is not None else ()
        for key in itertools.product(*per_field):
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = Bucket(key)
            bucket.add(record, ms, card)
    out = [b for b in buckets.values() if b.count >= spec.value
           and (not spec.cardinality or len(b.distinct) >= spec.cardinality[0][1])]
    out.sort(key=lambda b: tuple(term_sort_key(v) for v in b.key))
    return out


def excluded_by_history(history: History, time: AggregatableTime) -> t.Callable[[t.Any], bool]:
    """Kibana's bucket filters: drop an event when some alerted bucket has its terms and a time at or after it."""
    entries = [(int(e["lastSignalTimestamp"]),
                [(field_paths.getter(str(term["field"])), js_string(term["value"])) for term in e.get("terms", [])])
               for e in history.values()]
    if not entries:
        return lambda _record: False

    def excluded(record: t.Any) -> bool:
        ms = time.ms(record.doc)
        if ms is None:
            return False
        for last, terms in entries:
            if ms <= last and all(any(js_string(v) == want for v in term_values(record.doc, g)) for g, want in terms):
                return True
        return False

    return excluded


def build_threshold_alert(rule: Rule, ctx: t.Any, spec: ThresholdSpec, bucket: Bucket, started_at: dt.datetime,
                          window_start: dt.datetime) -> dict[str, t.Any]:
    """`transformBucketIntoHit` + `wrapHits`: the alert document of one bucket."""
    result: dict[str, t.Any] = {}
    if spec.cardinality:
        result["cardinality"] = [{"field": spec.cardinality[0][0], "value": len(bucket.distinct)}]
    result["count"] = bucket.count
    result["from"] = _iso_ms(bucket.min_ms) if bucket.min_ms is not None else js_iso(window_start)
    result["terms"] = [{"field": f, "value": v} for f, v in zip(spec.fields, bucket.key)]
    source: dict[str, t.Any] = {"@timestamp": _iso_ms(bucket.max_ms) if bucket.max_ms is not None else None}
    source.update(zip(spec.fields, bucket.key))
    source["threshold_result"] = result
    indices = list(ctx.indices) if ctx.indices is not None else list(rule.index)
    hit = Record(doc=source, index=",".join(indices), id=signal_id(rule.rule_id, started_at, spec.fields, bucket.key))
    doc = build_event_alert(hit, rule, ctx)
    assert doc is not None  # a pseudo-event is never an alert of this rule
    doc["kibana.alert.threshold_result"] = result
    return finish_alert(doc, rule)


def history_from_alerts(docs: t.Iterable[t.Mapping[str, t.Any]], fields: t.Sequence[str]) -> History:
    """`buildThresholdSignalHistory`: terms (the threshold fields' values on the alert) -> newest original time."""
    history: History = {}
    for doc in docs:
        terms = [{"field": f, "value": doc.get(f)} for f in fields]
        original = parse_time(doc.get("kibana.alert.original_time"))
        if original is None:
            continue
        ms = int(original.timestamp() * 1000)
        key = terms_hash(terms)
        entry = history.get(key)
        if entry is None:
            history[key] = {"terms": terms, "lastSignalTimestamp": ms}
        elif ms > entry["lastSignalTimestamp"]:
            entry["lastSignalTimestamp"] = ms
    return history


class ThresholdSearcher:
    """One execution of a threshold rule, window by window (see the module doc)."""

    def __init__(self, rule: Rule, compiled: CompiledQuery, store: t.Any, ctx: t.Any, started_at: dt.datetime):
        self.rule, self.compiled, self.store, self.ctx, self.started_at = rule, compiled, store, ctx, started_at
        self.spec = threshold_spec(rule)
        self.time = AggregatableTime(rule)
        saved = store.get_state(_STATE + rule.rule_id)
        self.history: t.Optional[History] = saved.get("signalHistory") if isinstance(saved, dict) else None

    def history_filter(self, windows: t.Sequence[t.Any]) -> None:
        return None

    def _valid_history(self, window: t.Any) -> History:
        start_ms = int(window.start.timestamp() * 1000)
        if self.history is None:  # not initialized: Kibana's getThresholdSignalHistory over the alerts index
            docs = []
            for alert in self.store.list_alerts(rule=self.rule.rule_id, since=window.start, limit=None):
                doc = alert.document
                created = parse_time(doc.get("@timestamp"))
                original = parse_time(doc.get("kibana.alert.original_time"))
                params = doc.get("kibana.alert.rule.parameters") or {}
                threshold_fields = (params.get("threshold") or {}).get("field") or []
                if (alert.rule_id == self.rule.rule_id and created is not None and created <= window.end
                        and original is not None and original >= window.start
                        and all(f in threshold_fields for f in self.spec.fields)):
                    docs.append(doc)
            return history_from_alerts(docs, self.spec.fields)
        return {k: e for k, e in self.history.items() if int(e["lastSignalTimestamp"]) > start_ms}

    def search(self, index: int, window: t.Any, in_window: list[t.Any], candidates: t.Any) -> SearchOutcome:
        valid = self._valid_history(window)
        excluded = excluded_by_history(valid, self.time)
        hits = [r for r in in_window if self.compiled.matches(r.doc) and not excluded(r)]
        buckets = aggregate(self.spec, self.time, hits)
        limited = len(buckets) > self.rule.max_signals
        buckets = buckets[: self.rule.max_signals]
        produced = [ProducedAlert(build_threshold_alert(self.rule, self.ctx, self.spec, b, self.started_at,
                                                        window.start), b.records) for b in buckets]
        new_ids = set(self.store.insert_alerts([p.doc for p in produced])) if produced else set()
        for p in produced:
            p.new = p.id in new_ids
            new_ids.discard(p.id)
        # the next window (and the next execution) skips what these new alerts covered
        self.history = {**valid, **history_from_alerts([p.doc for p in produced if p.new], self.spec.fields)}
        return SearchOutcome(produced, len(buckets), limited)

    def finish(self) -> None:
        if self.history is not None:
            self.store.set_state(_STATE + self.rule.rule_id, {"initialized": True, "signalHistory": self.history})


def hunt_threshold(rule: Rule, compiled: CompiledQuery, records: t.Sequence[t.Any], ctx: t.Any) -> list[ProducedAlert]:
    """A hunt: one bucketing of the whole input, no window and no cap. The execution start that Kibana puts in the
    bucket's `_id` is the newest event time of the input, so hunting the same data again gives the same ids."""
    spec = threshold_spec(rule)
    time = AggregatableTime(rule)
    hits = [r for r in records if compiled.matches(r.doc)]
    times = [ms for ms in (time.ms(r.doc) for r in hits) if ms is not None]
    if not hits or not times:
        return []
    started_at = dt.datetime.fromtimestamp(max(times) / 1000, tz=dt.timezone.utc)
    window_start = dt.datetime.fromtimestamp(min(times) / 1000, tz=dt.timezone.utc)
    return [ProducedAlert(build_threshold_alert(rule, ctx, spec, b, started_at, window_start), b.records)
            for b in aggregate(spec, time, hits)]


__all__ = ["ThresholdSearcher", "aggregate", "build_threshold_alert", "hunt_threshold", "signal_id", "terms_hash"]
