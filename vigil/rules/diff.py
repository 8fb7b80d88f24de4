"""Field-by-field difference between two rules.

Both rules are compared as documents with Kibana's defaults applied (a rule that leaves out `interval` runs every
5m, so it does not differ from one that writes `interval = "5m"`). Tables are walked key by key and lists of tables
entry by entry (`rule.threat[1].tactic.id`), so the output names the exact field that changed; lists of plain values
(index, tags) are shown whole with what was added and removed.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from vigil.rules.keyspec import DEFAULTS
from vigil.rules.model import Rule


class _Missing:
    def __repr__(self) -> str:
        return "<absent>"


MISSING: t.Any = _Missing()


@dataclass(frozen=True)
class FieldDiff:
    key: str
    left: t.Any
    right: t.Any

    @property
    def added(self) -> list[t.Any]:
        """For lists of plain values: what the right side has that the left does not."""
        if isinstance(self.left, list) and isinstance(self.right, list):
            return [v for v in self.right if v not in self.left]
        return []

    @property
    def removed(self) -> list[t.Any]:
        if isinstance(self.left, list) and isinstance(self.right, list):
            return [v for v in self.left if v not in self.right]
        return []


def _effective(rule: Rule) -> dict[str, t.Any]:
    document = rule.to_document()
    body = document.setdefault("rule", {})
    for key, value in DEFAULTS.items():
        body.setdefault(key, value)
    return document


def diff_rules(left: Rule, right: Rule, include_metadata: bool = True) -> list[FieldDiff]:
    """Every field whose value differs, in a stable order (rule keys first, then metadata and other tables)."""
    a, b = _effective(left), _effective(right)
    if not include_metadata:
        a = {"rule": a.get("rule", {})}
        b = {"rule": b.get("rule", {})}
    out: list[FieldDiff] = []
    tables = ["rule"] + sorted((set(a) | set(b)) - {"rule"})
    for table in tables:
        _walk(table, a.get(table, MISSING), b.get(table, MISSING), out)
    return out


def _is_table_list(value: t.Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _walk(key: str, left: t.Any, right: t.Any, out: list[FieldDiff]) -> None:
    if left == right:
        return
    if isinstance(left, dict) and isinstance(right, dict):
        for sub in list(left) + [k for k in right if k not in left]:
            _walk(f"{key}.{sub}", left.get(sub, MISSING), right.get(sub, MISSING), out)
        return
    if _is_table_list(left) and _is_table_list(right):
        for i in range(max(len(left), len(right))):
            _walk(
                f"{key}[{i}]",
                left[i] if i < len(left) else MISSING,
                right[i] if i < len(right) else MISSING,
                out,
            )
        return
    out.append(FieldDiff(key, left, right))
