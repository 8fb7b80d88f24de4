"""The `kibana.alert.rule.*` fields and `kibana.alert.rule.parameters` of an alert, from a rule object.

The rule is duck-typed (`vigil.rules.model.Rule` or any object with the same attributes): rule_id, name, description,
type, language, query, index, severity, risk_score, threat, references, tags, version, author, license, interval,
from_, to, max_signals, note, setup, building_block_type, timestamp_override; optional: false_positives, enabled,
immutable, exceptions_list, risk_score_mapping, severity_mapping, related_integrations, required_fields, filters,
event_category_override, timestamp_field, tiebreaker_field, timestamp_override_fallback_disabled, namespace, meta,
rule_name_override, timeline_id, timeline_title, investigation_fields, created_at, updated_at, created_by, updated_by.

Field lists and their order follow Kibana's `buildAlertFields` and `commonParamsCamelToSnake` (K7). A value Kibana
would leave `undefined` is omitted (JSON has no undefined); `null` is kept.
"""

from __future__ import annotations

import dataclasses
import typing as t

import orjson

from vigil.alerts.ids import rule_uuid as derive_rule_uuid
from vigil.alerts.times import to_iso

# Framework constants of the EQL rule type (K18, K12).
RULE_TYPE_ID = "siem.eqlRule"
RULE_CATEGORY = "Event Correlation Rule"
PRODUCER = "siem"
CONSUMER = "siem"

_UNSET = object()


def plain(value: t.Any) -> t.Any:
    """A JSON-ready copy of a rule value: dataclasses and `to_dict()` objects become dicts, tuples become lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name.rstrip("_"): plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return plain(value.to_dict())
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, t.Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return to_iso(value)


def attr(rule: t.Any, name: str, default: t.Any = None) -> t.Any:
    """`rule.<name>`, plain; `default` when absent or None."""
    value = getattr(rule, name, None)
    return default if value is None else plain(value)


def rule_uuid_of(rule: t.Any) -> str:
    """The rule's saved-object id: its own `uuid`/`id` attribute if it has one, else derived from `rule_id`."""
    for name in ("uuid", "saved_object_id"):
        value = getattr(rule, name, None)
        if isinstance(value, str) and value:
            return value
    return derive_rule_uuid(str(rule.rule_id))


def _omit_unset(pairs: t.Iterable[tuple[str, t.Any]]) -> dict[str, t.Any]:
    return {k: v for k, v in pairs if v is not _UNSET}


def _opt(rule: t.Any, name: str) -> t.Any:
    value = getattr(rule, name, None)
    return _UNSET if value is None else plain(value)


def is_prebuilt(rule: t.Any) -> bool:
    """Kibana's `immutable`: true for rules installed from Elastic's prebuilt package.

    vigil has no package install step; a rule that says so itself (`immutable`) decides, else a rule authored by
    Elastic under the Elastic License v2 (every prebuilt rule, and no user rule in practice) counts as prebuilt.
    """
    own = getattr(rule, "immutable", None)
    if isinstance(own, bool):
        return own
    author = attr(rule, "author", [])
    return "Elastic" in author and attr(rule, "license") == "Elastic License v2"


def threat_value(rule: t.Any) -> list[dict[str, t.Any]]:
    """`threat` as Kibana stores it: keys a TOML rule leaves out (no subtechnique, no tactic) stay out."""
    out = []
    for entry in attr(rule, "threat", []):
        entry = {k: v for k, v in entry.items() if v is not None}
        techniques = []
        for technique in entry.get("technique", []) or []:
            technique = {k: v for k, v in technique.items() if not (k == "subtechnique" and not v)}
            techniques.append(technique)
        if "technique" in entry:
            entry["technique"] = techniques
        out.append(entry)
    return out


def _true_or_unset(rule: t.Any, name: str) -> t.Any:
    """A flag whose Kibana default is "not set": the model's `False` means absent."""
    return True if getattr(rule, name, None) is True else _UNSET


def _nonempty_or_unset(rule: t.Any, name: str) -> t.Any:
    value = attr(rule, name)
    return value if value else _UNSET


# Rules are immutable once loaded, and every alert of a rule carries the same parameters: build them once per rule
# object and hand each alert its own copy (decoded from JSON, much cheaper than rebuilding or deep-copying).
_PARAMS_CACHE: dict[int, tuple[t.Any, bytes]] = {}


def rule_parameters(rule: t.Any) -> dict[str, t.Any]:
    """`kibana.alert.rule.parameters`: the rule's params in snake_case (common + EQL-specific, minus output_index)."""
    cached = _PARAMS_CACHE.get(id(rule))
    if cached is None or cached[0] is not rule:
        if len(_PARAMS_CACHE) > 4096:
            _PARAMS_CACHE.clear()
        cached = _PARAMS_CACHE[id(rule)] = (rule, orjson.dumps(_rule_parameters(rule)))
    return orjson.loads(cached[1])


def _rule_parameters(rule: t.Any) -> dict[str, t.Any]:
    immutable = is_prebuilt(rule)
    rule_source = attr(rule, "rule_source") or (
        {"type": "external", "is_customized": False} if immutable else {"type": "internal"}
    )
    common = _omit_unset(
        [
            ("description", attr(rule, "description", "")),
            ("risk_score", attr(rule, "risk_score")),
            ("severity", attr(rule, "severity")),
            ("building_block_type", _opt(rule, "building_block_type")),
            ("namespace", _opt(rule, "namespace")),
            ("note", _opt(rule, "note")),
            ("license", _opt(rule, "license")),
            ("timeline_id", _opt(rule, "timeline_id")),
            ("timeline_title", _opt(rule, "timeline_title")),
            ("meta", _nonempty_or_unset(rule, "meta")),
            ("rule_name_override", _opt(rule, "rule_name_override")),
            ("timestamp_override", _opt(rule, "timestamp_override")),
            ("timestamp_override_fallback_disabled", _true_or_unset(rule, "timestamp_override_fallback_disabled")),
            ("investigation_fields", _nonempty_or_unset(rule, "investigation_fields")),
            ("author", attr(rule, "author", [])),
            ("false_positives", attr(rule, "false_positives", [])),
            ("from", attr(rule, "from_", "now-6m")),
            ("rule_id", attr(rule, "rule_id")),
            ("max_signals", attr(rule, "max_signals", 100)),
            ("risk_score_mapping", attr(rule, "risk_score_mapping", [])),
            ("severity_mapping", attr(rule, "severity_mapping", [])),
            ("threat", threat_value(rule)),
            ("to", attr(rule, "to", "now")),
            ("references", attr(rule, "references", [])),
            ("version", attr(rule, "version", 1)),
            ("exceptions_list", attr(rule, "exceptions_list", [])),
            ("immutable", immutable),
            ("rule_source", rule_source),
            ("related_integrations", attr(rule, "related_integrations", [])),
            ("required_fields", attr(rule, "required_fields", [])),
            ("setup", attr(rule, "setup", "")),
        ]
    )
    specific = _omit_unset(
        [
            ("type", attr(rule, "type", "eql")),
            ("language", attr(rule, "language", "eql")),
            ("index", _opt(rule, "index")),
            ("data_view_id", _opt(rule, "data_view_id")),
            ("query", attr(rule, "query", "")),
            ("filters", _nonempty_or_unset(rule, "filters")),
            ("event_category_override", _opt(rule, "event_category_override")),
            ("timestamp_field", _opt(rule, "timestamp_field")),
            ("tiebreaker_field", _opt(rule, "tiebreaker_field")),
            ("alert_suppression", _nonempty_or_unset(rule, "alert_suppression")),
        ]
    )
    return {**common, **specific}


def rule_alert_fields(
    rule: t.Any, *, rule_uuid: str, indices: list[str], created_at: str, params: dict[str, t.Any]
) -> dict[str, t.Any]:
    """The `kibana.alert.rule.*` fields `buildAlertFields` writes (without severity/risk/reason, set by the caller)."""
    p = "kibana.alert.rule."
    fields = _omit_unset(
        [
            (p + "parameters", params),
            (p + "actions", attr(rule, "actions", [])),
            (p + "author", params.get("author", [])),
            (p + "created_at", attr(rule, "created_at", created_at)),
            (p + "created_by", attr(rule, "created_by", "")),
            (p + "description", params.get("description", "")),
            (p + "enabled", bool(attr(rule, "enabled", True))),
            (p + "exceptions_list", params.get("exceptions_list", [])),
            (p + "false_positives", params.get("false_positives", [])),
            (p + "from", params.get("from")),
            (p + "immutable", params.get("immutable", False)),
            (p + "interval", attr(rule, "interval", "5m")),
            (p + "indices", indices),
            (p + "license", params.get("license", _UNSET)),
            (p + "max_signals", params.get("max_signals")),
            (p + "name", attr(rule, "name", "")),
            (p + "namespace", params.get("namespace", _UNSET)),
            (p + "note", params.get("note", _UNSET)),
            (p + "references", params.get("references", [])),
            (p + "risk_score_mapping", params.get("risk_score_mapping", [])),
            (p + "rule_id", params.get("rule_id")),
            (p + "rule_name_override", params.get("rule_name_override", _UNSET)),
            (p + "severity_mapping", params.get("severity_mapping", [])),
            (p + "tags", attr(rule, "tags", [])),
            (p + "threat", params.get("threat", [])),
            (p + "throttle", _opt(rule, "throttle")),
            (p + "timeline_id", params.get("timeline_id", _UNSET)),
            (p + "timeline_title", params.get("timeline_title", _UNSET)),
            (p + "timestamp_override", params.get("timestamp_override", _UNSET)),
            (p + "to", params.get("to")),
            (p + "type", params.get("type")),
            (p + "updated_at", attr(rule, "updated_at", created_at)),
            (p + "updated_by", attr(rule, "updated_by", "")),
            (p + "uuid", rule_uuid),
            (p + "version", params.get("version")),
        ]
    )
    meta = params.get("meta")
    if isinstance(meta, dict):
        fields.update(_flatten_meta(p + "meta", meta))
    return fields


def _flatten_meta(prefix: str, obj: dict[str, t.Any]) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            out.update(_flatten_meta(f"{prefix}.{key}", value))
        else:
            out[f"{prefix}.{key}"] = value
    return out
