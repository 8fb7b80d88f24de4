"""The set of rules vigil knows: built-ins, rules imported into the data directory, and configured directories.

Later sources override earlier ones with the same rule_id (import the upstream Nping rule and it replaces the
built-in one). Enabled/disabled is persisted in a small JSON state file in the data directory, apart from the rule
files, so toggling a rule never rewrites it. Without a state entry a rule is enabled unless its file says
`enabled = false`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import typing as t
from importlib import resources
from pathlib import Path

from vigil.errors import ConfigError, Location, RuleError
from vigil.paths import data_dir, rules_dir
from vigil.rules.loader import LoadResult, load_rule_dir, load_rules
from vigil.rules.model import Rule
from vigil.rules.schema import FieldSchema

STATE_FILE = "rules-state.json"
BUILTIN_PREFIX = "builtin:"


def builtin_dir() -> Path:
    return Path(str(resources.files("vigil.rules") / "builtin"))


def builtin_rules() -> list[Rule]:
    """The rules shipped with vigil (strict: a broken built-in is a bug and raises)."""
    result = load_rule_dir(builtin_dir(), collect_errors=False, source="builtin")
    return result.rules


# ------------------------------------------------------------------------------------------------ enabled state
def state_path() -> Path:
    return data_dir() / STATE_FILE


def read_state() -> dict[str, t.Any]:
    path = state_path()
    if not path.exists():
        return {"enabled": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"rule state file is unreadable: {error}", Location(path=str(path))) from None
    if not isinstance(state, dict) or not isinstance(state.get("enabled", {}), dict):
        raise ConfigError("rule state file has an unexpected shape (expected {\"enabled\": {...}})",
                          Location(path=str(path)))
    state.setdefault("enabled", {})
    return state


def set_enabled(rule_ids: t.Iterable[str], enabled: bool) -> None:
    """Persist the enabled flag of each rule (atomically: a crash never leaves half a file)."""
    state = read_state()
    for rule_id in rule_ids:
        state["enabled"][rule_id] = enabled
    path = state_path()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rules-state.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------- registry
def load_registry_result(
    extra_dirs: t.Iterable[t.Union[str, Path]] = (), schema: t.Optional[FieldSchema] = None
) -> LoadResult:
    """All rules with their effective enabled state, and the diagnostics of files that did not load."""
    result = LoadResult()
    result.extend(LoadResult(rules=builtin_rules(), files=1))
    imported = rules_dir()
    result.extend(load_rules(imported, schema=schema, source="imported"))
    for directory in extra_dirs:
        result.extend(load_rules(Path(directory), schema=schema, source="configured"))
    by_id: dict[str, Rule] = {}
    for rule in result.rules:
        by_id[rule.rule_id] = rule  # later sources win
    overrides = read_state()["enabled"]
    result.rules = [
        dataclasses.replace(rule, enabled=bool(overrides[rule.rule_id])) if rule.rule_id in overrides else rule
        for rule in by_id.values()
    ]
    return result


def load_registry(
    extra_dirs: t.Iterable[t.Union[str, Path]] = (), schema: t.Optional[FieldSchema] = None
) -> list[Rule]:
    """Built-ins + imported + configured rules, each with its enabled state. Files with errors are left out."""
    return load_registry_result(extra_dirs, schema).rules


def resolve_rule(ref: str, extra_dirs: t.Iterable[t.Union[str, Path]] = ()) -> Rule:
    """A rule named by `builtin:<rule_id>`, a rule_id (or unique prefix) in the registry, or a rule file path."""
    if ref.startswith(BUILTIN_PREFIX):
        wanted = ref[len(BUILTIN_PREFIX):]
        return _pick([r for r in builtin_rules()], wanted, ref)
    path = Path(ref)
    if path.exists() and path.is_file():
        result = load_rules(path)
        if result.errors:
            raise result.errors[0].error
        if len(result.rules) != 1:
            raise RuleError(f"expected one rule, found {len(result.rules)}", Location(path=ref))
        return result.rules[0]
    if path.is_dir():
        raise RuleError("this is a directory; give one rule file, a rule_id or builtin:<rule_id>",
                        Location(path=ref))
    if _looks_like_path(ref):
        # a mistyped file name would otherwise read as "no rule" and hide the real problem
        raise RuleError("no such rule file", Location(path=ref),
                        hint="check the path (relative paths are from the current directory)")
    return _pick(load_registry(extra_dirs), ref, ref)


def _looks_like_path(ref: str) -> bool:
    return "/" in ref or ref.endswith((".toml", ".ndjson", ".json"))


def _pick(rules: list[Rule], wanted: str, ref: str) -> Rule:
    exact = [r for r in rules if r.rule_id == wanted]
    matches = exact or [r for r in rules if r.rule_id.startswith(wanted)] if wanted else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RuleError(f"no rule {ref!r} (give builtin:<rule_id>, a rule_id or a rule file)", Location(key=ref))
    names = ", ".join(r.label for r in matches[:5])
    raise RuleError(f"{ref!r} matches {len(matches)} rules: {names}", Location(key=ref))
