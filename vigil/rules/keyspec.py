"""What a detection-rules TOML file may contain: tables, keys, value types, required keys per rule type, defaults.

Source: elastic/detection-rules `detection_rules/rule.py` and `schemas/definitions.py` (as surveyed in
shared/docs/rules-corpus.md §4) plus the Kibana rule API fields that appear in a rule export (NDJSON). A key that is
not listed here is kept (nothing is lost) and reported as a warning, never an error.
"""

from __future__ import annotations

# Every rule type Kibana knows. Only these run in vigil; the rest load, validate and export, but are reported as
# unsupported when something asks to run them.
KNOWN_TYPES = ("eql", "query", "saved_query", "threshold", "threat_match", "machine_learning", "new_terms", "esql")
RUNNABLE_TYPES = frozenset({"eql"})

LANGUAGES = {
    "eql": ("eql",),
    "esql": ("esql",),
    "query": ("kuery", "lucene"),
    "saved_query": ("kuery", "lucene"),
    "threshold": ("kuery", "lucene"),
    "threat_match": ("kuery", "lucene"),
    "new_terms": ("kuery", "lucene"),
    "machine_learning": (),
}

SEVERITIES = ("low", "medium", "high", "critical")
MATURITIES = ("development", "experimental", "beta", "production", "deprecated")
BUILDING_BLOCK_TYPES = ("default",)

# Kibana's defaults for keys a rule may leave out (shared/docs/kibana-engine.md §2).
DEFAULTS = {"interval": "5m", "from": "now-6m", "to": "now", "max_signals": 100}

REQUIRED_ALWAYS = ("name", "description", "type", "risk_score", "severity", "rule_id")
REQUIRED_BY_TYPE = {
    "eql": ("query", "language"),
    "esql": ("query", "language"),
    "query": ("query",),
    "threshold": ("query", "threshold"),
    "new_terms": ("query", "new_terms"),
    "threat_match": ("query", "threat_index", "threat_query", "threat_mapping"),
    "saved_query": ("saved_id",),
    "machine_learning": ("anomaly_threshold", "machine_learning_job_id"),
}

STR, INT, BOOL, NUM = "string", "integer", "boolean", "number"
LIST_STR, LIST_TABLE, TABLE, STR_OR_LIST = "list of strings", "list of tables", "table", "string or list of strings"

# [rule] keys and the kind of value each holds.
RULE_KEYS: dict[str, str] = {
    # identity and documentation
    "rule_id": STR, "name": STR, "description": STR, "type": STR, "language": STR, "query": STR,
    "author": LIST_STR, "license": STR, "note": STR, "setup": STR, "references": LIST_STR, "tags": LIST_STR,
    "false_positives": LIST_STR, "version": INT, "revision": INT,
    # scoring
    "severity": STR, "risk_score": INT, "severity_mapping": LIST_TABLE, "risk_score_mapping": LIST_TABLE,
    "rule_name_override": STR, "building_block_type": STR,
    # where and when
    "index": LIST_STR, "data_view_id": STR, "interval": STR, "from": STR, "to": STR, "max_signals": INT,
    "enabled": BOOL, "timestamp_override": STR, "timestamp_override_fallback_disabled": BOOL,
    "event_category_override": STR, "tiebreaker_field": STR, "timestamp_field": STR, "filters": LIST_TABLE,
    "namespace": STR, "output_index": STR, "meta": TABLE,
    # correlation and exceptions
    "threat": LIST_TABLE, "exceptions_list": LIST_TABLE, "alert_suppression": TABLE,
    "investigation_fields": TABLE, "related_integrations": LIST_TABLE, "required_fields": LIST_TABLE,
    "timeline_id": STR, "timeline_title": STR,
    # actions
    "actions": LIST_TABLE, "throttle": STR, "notify_when": STR, "response_actions": LIST_TABLE,
    # type-specific
    "new_terms": TABLE, "new_terms_fields": LIST_STR, "history_window_start": STR,
    "threshold": TABLE, "saved_id": STR,
    "threat_index": LIST_STR, "threat_query": STR, "threat_mapping": LIST_TABLE, "threat_language": STR,
    "threat_filters": LIST_TABLE, "threat_indicator_path": STR, "concurrent_searches": INT, "items_per_search": INT,
    "anomaly_threshold": INT, "machine_learning_job_id": STR_OR_LIST,
}

# Fields Kibana adds to a rule it stores or exports. Accepted on import without a warning, kept verbatim.
KIBANA_SERVER_KEYS = frozenset({
    "id", "created_at", "created_by", "updated_at", "updated_by", "immutable", "rule_source", "execution_summary",
    "outcome", "alias_target_id", "alias_purpose", "license",
})

METADATA_KEYS: dict[str, str] = {
    "creation_date": STR, "updated_date": STR, "deprecation_date": STR, "maturity": STR,
    "integration": STR_OR_LIST, "min_stack_version": STR, "min_stack_comments": STR, "bypass_bbr_timing": BOOL,
    "promotion": BOOL, "comments": STR, "os_type_list": LIST_STR, "query_schema_validation": BOOL,
    "related_endpoint_rules": LIST_STR,
}

TOP_LEVEL_TABLES = ("metadata", "rule", "transform")

# Sub-structure keys that are checked (values kept whatever they are).
THREAT_KEYS = frozenset({"framework", "tactic", "technique"})
TECHNIQUE_KEYS = frozenset({"id", "name", "reference", "subtechnique"})
TACTIC_KEYS = frozenset({"id", "name", "reference"})
