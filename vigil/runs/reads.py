"""The ECS fields a set of rules reads before any of them raises an alert.

A source adapter can then produce just those fields for every record (`open_sources(fields=...)`) and the full
document only for the records that become alerts (`Record.complete()`): building every field of a CrowdStrike or
audit.log event costs more than deciding whether any rule cares (docs/sources.md, "Projection").

What counts: each rule's query (every field it names, and the category, timestamp and tiebreaker fields of its EQL
settings), its time fields (`timestamp_override`, `@timestamp`, the window filter's fallback), threshold group-by and
cardinality fields, new_terms fields, alert-suppression group-by fields. Exceptions are not known per rule here, so
a rule with exceptions (or anything this module does not understand) means "all fields": `None`.
"""

from __future__ import annotations

import typing as t

from vigil.errors import VigilError
from vigil.rules.model import Rule
from vigil.runs import query_rule

#: Read by the alert pipeline itself for every record (time windows, ordering, alert ids of docs without `_id`).
ALWAYS = frozenset({"@timestamp", "event.ingested"})


def _listed(value: t.Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [v for v in value if isinstance(v, str) and v]


def rule_reads(rule: Rule, compiled: t.Any) -> t.Optional[set[str]]:
    """The fields `rule` (compiled as `compiled`, a CompiledQuery) reads before alerting, or None when unknown."""
    from vigil.io.projection import query_fields

    if rule.exceptions_list:
        return None  # exception entries name fields of their own, in lists this module does not read
    fields = query_fields(compiled.query, compiled.category_field, getattr(compiled, "timestamp_field", None),
                          getattr(compiled, "tiebreaker_field", None))
    fields.update(_listed(rule.timestamp_override))
    try:
        if rule.type == "threshold":
            spec = query_rule.threshold_spec(rule)
            fields.update(spec.fields)
            fields.update(name for name, _value in spec.cardinality)
        elif rule.type == "new_terms":
            fields.update(query_rule.new_terms_spec(rule)[0])
    except VigilError:
        return None  # the rule reports its own error when it runs
    if rule.alert_suppression:
        fields.update(_listed(rule.alert_suppression.get("group_by")))
    return fields


def rules_read(pairs: t.Iterable[tuple[Rule, t.Any]]) -> t.Optional[frozenset[str]]:
    """The union of `rule_reads` over (rule, compiled) pairs plus `ALWAYS`, or None when any rule needs everything."""
    out: set[str] = set(ALWAYS)
    for rule, compiled in pairs:
        fields = rule_reads(rule, compiled)
        if fields is None:
            return None
        out |= fields
    return frozenset(out)
