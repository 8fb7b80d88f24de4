"""Helpers shared by the commands: the `--db` / `--config` options (one meaning everywhere), configuration → rules,
alert store and exception store.

Every command that touches the alert store or the exception lists resolves them the same way, so `vigil run` and
`vigil alerts list` (or `vigil exceptions add`) always agree on where things are: an explicit option first, then the
configuration file (`[store] path`, `[exceptions] dir`), then the data directory.
"""

from __future__ import annotations

import functools
import typing as t
from pathlib import Path

import click

from vigil.alerts import AlertStore
from vigil.config import Config, load_config
from vigil.errors import RuleError
from vigil.exceptions import ExceptionStore
from vigil.rules import builtin_rules, load_registry, resolve_rule
from vigil.rules.model import Rule

DB_HELP = "Alert store (SQLite). Default: [store] path of the configuration, else vigil.db in the data directory."
CONFIG_HELP = "Configuration file. Default: $VIGIL_CONFIG, else vigil.toml in the data directory (docs/config.md)."


def db_option(help: str = DB_HELP) -> t.Callable[[t.Callable[..., t.Any]], t.Callable[..., t.Any]]:
    """`--db FILE`, passed to the command as `db`."""
    return click.option("--db", "db", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path), help=help)


def config_option(help: str = CONFIG_HELP) -> t.Callable[[t.Callable[..., t.Any]], t.Callable[..., t.Any]]:
    """`--config FILE`, passed to the command as `config_path`."""
    return click.option("--config", "config_path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
                        help=help)


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
    """The store a writer (`run`, `hunt`) uses; created with its directory when missing."""
    path = db or config.store_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return AlertStore(path)


def open_existing_store(db: t.Optional[Path], config_path: t.Optional[Path]) -> AlertStore:
    """The store a reader (`alerts`, `respond`) uses: an explicit --db must exist (a typo should not silently start
    an empty store); otherwise the configured store, else the data directory's."""
    if db is not None:
        return AlertStore(db, create=False)
    return AlertStore(load_config(config_path).store_path)


def rule_dirs(extra_dirs: t.Iterable[Path], config_path: t.Optional[Path]) -> tuple[Path, ...]:
    """The rule folders a `vigil rules` command loads besides built-in and imported rules: [rules] dirs of the
    configuration, then `--dir` (later wins on a shared rule_id), the same set `vigil run` sees."""
    return (*load_config(config_path).rule_dirs, *extra_dirs)


def rule_dirs_options(function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """`--dir` (repeatable) and `--config` for the `vigil rules` commands; the command receives `extra_dirs` =
    [rules] dirs of the configuration + --dir, and can read `config_path` from the click context."""
    def with_dirs(*args: t.Any, config_path: t.Optional[Path] = None, extra_dirs: tuple[Path, ...] = (),
                  **kwargs: t.Any) -> t.Any:
        return function(*args, extra_dirs=rule_dirs(extra_dirs, config_path), **kwargs)

    functools.update_wrapper(with_dirs, function)
    with_config = config_option("Configuration file ([rules] dirs, enabled, disabled). Default: $VIGIL_CONFIG, "
                                "else vigil.toml in the data directory (docs/config.md).")(with_dirs)
    return click.option("--dir", "extra_dirs", multiple=True, type=click.Path(exists=True, path_type=Path),
                        help="Also load the rules in this directory or file (repeatable).")(with_config)


def exception_store(config: Config) -> ExceptionStore:
    return ExceptionStore(config.exceptions_dir)
