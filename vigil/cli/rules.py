"""`vigil rules ...`: list, show, validate, import, export, enable, disable, diff and coverage of detection rules."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import typing as t
from pathlib import Path

import click
import orjson
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from vigil.cli.common import rule_dirs_options
from vigil.config import Config, load_config
from vigil.errors import Location, RuleError
from vigil.paths import rules_dir
from vigil.rules import registry
from vigil.rules.diff import MISSING, diff_rules
from vigil.rules.loader import LoadResult, load_rules
from vigil.rules.model import Rule
from vigil.rules.ndjson_io import dumps_export, to_api
from vigil.rules.schema import SCHEMAS_ENV, FieldSchema, load_field_schema
from vigil.rules.toml_io import dumps_document
from vigil.rules.validate import eql_available

SCHEMAS_OPTION = click.option(
    "--schemas",
    "schemas_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=SCHEMAS_ENV,
    help=f"Directory of field definitions (ECS, Beats, Endgame) to check query fields against [env {SCHEMAS_ENV}].",
)
DIRS_OPTION = rule_dirs_options


def _console(err: bool = False) -> Console:
    return Console(stderr=err, soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def _schema(directory: t.Optional[Path], quiet: bool = False) -> t.Optional[FieldSchema]:
    if directory is None:
        if not quiet:
            click.echo(f"note: query fields not checked (no schemas; use --schemas DIR or {SCHEMAS_ENV})", err=True)
        return None
    return load_field_schema(directory)


def _report(result: LoadResult, show_warnings: bool = True) -> None:
    for diagnostic in result.diagnostics:
        if diagnostic.level == "error" or show_warnings:
            click.echo(str(diagnostic), err=True)


def _summary(result: LoadResult) -> str:
    by_type = ", ".join(f"{k} {v}" for k, v in result.counts_by_type().items())
    return (
        f"{len(result.rules)} rule(s) valid"
        + (f" ({by_type})" if by_type else "")
        + f", {len(result.errors)} error(s), {len(result.warnings)} warning(s) in {result.files} file(s)"
    )


def register(group: click.Group) -> None:
    group.add_command(rules)


@click.group()
def rules() -> None:
    """Detection rules: the built-in ones, imported ones, and rule files (detection-rules TOML, Kibana NDJSON).

    A REF is builtin:<rule_id>, a rule_id or a unique prefix of one, or a rule file.

    \b
    Examples:
      vigil rules list
      vigil rules show 0d69150b
      vigil rules validate ../shared/rules/elastic/linux/
      vigil rules import ../shared/rules/elastic/linux/
      vigil rules disable 0d69150b
      vigil rules test --all --failures
    """


@rules.command("list")
@DIRS_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule instead of a table.")
def list_rules(extra_dirs: tuple[Path, ...], as_json: bool) -> None:
    """List every known rule: id, name, type, severity, enabled, source.

    Known rules: built-in, imported (`vigil rules import`), [rules] dirs of the configuration and --dir. "enabled"
    is what `vigil run` uses: [rules] enabled/disabled of the configuration first, then `vigil rules enable/disable`,
    then the rule file.
    """
    result = registry.load_registry_result(extra_dirs)
    _report(result, show_warnings=False)
    config = _config()
    result.rules = [dataclasses.replace(r, enabled=config.rule_enabled(r.rule_id, r.enabled)) for r in result.rules]
    ordered = sorted(result.rules, key=lambda r: (r.name.lower(), r.rule_id))
    if as_json:
        for r in ordered:
            row = {"rule_id": r.rule_id, "name": r.name, "type": r.type, "severity": r.severity,
                   "enabled": r.enabled, "source": r.source, "location": r.location}
            click.echo(orjson.dumps(row).decode())
        return
    table = Table(title=f"{len(ordered)} rule(s)", title_justify="left")
    for column in ("id", "name", "type", "severity", "enabled", "source"):
        # the id is what every other command takes: keep it on one line, whole
        table.add_column(column, overflow="fold", no_wrap=column == "id", min_width=36 if column == "id" else None)
    for r in ordered:
        runnable = "" if r.runnable else " (not runnable)"
        table.add_row(r.rule_id, r.name, r.type + runnable, r.severity, "yes" if r.enabled else "no", r.source)
    _console().print(table)


@rules.command("show")
@click.argument("ref")
@DIRS_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "toml", "json"]), default="text", show_default=True)
def show(ref: str, extra_dirs: tuple[Path, ...], fmt: str) -> None:
    """Show every field of a rule (REF: builtin:<id>, a rule_id or its prefix, or a rule file)."""
    rule = registry.resolve_rule(ref, extra_dirs)
    if fmt == "toml":
        click.echo(dumps_document(rule.to_document()), nl=False)
        return
    if fmt == "json":
        click.echo(orjson.dumps(to_api(rule.document), option=orjson.OPT_INDENT_2).decode())
        return
    console = _console()
    console.print(f"[bold]{rule.name}[/bold]  ({rule.rule_id})")
    head = Table.grid(padding=(0, 2))
    head.add_column(style="cyan", no_wrap=True)
    head.add_column(overflow="fold")
    body = rule.document.get("rule", {})
    shown = {"name", "rule_id", "note", "setup", "threat"}
    effective = {"enabled": rule.enabled, "source": rule.source, "location": rule.location or "",
                 "interval": rule.interval, "from": rule.from_, "to": rule.to, "max_signals": rule.max_signals}
    for key, value in effective.items():
        head.add_row(key, str(value) + ("" if key in body or key in ("enabled", "source", "location") else
                                          "  (default)"))
    for key, value in body.items():
        if key in shown or key in effective:
            continue
        head.add_row(key, _plain(value))
    for key, value in (rule.document.get("metadata") or {}).items():
        head.add_row(f"metadata.{key}", _plain(value))
    console.print(head)
    for threat in rule.threat:
        tactic = f"{threat.tactic.id} {threat.tactic.name}" if threat.tactic else "(no tactic)"
        techniques = "; ".join(
            f"{tech.id} {tech.name}" + "".join(f" / {s.id} {s.name}" for s in tech.subtechnique)
            for tech in threat.technique
        )
        console.print(f"[cyan]threat[/cyan]  {threat.framework}: {tactic} - {techniques or '(no technique)'}")
    for title, text in (("Investigation guide", rule.note), ("Setup", rule.setup)):
        if text:
            console.rule(title)
            console.print(Markdown(text))


def _plain(value: t.Any) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(v.strip() for v in value) if value else "[]"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return str(value).strip()


@rules.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@SCHEMAS_OPTION
@click.option("--quiet", "-q", is_flag=True, help="Errors only (no warnings).")
def validate(paths: tuple[Path, ...], schemas_dir: t.Optional[Path], quiet: bool) -> None:
    """Check rule files, directories or Kibana exports; every problem is located. Exit 2 if any is invalid."""
    schema = _schema(schemas_dir)
    if not eql_available():
        click.echo("note: EQL queries not checked (the EQL parser is not available in this build)", err=True)
    result = LoadResult()
    for path in paths:
        result.extend(load_rules(path, schema=schema))
    _report(result, show_warnings=not quiet)
    click.echo(_summary(result))
    if result.errors:
        sys.exit(2)


@rules.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@SCHEMAS_OPTION
def import_rules(paths: tuple[Path, ...], schemas_dir: t.Optional[Path]) -> None:
    """Copy valid rules (TOML file/dir or Kibana NDJSON export) into vigil's rules directory. Exit 2 on errors."""
    schema = _schema(schemas_dir, quiet=True)
    target = rules_dir()
    result = LoadResult()
    for path in paths:
        result.extend(load_rules(path, schema=schema))
    _report(result, show_warnings=False)
    existing = {r.rule_id: Path(r.location) for r in load_rules(target).rules if r.location}
    written = 0
    for rule in result.rules:
        destination = existing.get(rule.rule_id) or _free_name(target, rule)
        if rule.location and rule.location.endswith(".toml"):
            shutil.copyfile(rule.location, destination)  # keep the file as written, comments included
        else:
            destination.write_text(dumps_document(rule.to_document()), encoding="utf-8")
        existing[rule.rule_id] = destination
        written += 1
    click.echo(f"imported {written} rule(s) into {target}; {len(result.errors)} error(s)")
    if result.errors:
        sys.exit(2)


def _free_name(directory: Path, rule: Rule) -> Path:
    stem = Path(rule.location).stem if rule.location and rule.location.endswith(".toml") else rule.rule_id
    candidate = directory / f"{stem}.toml"
    if candidate.exists():
        candidate = directory / f"{stem}-{rule.rule_id[:8]}.toml"
    return candidate


@rules.command("export")
@click.argument("refs", nargs=-1)
@DIRS_OPTION
@click.option("--format", "fmt", type=click.Choice(["ndjson", "toml"]), default="ndjson", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path),
              help="NDJSON: file to write (default stdout). TOML: directory for one file per rule.")
def export(refs: tuple[str, ...], extra_dirs: tuple[Path, ...], fmt: str, output: t.Optional[Path]) -> None:
    """Export rules (all, or REFs) as a Kibana import NDJSON or as detection-rules TOML files."""
    chosen = [registry.resolve_rule(ref, extra_dirs) for ref in refs] or registry.load_registry(extra_dirs)
    if fmt == "ndjson":
        data = dumps_export(r.document for r in chosen)
        if output:
            output.write_bytes(data)
            click.echo(f"exported {len(chosen)} rule(s) to {output}", err=True)
        else:
            click.echo(data.decode(), nl=False)
        return
    if output is None:
        if len(chosen) != 1:
            raise RuleError("TOML export of several rules needs --output DIR", Location(key="--output"))
        click.echo(dumps_document(chosen[0].to_document()), nl=False)
        return
    output.mkdir(parents=True, exist_ok=True)
    for rule in chosen:
        stem = Path(rule.location).stem if rule.location and rule.location.endswith(".toml") else rule.rule_id
        (output / f"{stem}.toml").write_text(dumps_document(rule.to_document()), encoding="utf-8")
    click.echo(f"exported {len(chosen)} rule(s) to {output}", err=True)


def _toggle(refs: tuple[str, ...], extra_dirs: tuple[Path, ...], enabled: bool) -> None:
    chosen = [registry.resolve_rule(ref, extra_dirs) for ref in refs]
    registry.set_enabled([r.rule_id for r in chosen], enabled)
    config = _config()
    for rule in chosen:
        click.echo(f"{'enabled' if enabled else 'disabled'} {rule.label}")
        if config.rule_enabled(rule.rule_id, enabled) != enabled:
            # the configuration file wins over this state: say so rather than let `vigil run` surprise the user
            key = "disabled" if enabled else "enabled"
            verb = "disables" if enabled else "enables"
            click.echo(f"note: [rules] {key} in {config.path} still {verb} it for `vigil run`", err=True)


def _config() -> Config:
    """The configuration named by the running command's --config (its rule state wins over the state file)."""
    return load_config(click.get_current_context().params.get("config_path"))


@rules.command("enable")
@click.argument("refs", nargs=-1, required=True)
@DIRS_OPTION
def enable(refs: tuple[str, ...], extra_dirs: tuple[Path, ...]) -> None:
    """Enable rules (state kept in the data directory)."""
    _toggle(refs, extra_dirs, True)


@rules.command("disable")
@click.argument("refs", nargs=-1, required=True)
@DIRS_OPTION
def disable(refs: tuple[str, ...], extra_dirs: tuple[Path, ...]) -> None:
    """Disable rules (state kept in the data directory)."""
    _toggle(refs, extra_dirs, False)


@rules.command("diff")
@click.argument("left")
@click.argument("right")
@click.option("--no-metadata", is_flag=True, help="Compare the [rule] table only.")
def diff(left: str, right: str, no_metadata: bool) -> None:
    """Field-by-field difference between two rules (builtin:<id>, rule_id, or rule file). Exit 1 if they differ."""
    a, b = registry.resolve_rule(left), registry.resolve_rule(right)
    changes = diff_rules(a, b, include_metadata=not no_metadata)
    if not changes:
        click.echo("no differences")
        return
    table = Table(title=f"{a.label}: {a.location or a.source}  vs  {b.location or b.source}", title_justify="left")
    for column in ("field", "left", "right"):
        table.add_column(column, overflow="fold")
    for change in changes:
        left_text, right_text = _side(change.left), _side(change.right)
        if change.added or change.removed:
            right_text += "".join(f"\n+ {v}" for v in change.added) + "".join(f"\n- {v}" for v in change.removed)
        table.add_row(change.key, left_text, right_text)
    _console().print(table)
    sys.exit(1)


def _side(value: t.Any) -> str:
    if value is MISSING:
        return "(absent)"
    return _plain(value)


from vigil.cli.rules_test import register_rules_extras; register_rules_extras()  # noqa: E402,E702 (rules test/coverage)
