"""Kibana's rule export/import format (NDJSON) and the TOML ⇄ Kibana API conversion.

An export file holds one JSON object per line: rules (Kibana API format, snake_case), then exception lists, exception
items and action connectors, and a last summary line (`{"exported_count": ..., "exported_rules_count": ...}`).

TOML → API follows detection-rules `TOMLRuleContents.to_api_format()` for what matters to Kibana: the `[rule]` table
becomes the object, `[rule.new_terms]` becomes `new_terms_fields` + `history_window_start`, and the defaults Kibana
always exports are filled in. So that nothing is lost, everything the API has no place for (`[metadata]`,
`[transform]`, the list of defaults vigil added) travels in the rule's free-form `meta.vigil` object and is restored
on import: TOML → NDJSON → TOML gives back the same document.
"""

from __future__ import annotations

import copy
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from vigil.errors import Location, RuleError

VIGIL_META = "vigil"

# What Kibana puts in every exported rule when the rule itself does not say (kibana-engine.md §2, Kibana API).
API_DEFAULTS: dict[str, t.Any] = {
    "enabled": False,
    "interval": "5m",
    "from": "now-6m",
    "to": "now",
    "max_signals": 100,
    "version": 1,
    "revision": 0,
    "immutable": False,
    "rule_source": {"type": "internal"},
    "author": [],
    "references": [],
    "false_positives": [],
    "tags": [],
    "threat": [],
    "exceptions_list": [],
    "related_integrations": [],
    "required_fields": [],
    "risk_score_mapping": [],
    "severity_mapping": [],
    "setup": "",
    "actions": [],
}


def to_api(document: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The Kibana API object for a rule document (`{metadata, rule, transform}`)."""
    doc = copy.deepcopy(dict(document))
    obj: dict[str, t.Any] = doc.pop("rule", {})
    carried: dict[str, t.Any] = {"tables": doc, "added": []}
    new_terms = obj.get("new_terms")
    if isinstance(new_terms, dict) and new_terms.get("field") == "new_terms_fields":
        api_form = _new_terms_to_api(new_terms)
        if _new_terms_from_api(api_form) == new_terms:
            del obj["new_terms"]
            obj.update(api_form)
        # else: an unusual table shape; keep it as written rather than lose parts of it
    for key, value in API_DEFAULTS.items():
        if key not in obj:
            obj[key] = copy.deepcopy(value)
            carried["added"].append(key)
    if "meta" not in obj:
        obj["meta"] = {}
        carried["added"].append("meta")
    if isinstance(obj["meta"], dict):
        obj["meta"][VIGIL_META] = carried
    return obj


def from_api(obj: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A rule document from a Kibana API object (inverse of `to_api`; JSON nulls mean 'absent' and are dropped)."""
    rule = {k: v for k, v in copy.deepcopy(dict(obj)).items() if v is not None}
    tables: dict[str, t.Any] = {}
    meta = rule.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get(VIGIL_META), dict):
        carried = meta.pop(VIGIL_META)
        for key in carried.get("added", ()):
            rule.pop(key, None)
        tables = dict(carried.get("tables") or {})
    if "new_terms_fields" in rule:
        api_form = {"new_terms_fields": rule.pop("new_terms_fields")}
        api_form["history_window_start"] = rule.pop("history_window_start", None)
        rule["new_terms"] = _new_terms_from_api(api_form)
    document: dict[str, t.Any] = {}
    if "metadata" in tables:
        document["metadata"] = tables.pop("metadata")
    document["rule"] = rule
    document.update(tables)
    return document


def _new_terms_to_api(table: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {"new_terms_fields": table.get("value")}
    windows = table.get("history_window_start") or []
    if windows:
        out["history_window_start"] = windows[0].get("value")
    return out


def _new_terms_from_api(api: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    table: dict[str, t.Any] = {"field": "new_terms_fields", "value": api.get("new_terms_fields")}
    if api.get("history_window_start") is not None:
        table["history_window_start"] = [{"field": "history_window_start", "value": api["history_window_start"]}]
    return table


# ------------------------------------------------------------------------------------------------------ files
@dataclass
class NdjsonExport:
    """What an export file holds. `rules` are (line number, API object); `other` keeps non-rule objects."""

    rules: list[tuple[int, dict[str, t.Any]]] = field(default_factory=list)
    exception_lists: list[dict[str, t.Any]] = field(default_factory=list)
    exception_items: list[dict[str, t.Any]] = field(default_factory=list)
    connectors: list[dict[str, t.Any]] = field(default_factory=list)
    other: list[tuple[int, dict[str, t.Any]]] = field(default_factory=list)
    summary: t.Optional[dict[str, t.Any]] = None
    errors: list[RuleError] = field(default_factory=list)


def read_ndjson_export(path: Path) -> NdjsonExport:
    """Read a Kibana rule export. Bad lines become located errors; every good line is still read."""
    result = NdjsonExport()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RuleError(f"cannot read export file: {error.strerror or error}", Location(path=str(path))) from None
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            result.errors.append(RuleError(f"not valid JSON: {error}", Location(path=str(path), line=number)))
            continue
        if not isinstance(obj, dict):
            result.errors.append(
                RuleError("expected a JSON object on each line", Location(path=str(path), line=number))
            )
            continue
        if "exported_count" in obj or "exported_rules_count" in obj:
            result.summary = obj
        elif "item_id" in obj:
            result.exception_items.append(obj)
        elif "list_id" in obj and "rule_id" not in obj:
            result.exception_lists.append(obj)
        elif obj.get("type") == "action" and "attributes" in obj:
            result.connectors.append(obj)
        elif "rule_id" in obj or ("type" in obj and "name" in obj):
            result.rules.append((number, obj))
        else:
            result.other.append((number, obj))
    return result


def export_summary(rule_count: int) -> dict[str, t.Any]:
    """The last line of a Kibana rule export, for `rule_count` rules and nothing else."""
    return {
        "exported_count": rule_count,
        "exported_rules_count": rule_count,
        "missing_rules": [],
        "missing_rules_count": 0,
        "exported_exception_list_count": 0,
        "exported_exception_list_item_count": 0,
        "missing_exception_list_item_count": 0,
        "missing_exception_list_items": [],
        "missing_exception_lists": [],
        "missing_exception_lists_count": 0,
        "exported_action_connector_count": 0,
        "missing_action_connection_count": 0,
        "missing_action_connections": [],
        "excluded_action_connection_count": 0,
        "excluded_action_connections": [],
    }


def dumps_export(documents: t.Iterable[t.Mapping[str, t.Any]]) -> bytes:
    """NDJSON bytes of a Kibana rule export: one API object per rule, then the summary line."""
    lines = [orjson.dumps(to_api(doc)) for doc in documents]
    lines.append(orjson.dumps(export_summary(len(lines))))
    return b"\n".join(lines) + b"\n"
