"""Helpers shared by the commands that run rules (`run`, `hunt`, `watch`): configuration → rules, store, exceptions."""

from __future__ import annotations

import typing as t
from pathlib import Path

import click

from vigil.alerts import AlertStore
from vigil.config import Config
from vigil.errors import RuleError
from vigil.exceptions import ExceptionStore
from vigil.rules import builtin_rules, load_registry, resolve_rule
from vigil.rules.model import Rule


def select_rules(refs: t.Sequence[str], config: Config) -> list[Rule]:
    """The rules named by `--rule` (each ref: rule_id or prefix, file, `builtin`, `all`); default: enabled ones."""
    registry = load_registry(config.rule_dirs)
    enabled = [r for r in registry if config.rule_enabled(r.rule_id, r.enabled)]
    chosen: dict[str, Rule] = {}
    for ref in refs or ("all",):
        if ref == "all":
            found = enabled
        elif ref == "builtin":
            found = builtin_rules()
        else:
            found = [resolve_rule(ref, config.rule_dirs)]
        for rule in found:
            chosen.setdefault(rule.rule_id, rule)
    rules = list(chosen.values())
    skipped = [r for r in rules if not r.runnable]
    if skipped and refs and "all" not in refs:
        from vigil.runs.query_rule import unsupported_reason

        raise RuleError(f"rule type {skipped[0].type!r} is not run by vigil: {unsupported_reason(skipped[0])}",
                        skipped[0].location_of("rule.type"))
    if skipped:
        click.echo(f"note: {len(skipped)} rule(s) of types vigil does not run were skipped", err=True)
    return [r for r in rules if r.runnable]


def open_store(db: t.Optional[Path], config: Config) -> AlertStore:
    path = db or config.store_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return AlertStore(path)


def exception_store(config: Config) -> ExceptionStore:
    return ExceptionStore(config.exceptions_dir)
