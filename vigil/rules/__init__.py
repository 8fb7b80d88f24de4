"""Detection rules: the model, TOML/NDJSON loading and export, validation, the built-in rules and the registry.

    load_rule_file(path) -> Rule                      strict: raises the first located error
    load_rule_dir(path, collect_errors=True) -> LoadResult   rules + every diagnostic
    load_rules(path) -> LoadResult                    a TOML file, a directory, or a Kibana export (.ndjson)
    builtin_rules() -> list[Rule]                     rules shipped with vigil (Nping Process Activity v209)
    load_registry(extra_dirs=()) -> list[Rule]        built-ins + imported + configured, with enabled state
"""

from __future__ import annotations

from vigil.rules.loader import LoadResult, load_ndjson, load_rule_dir, load_rule_file, load_rules
from vigil.rules.model import Rule, Subtechnique, Tactic, Technique, Threat
from vigil.rules.registry import builtin_rules, load_registry, resolve_rule

__all__ = [
    "LoadResult", "Rule", "Subtechnique", "Tactic", "Technique", "Threat", "builtin_rules", "load_ndjson",
    "load_registry", "load_rule_dir", "load_rule_file", "load_rules", "resolve_rule",
]
