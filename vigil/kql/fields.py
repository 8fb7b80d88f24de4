"""What vigil knows about a field's Elasticsearch type when it runs KQL without a mapping.

Kibana's detection engine builds KQL with an index pattern that has no fields (security_solution
`get_query_filter.ts`: `fields: []`), so Kibana itself never looks at types: it sends `match`, `match_phrase`,
`query_string`, `range` and `exists` queries and Elasticsearch applies each field's mapping. The result depends on
the mapping in exactly four ways that matter for detection rules; those are the only types told apart here:

- keyword (also wildcard, constant_keyword, numbers and booleans, which compare as vigil's semantics say): exact,
  case-sensitive values;
- text (`message`, `error.message`, and the `.text` multi-fields ECS puts under many keyword/wildcard fields):
  analysed into lower-cased words, a value matches a word;
- ip: a value is an address or a CIDR block (`destination.ip:10.0.0.0/8` is a network query);
- date (`vigil.eql.semantics.is_date_field`): values are instants.

Types come from ECS 9.5 (`ecs_flat.json`: the ip fields and the match_only_text fields); callers may pass their
own `{field: type}` for non-ECS fields.
"""

from __future__ import annotations

import typing as t

from vigil.eql import semantics as sem

__all__ = ["KEYWORD", "TEXT", "IP", "DATE", "resolve_field"]

KEYWORD, TEXT, IP, DATE = "keyword", "text", "ip", "date"

#: ECS 9.5 fields of type `ip`.
IP_FIELDS = frozenset({
    "client.ip", "client.nat.ip", "destination.ip", "destination.nat.ip", "dns.resolved_ip", "host.ip",
    "host.target.ip", "network.forwarded_ip", "observer.ip", "orchestrator.resource.ip",
    "process.entry_leader.entry_meta.source.ip", "related.ip", "server.ip", "server.nat.ip", "source.ip",
    "source.nat.ip", "threat.enrichments.indicator.ip", "threat.indicator.ip",
})

#: ECS 9.5 fields of type `match_only_text` (analysed text, no keyword form).
TEXT_FIELDS = frozenset({"message", "error.message"})

#: Real ECS fields whose name ends in `.text` (not a multi-field of their parent).
_NOT_MULTI_FIELDS = frozenset({"process.io.text"})

_TYPE_ALIASES = {
    "keyword": KEYWORD, "wildcard": KEYWORD, "constant_keyword": KEYWORD, "flattened": KEYWORD,
    "text": TEXT, "match_only_text": TEXT, "ip": IP, "date": DATE, "date_nanos": DATE,
}


def resolve_field(name: str, overrides: t.Optional[t.Mapping[str, str]] = None) -> tuple[str, str]:
    """(the path to read in a document, the type to match it as).

    A `.text` multi-field is not in `_source`: Elasticsearch indexes the parent's value a second time, analysed.
    So `process.command_line.text` reads `process.command_line` and matches it as text."""
    if overrides and name in overrides:
        return name, _TYPE_ALIASES.get(overrides[name], KEYWORD)
    if name in IP_FIELDS:
        return name, IP
    if name in TEXT_FIELDS:
        return name, TEXT
    if name.endswith(".text") and name not in _NOT_MULTI_FIELDS and len(name) > 5:
        return name[: -len(".text")], TEXT
    if sem.is_date_field(name):
        return name, DATE
    return name, KEYWORD
