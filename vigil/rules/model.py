"""The rule model: one frozen `Rule` per detection rule, typed where the engine needs it, lossless everywhere.

`Rule.document` is the complete original mapping (`{"metadata": {...}, "rule": {...}, "transform": {...}}` for a
TOML file; the same shape for a rule imported from Kibana NDJSON), so exporting never drops a key vigil does not
model. The typed attributes are read from it once, with Kibana's defaults applied (interval 5m, from now-6m, to now,
max_signals 100). `location` is the file the rule came from and `key_lines` the line of each key in it, so any later
error can point at `file:line [rule.key]`.

Treat the mappings held by a Rule as read-only; `to_document()` hands out a deep copy to edit.
"""

from __future__ import annotations

import copy
import typing as t
from dataclasses import dataclass, field

from vigil.errors import Location
from vigil.rules.keyspec import DEFAULTS, RUNNABLE_TYPES


@dataclass(frozen=True, slots=True)
class Tactic:
    id: str
    name: str
    reference: str = ""


@dataclass(frozen=True, slots=True)
class Subtechnique:
    id: str
    name: str
    reference: str = ""


@dataclass(frozen=True, slots=True)
class Technique:
    id: str
    name: str
    reference: str = ""
    subtechnique: tuple[Subtechnique, ...] = ()


@dataclass(frozen=True, slots=True)
class Threat:
    """One `[[rule.threat]]` entry: a framework (MITRE ATT&CK / ATLAS), its tactic, techniques and subtechniques."""

    framework: str
    tactic: t.Optional[Tactic]
    technique: tuple[Technique, ...] = ()


def _mapping() -> t.Any:
    return field(default_factory=dict, hash=False, repr=False)


@dataclass(frozen=True)
class Rule:
    """A detection rule. Build it with `Rule.from_document` (after validation, see `vigil.rules.loader`)."""

    rule_id: str
    name: str
    description: str
    type: str
    severity: str
    risk_score: int
    language: t.Optional[str] = None
    query: t.Optional[str] = None
    index: tuple[str, ...] = ()
    data_view_id: t.Optional[str] = None
    interval: str = DEFAULTS["interval"]
    from_: str = DEFAULTS["from"]
    to: str = DEFAULTS["to"]
    max_signals: int = DEFAULTS["max_signals"]
    enabled: bool = True
    timestamp_override: t.Optional[str] = None
    timestamp_override_fallback_disabled: bool = False
    event_category_override: t.Optional[str] = None
    tiebreaker_field: t.Optional[str] = None
    timestamp_field: t.Optional[str] = None
    building_block_type: t.Optional[str] = None
    rule_name_override: t.Optional[str] = None
    threat: tuple[Threat, ...] = ()
    note: t.Optional[str] = None
    setup: t.Optional[str] = None
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    false_positives: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    license: t.Optional[str] = None
    version: t.Optional[int] = None
    exceptions_list: tuple[t.Mapping[str, t.Any], ...] = field(default=(), hash=False)
    filters: tuple[t.Mapping[str, t.Any], ...] = field(default=(), hash=False)
    alert_suppression: t.Optional[t.Mapping[str, t.Any]] = field(default=None, hash=False)
    investigation_fields: t.Optional[t.Mapping[str, t.Any]] = field(default=None, hash=False)
    new_terms: t.Optional[t.Mapping[str, t.Any]] = field(default=None, hash=False)
    threshold: t.Optional[t.Mapping[str, t.Any]] = field(default=None, hash=False)
    severity_mapping: tuple[t.Mapping[str, t.Any], ...] = field(default=(), hash=False)
    risk_score_mapping: tuple[t.Mapping[str, t.Any], ...] = field(default=(), hash=False)
    related_integrations: tuple[t.Mapping[str, t.Any], ...] = field(default=(), hash=False)
    required_fields: tuple[t.Mapping[str, t.Any], ...] = field(default=(), hash=False)
    actions: tuple[t.Mapping[str, t.Any], ...] = field(default=(), hash=False)
    throttle: t.Optional[str] = None
    notify_when: t.Optional[str] = None
    response_actions: tuple[t.Mapping[str, t.Any], ...] = field(default=(), hash=False)
    metadata: t.Mapping[str, t.Any] = _mapping()
    document: t.Mapping[str, t.Any] = _mapping()
    location: t.Optional[str] = None
    key_lines: t.Mapping[str, int] = field(default_factory=dict, hash=False, repr=False, compare=False)
    source: str = "file"  # builtin | imported | file | ndjson | configured

    # ----------------------------------------------------------------------------------------------- building
    @classmethod
    def from_document(
        cls,
        document: t.Mapping[str, t.Any],
        location: t.Optional[str] = None,
        key_lines: t.Optional[t.Mapping[str, int]] = None,
        source: str = "file",
    ) -> "Rule":
        """Build from a `{metadata, rule, transform}` mapping that passed validation (missing keys get defaults)."""
        r = document.get("rule") or {}
        return cls(
            rule_id=str(r.get("rule_id", "")),
            name=str(r.get("name", "")),
            description=str(r.get("description", "")),
            type=str(r.get("type", "")),
            severity=str(r.get("severity", "")),
            risk_score=int(r.get("risk_score", 0)),
            language=r.get("language"),
            query=r.get("query"),
            index=tuple(r.get("index") or ()),
            data_view_id=r.get("data_view_id"),
            interval=r.get("interval", DEFAULTS["interval"]),
            from_=r.get("from", DEFAULTS["from"]),
            to=r.get("to", DEFAULTS["to"]),
            max_signals=int(r.get("max_signals", DEFAULTS["max_signals"])),
            enabled=bool(r.get("enabled", True)),
            timestamp_override=r.get("timestamp_override"),
            timestamp_override_fallback_disabled=bool(r.get("timestamp_override_fallback_disabled", False)),
            event_category_override=r.get("event_category_override"),
            tiebreaker_field=r.get("tiebreaker_field"),
            timestamp_field=r.get("timestamp_field"),
            building_block_type=r.get("building_block_type"),
            rule_name_override=r.get("rule_name_override"),
            threat=tuple(_threat(x) for x in r.get("threat") or () if isinstance(x, dict)),
            note=r.get("note"),
            setup=r.get("setup"),
            references=tuple(r.get("references") or ()),
            tags=tuple(r.get("tags") or ()),
            false_positives=tuple(r.get("false_positives") or ()),
            author=tuple(r.get("author") or ()),
            license=r.get("license"),
            version=r.get("version"),
            exceptions_list=tuple(r.get("exceptions_list") or ()),
            filters=tuple(r.get("filters") or ()),
            alert_suppression=r.get("alert_suppression"),
            investigation_fields=r.get("investigation_fields"),
            new_terms=r.get("new_terms"),
            threshold=r.get("threshold"),
            severity_mapping=tuple(r.get("severity_mapping") or ()),
            risk_score_mapping=tuple(r.get("risk_score_mapping") or ()),
            related_integrations=tuple(r.get("related_integrations") or ()),
            required_fields=tuple(r.get("required_fields") or ()),
            actions=tuple(r.get("actions") or ()),
            throttle=r.get("throttle"),
            notify_when=r.get("notify_when"),
            response_actions=tuple(r.get("response_actions") or ()),
            metadata=document.get("metadata") or {},
            document=document,
            location=location,
            key_lines=dict(key_lines or {}),
            source=source,
        )

    # ----------------------------------------------------------------------------------------------- queries
    @property
    def runnable(self) -> bool:
        """True when vigil can execute this rule: EQL, and the KQL types query, threshold and new_terms
        (`language = "kuery"`; Lucene is not supported). See `vigil.runs.query_rule.unsupported_reason`."""
        if self.type in ("query", "threshold", "new_terms"):
            return (self.language or "kuery") == "kuery"
        return self.type in RUNNABLE_TYPES

    @property
    def is_building_block(self) -> bool:
        return self.building_block_type is not None

    @property
    def primary_timestamp(self) -> str:
        """The field the run window filters on (Kibana: `timestamp_override` else `@timestamp`)."""
        return self.timestamp_override or "@timestamp"

    @property
    def secondary_timestamp(self) -> t.Optional[str]:
        """`@timestamp` as fallback when an override is set and the fallback is not disabled (kibana-engine §3)."""
        if self.timestamp_override and self.timestamp_override != "@timestamp":
            return None if self.timestamp_override_fallback_disabled else "@timestamp"
        return None

    def to_document(self) -> dict[str, t.Any]:
        """A deep copy of the complete original mapping (safe to edit)."""
        return copy.deepcopy(dict(self.document))

    def location_of(self, key: str) -> Location:
        """Where `key` (e.g. `rule.query`, `rule.threat[0].tactic.id`) is written: the nearest known line."""
        probe = key
        while probe:
            if probe in self.key_lines:
                return Location(path=self.location, line=self.key_lines[probe], key=key)
            probe = _parent_key(probe)
        return Location(path=self.location, key=key)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.rule_id})"


def _parent_key(key: str) -> str:
    if key.endswith("]"):
        return key[: key.rindex("[")]
    return key.rpartition(".")[0]


def _threat(entry: t.Mapping[str, t.Any]) -> Threat:
    tactic = entry.get("tactic")
    return Threat(
        framework=str(entry.get("framework", "")),
        tactic=Tactic(str(tactic.get("id", "")), str(tactic.get("name", "")), str(tactic.get("reference", "")))
        if isinstance(tactic, dict)
        else None,
        technique=tuple(
            Technique(
                str(tech.get("id", "")),
                str(tech.get("name", "")),
                str(tech.get("reference", "")),
                tuple(
                    Subtechnique(str(s.get("id", "")), str(s.get("name", "")), str(s.get("reference", "")))
                    for s in tech.get("subtechnique") or ()
                    if isinstance(s, dict)
                ),
            )
            for tech in entry.get("technique") or ()
            if isinstance(tech, dict)
        ),
    )
