"""The KQL rule types (`query`, `threshold`, `new_terms`): compiling them, and what they share with each other.

Kibana runs these three types with the same KQL (`language = "kuery"`) query and the same window, index and
exception handling as EQL rules; they differ in what they do with the matching events:

* `query`: one alert per event, like an EQL event query, but `max_signals` caps the alerts *created*: Kibana's
  `bulkCreate(..., maxAlerts)` drops the ids already in the alerts index first, then truncates, and warns only
  when new alerts were left out (`commit_capped`);
* `threshold`: buckets of events (`vigil.runs.threshold`);
* `new_terms`: values never seen in the history window (`vigil.runs.new_terms`).

This module is the dispatch point the executor and the hunt call (`searcher_for`, `hunter_for`) and holds the
helpers the three share: the per-type alert fields (`kibana.alert.rule.rule_type_id`, `.category`, the type's
parameters), the aggregatable timestamp (Kibana's `kibana.combined_timestamp`) and field value extraction with
Elasticsearch's multi-value rules.

Nothing here imports the executor at module level: the executor imports this module.
"""

from __future__ import annotations

import typing as t

from vigil.engine import compile_query
from vigil.engine import fields as field_paths
from vigil.engine.query import CompiledQuery, timestamp_ns
from vigil.errors import UnsupportedError, VigilError
from vigil.rules.model import Rule

KQL_RULE_TYPES = ("query", "threshold", "new_terms")

# Kibana's rule type registrations (`siem.*` ids and their names, written as kibana.alert.rule.rule_type_id/category).
RULE_TYPE_FIELDS = {
    "eql": ("siem.eqlRule", "Event Correlation Rule"),
    "query": ("siem.queryRule", "Custom Query Rule"),
    "threshold": ("siem.thresholdRule", "Threshold Rule"),
    "new_terms": ("siem.newTermsRule", "New Terms Rule"),
}

UNSUPPORTED_REASONS = {
    "esql": "ES|QL rules need Elasticsearch's ES|QL engine, which vigil does not have",
    "machine_learning": "machine learning rules read anomaly records of Elasticsearch ML jobs, which vigil cannot run",
    "threat_match": "indicator match rules are not run by vigil yet",
    "saved_query": "saved query rules reference a Kibana saved object vigil cannot read",
}


def unsupported_reason(rule: Rule) -> t.Optional[str]:
    """Why vigil cannot run `rule`, or None when it can."""
    if rule.type == "eql":
        return None
    if rule.type in KQL_RULE_TYPES:
        language = rule.language or "kuery"
        if language == "lucene":
            return "Lucene query syntax is not supported (vigil runs KQL: language = \"kuery\")"
        if language != "kuery":
            return f"language {language!r} is not a KQL rule language"
        return None
    return UNSUPPORTED_REASONS.get(rule.type, f"rule type {rule.type!r} is not run by vigil")


def compile_kql_rule(rule: Rule) -> CompiledQuery:
    """The rule's KQL query compiled for the evaluator (`any where <condition>`); an empty query matches all."""
    reason = unsupported_reason(rule)
    if reason is not None:
        raise UnsupportedError(reason, rule.location_of("rule.language"))
    from vigil.kql import kql_query

    text = rule.query or ""
    # a KQL error carries line:column inside the query and a caret, like an EQL rule's query error
    query = kql_query(text) if text.strip() else kql_query("*")
    return compile_query(query, timestamp_field=rule.timestamp_field or "@timestamp",
                         tiebreaker_field=rule.tiebreaker_field)


# --------------------------------------------------------------------------------------------- alert fields

def type_parameters(rule: Rule) -> dict[str, t.Any]:
    """The type-specific `kibana.alert.rule.parameters` Kibana adds for threshold and new_terms rules."""
    if rule.type == "threshold":
        return {"threshold": threshold_spec(rule).parameters()}
    if rule.type == "new_terms":
        fields, history = new_terms_spec(rule)
        return {"new_terms_fields": list(fields), "history_window_start": history}
    return {}


def finish_alert(doc: dict[str, t.Any], rule: Rule) -> dict[str, t.Any]:
    """Give an alert built by the (EQL-centred) document builder the fields of the rule's own type."""
    type_id, category = RULE_TYPE_FIELDS.get(rule.type, RULE_TYPE_FIELDS["eql"])
    doc["kibana.alert.rule.rule_type_id"] = type_id
    doc["kibana.alert.rule.category"] = category
    extra = type_parameters(rule)
    if extra:
        params = dict(doc.get("kibana.alert.rule.parameters") or {})
        params.update(extra)
        doc["kibana.alert.rule.parameters"] = params
    return doc


# --------------------------------------------------------------------------------------------- rule settings

class ThresholdSpec(t.NamedTuple):
    fields: tuple[str, ...]
    value: int
    cardinality: tuple[tuple[str, int], ...]

    def parameters(self) -> dict[str, t.Any]:
        """Kibana's normalized threshold (`field` always a list)."""
        out: dict[str, t.Any] = {"field": list(self.fields), "value": self.value}
        if self.cardinality:
            out["cardinality"] = [{"field": f, "value": v} for f, v in self.cardinality]
        return out


def threshold_spec(rule: Rule) -> ThresholdSpec:
    """`[rule.threshold]`: field (a string or 0..n strings), value >= 1, optional cardinality [{field, value}]."""
    raw = rule.threshold or rule.document.get("rule", {}).get("threshold")
    if not isinstance(raw, t.Mapping):
        raise VigilError("a threshold rule needs [rule.threshold] with field and value",
                         rule.location_of("rule.threshold"))
    field = raw.get("field", [])
    fields = (field,) if isinstance(field, str) else tuple(str(f) for f in field or ())
    fields = tuple(f for f in fields if f)  # Kibana drops empty field names ("" means: no grouping)
    try:
        value = int(raw.get("value"))
    except (TypeError, ValueError):
        raise VigilError("threshold value must be a whole number >= 1",
                         rule.location_of("rule.threshold.value")) from None
    if value < 1:
        raise VigilError("threshold value must be >= 1", rule.location_of("rule.threshold.value"))
    cardinality = []
    for i, entry in enumerate(raw.get("cardinality") or ()):
        if not isinstance(entry, t.Mapping) or not entry.get("field"):
            raise VigilError("threshold cardinality needs a field and a value",
                             rule.location_of(f"rule.threshold.cardinality[{i}]"))
        cardinality.append((str(entry["field"]), int(entry.get("value", 0))))
    return ThresholdSpec(fields, value, tuple(cardinality))


def new_terms_spec(rule: Rule) -> tuple[tuple[str, ...], str]:
    """(new_terms_fields, history_window_start) from the TOML form (`[rule.new_terms] field = "new_terms_fields"`,
    `value = [...]`, `[[rule.new_terms.history_window_start]]`) or the Kibana API form (top-level keys)."""
    body = rule.document.get("rule", {})
    raw = rule.new_terms if isinstance(rule.new_terms, t.Mapping) else {}
    fields = raw.get("value") if raw.get("field", "new_terms_fields") == "new_terms_fields" else None
    fields = fields if fields is not None else body.get("new_terms_fields")
    history: t.Any = None
    for entry in raw.get("history_window_start") or ():
        if isinstance(entry, t.Mapping) and entry.get("field", "history_window_start") == "history_window_start":
            history = entry.get("value")
    history = history if history is not None else body.get("history_window_start")
    if isinstance(fields, str):
        fields = [fields]
    if not fields or not all(isinstance(f, str) and f for f in fields):
        raise VigilError("a new_terms rule needs 1 to 3 new terms fields", rule.location_of("rule.new_terms"))
    if len(fields) > 3:
        raise VigilError(f"a new_terms rule takes at most 3 fields, not {len(fields)}",
                         rule.location_of("rule.new_terms"))
    if not isinstance(history, str) or not history:
        raise VigilError("a new_terms rule needs history_window_start (e.g. now-7d)",
                         rule.location_of("rule.new_terms.history_window_start"))
    return tuple(fields), history


# --------------------------------------------------------------------------------------------- event values

class AggregatableTime:
    """Kibana's aggregatable timestamp: `@timestamp`, or with an override the runtime field
    `kibana.combined_timestamp` = the override when the event has it, else `@timestamp` (unless the fallback is
    disabled). Aggregations (threshold min/max, new_terms first seen) and ordering use it; milliseconds, as the
    `date` type stores them."""

    def __init__(self, rule: Rule):
        self.primary = field_paths.getter(rule.primary_timestamp)
        secondary = rule.secondary_timestamp
        self.secondary = field_paths.getter(secondary) if secondary else None

    def ms(self, doc: dict) -> t.Optional[int]:
        ns = timestamp_ns(self.primary(doc))
        if ns is None and self.secondary is not None:
            ns = timestamp_ns(self.secondary(doc))
        return None if ns is None else ns // 1_000_000


def term_values(doc: dict, getter: field_paths.Getter) -> list[t.Any]:
    """The distinct aggregatable values of a field in one event, as a terms aggregation sees them: missing, null
    and empty arrays give none; an array gives each value once (doc values are a set); objects are not terms."""
    out: list[t.Any] = []
    for value in field_paths.values_of(getter(doc)):
        if value is None or isinstance(value, (dict, list)):
            continue
        if not any(value == seen and type(value) is type(seen) for seen in out):
            out.append(value)
    return out


def term_sort_key(value: t.Any) -> tuple:
    """Composite aggregation order of one key part: numbers before strings, strings by UTF-8 bytes."""
    if isinstance(value, bool):
        return (0, int(value), b"")
    if isinstance(value, (int, float)):
        return (1, value, b"")
    return (2, 0, str(value).encode("utf-8"))


# --------------------------------------------------------------------------------------------- committing

def existing_ids(store: t.Any, ids: t.Sequence[str]) -> set[str]:
    """Which of `ids` the store already holds (Kibana's `filterDuplicateAlerts` query on the alerts index)."""
    found: set[str] = set()
    unique = list(dict.fromkeys(ids))
    with store.transaction() as conn:
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            rows = conn.execute(f"SELECT id FROM alerts WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            found.update(row[0] for row in rows)
    return found


def commit_capped(store: t.Any, produced: list[t.Any], cap: t.Optional[int]) -> tuple[list[t.Any], bool]:
    """Kibana's `bulkCreate` with `maxAlerts`: drop alerts already stored, keep at most `cap` new ones (in order),
    store them in one transaction. Returns (the alerts kept, marked `new`; whether new alerts were left out)."""
    seen = existing_ids(store, [p.id for p in produced]) if produced else set()
    kept: list[t.Any] = []
    fresh: list[t.Any] = []
    truncated = False
    for p in produced:
        if p.id in seen:
            kept.append(p)
            continue
        if cap is not None and len(fresh) >= cap:
            truncated = True
            continue
        seen.add(p.id)
        fresh.append(p)
        kept.append(p)
    new_ids = set(store.insert_alerts([p.doc for p in fresh])) if fresh else set()
    for p in fresh:
        p.new = p.id in new_ids
    return kept, truncated


# --------------------------------------------------------------------------------------------- dispatch

class SearchOutcome(t.NamedTuple):
    """What one window of a KQL rule produced: alerts (already committed, `new` set), matches, limit reached."""

    alerts: list[t.Any]
    matches: int
    limited: bool


class QuerySearcher:
    """A `query` rule's window: one alert per matching event, earliest (aggregatable timestamp) first, at most
    `max_signals` *new* alerts (Kibana's search_after loop + `bulkCreate(maxAlerts)`)."""

    def __init__(self, rule: Rule, compiled: CompiledQuery, store: t.Any, ctx: t.Any):
        self.rule, self.compiled, self.store, self.ctx = rule, compiled, store, ctx
        self.time = AggregatableTime(rule)

    def history_filter(self, windows: t.Sequence[t.Any]) -> None:
        return None

    def search(self, index: int, window: t.Any, in_window: list[t.Any], candidates: t.Any) -> SearchOutcome:
        from vigil.runs.executor import produce

        hits = [r for r in in_window if self.compiled.matches(r.doc)]
        hits.sort(key=lambda r: self.time.ms(r.doc) or 0)  # stable: equal times keep input order
        produced = [alert for r in hits for alert in produce([r], self.rule, self.ctx)]
        kept, truncated = commit_capped(self.store, produced, self.rule.max_signals)
        return SearchOutcome(kept, len(hits), truncated)

    def finish(self) -> None:
        return None


def searcher_for(rule: Rule, compiled: CompiledQuery, store: t.Any, ctx: t.Any,
                 started_at: t.Any = None) -> t.Optional[t.Any]:
    """The window searcher for a KQL rule type (None: EQL, run by the executor's own event/sequence path)."""
    if rule.type == "query":
        return QuerySearcher(rule, compiled, store, ctx)
    if rule.type == "threshold":
        from vigil.runs.threshold import ThresholdSearcher

        return ThresholdSearcher(rule, compiled, store, ctx, started_at)
    if rule.type == "new_terms":
        from vigil.runs.new_terms import NewTermsSearcher

        return NewTermsSearcher(rule, compiled, store, ctx, started_at)
    return None


def hunter_for(rule: Rule, compiled: CompiledQuery, ctx: t.Any) -> t.Optional[t.Any]:
    """For a hunt: the whole-input evaluator of an aggregating rule type (None: events stream one by one)."""
    if rule.type == "threshold":
        from vigil.runs.threshold import hunt_threshold

        return lambda records: hunt_threshold(rule, compiled, records, ctx)
    if rule.type == "new_terms":
        from vigil.runs.new_terms import hunt_new_terms

        return lambda records: hunt_new_terms(rule, compiled, records, ctx)
    return None
