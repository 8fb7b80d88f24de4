"""`vigil rules test` (synthesize events that must fire each rule, and a near miss that must not) and
`vigil rules coverage` (what vigil can run, by type and status, and an ATT&CK Navigator layer of it).

Both are added to the `vigil rules` group by `register_rules_extras()`, called at the bottom of `vigil/cli/rules.py`.
"""

from __future__ import annotations

import collections
import sys
import typing as t
from pathlib import Path

import click
import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vigil.cli.common import rule_dirs_options
from vigil.config import load_config
from vigil.errors import Location, RuleError, VigilError
from vigil.rules import registry
from vigil.rules.loader import LoadResult, load_rules
from vigil.rules.model import Rule

DIRS_OPTION = rule_dirs_options  # --dir and --config, as on every `vigil rules` command


def _console() -> Console:
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 140)


def _gather(refs: t.Sequence[str], extra_dirs: t.Sequence[Path], use_registry: bool) -> tuple[list[Rule], LoadResult]:
    """Rules named by REFs (a rule ref, a TOML file, a directory or a Kibana export), or the whole registry."""
    result = LoadResult()
    if use_registry:
        result.extend(registry.load_registry_result(extra_dirs))
    for ref in refs:
        path = Path(ref)
        if path.exists():
            result.extend(load_rules(path))
        else:
            result.rules.append(registry.resolve_rule(ref, extra_dirs))
    for diagnostic in result.errors:
        click.echo(str(diagnostic), err=True)
    return result.rules, result


# ------------------------------------------------------------------------------------------------ rules test
@click.command("test")
@click.argument("refs", nargs=-1)
@click.option("--all", "all_rules", is_flag=True, help="Test every rule vigil knows (built-in, imported, --dir).")
@click.option("--show", is_flag=True, help="Print the synthesized events (NDJSON) of each rule.")
@click.option("--failures", "only_failures", is_flag=True, help="List only the rules that failed.")
@DIRS_OPTION
def test_command(refs: tuple[str, ...], all_rules: bool, show: bool, only_failures: bool,
                 extra_dirs: tuple[Path, ...]) -> None:
    """Prove each rule can fire: synthesize events that must match it and a near miss that must not, and run
    both through the engine. REFS: a rule_id (or prefix), builtin:<id>, a rule file, or a directory.
    Exit 1 if any runnable rule fails; rule types vigil does not synthesize are listed as skipped."""
    from vigil.rules.synth import CannotSynthesize, synthesize_rule
    from vigil.rules.synth_aggregate import AGGREGATE_TYPES, synthesize_aggregate

    if not refs and not all_rules:
        raise RuleError("name the rules to test (a rule_id, builtin:<id>, a file or a directory) or use --all",
                        Location(key="RULE"))
    chosen, _ = _gather(refs, extra_dirs, all_rules)
    table = Table(title_justify="left")
    for column in ("rule", "type", "positive", "negative", "detail"):
        table.add_column(column, overflow="fold")
    counts: collections.Counter[str] = collections.Counter()
    for rule in sorted(chosen, key=lambda r: r.name.lower()):
        try:
            result = synthesize_aggregate(rule) if rule.type in AGGREGATE_TYPES else synthesize_rule(rule)
        except CannotSynthesize as error:
            counts["skipped"] += 1
            if not only_failures:
                table.add_row(rule.name, rule.type, "-", "-", Text(f"skipped: {error.message}", style="dim"))
            continue
        except VigilError as error:
            counts["failed"] += 1
            table.add_row(rule.name, rule.type, _mark(False), _mark(False), str(error).splitlines()[0])
            continue
        counts["passed" if result.ok else "failed"] += 1
        # `broken`: the condition the near miss violates (not a fault of the rule)
        detail = f"near miss breaks: {result.broken}" if result.ok else (result.reason or "the near miss matched")
        if not (only_failures and result.ok):
            table.add_row(rule.name, rule.type, _mark(result.positive_ok), _mark(result.negative_ok), detail)
        if show:
            for label, events in (("positive", result.positive), ("negative", result.negative)):
                for event in events:
                    click.echo(f"{label}\t{rule.rule_id}\t" + orjson.dumps(event).decode())
    table.title = (f"{len(chosen)} rule(s): {counts['passed']} passed, {counts['failed']} failed, "
                   f"{counts['skipped']} skipped (type not synthesized)")
    _console().print(table)
    if counts["failed"]:
        sys.exit(1)


def _mark(ok: bool) -> Text:
    return Text("ok", style="green") if ok else Text("FAIL", style="bold red")


# -------------------------------------------------------------------------------------------- rules coverage
@click.command("coverage")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--layer", "layer_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write an ATT&CK Navigator layer (JSON, format 4.5) of the runnable rules to this file.")
@click.option("--platform", "platforms", multiple=True,
              help="Navigator platform filter for the layer (repeatable), e.g. --platform Linux.")
@click.option("--all", "include_disabled", is_flag=True, help="Count disabled rules too (registry only).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON instead of tables.")
@DIRS_OPTION
def coverage_command(paths: tuple[Path, ...], layer_path: t.Optional[Path], platforms: tuple[str, ...],
                     include_disabled: bool, as_json: bool, extra_dirs: tuple[Path, ...]) -> None:
    """What vigil can run: rules by type and status (runnable / unsupported / error, with reasons) and the MITRE
    ATT&CK techniques the runnable ones cover. PATHS: rule files or directories (default: the registry)."""
    from vigil.rules.coverage import attack_layer, coverage_report

    rules, _ = _gather([str(p) for p in paths], extra_dirs, use_registry=not paths)
    if not paths and not include_disabled:
        config = load_config(click.get_current_context().params.get("config_path"))
        rules = [r for r in rules if config.rule_enabled(r.rule_id, r.enabled)]
    report = coverage_report(rules)
    layer = attack_layer(report.runnable, description=f"{len(report.runnable)} runnable rule(s) of {len(rules)}",
                         platforms=platforms)
    if layer_path is not None:
        layer_path.write_bytes(orjson.dumps(layer, option=orjson.OPT_INDENT_2) + b"\n")
        click.echo(f"wrote ATT&CK Navigator layer ({len(layer['techniques'])} technique(s)) to {layer_path}",
                   err=True)
    if as_json:
        click.echo(orjson.dumps({"rules": len(rules), "by_type": report.counts(), "by_status": report.status_counts(),
                                 "reasons": report.reasons(),
                                 "errors": [{"rule_id": e.rule.rule_id, "name": e.rule.name, "reason": e.reason}
                                            for e in report.entries if e.status == "error"]},
                                option=orjson.OPT_INDENT_2).decode())
        return
    console = _console()
    statuses = ("runnable", "unsupported", "error")
    table = Table(title=f"{len(rules)} rule(s) by type and status", title_justify="left")
    for column in ("type", *statuses, "total"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for kind, counts in report.counts().items():
        table.add_row(kind, *(str(counts.get(s, 0)) for s in statuses), str(sum(counts.values())))
    console.print(table)
    reasons = report.reasons()
    if reasons:
        why = Table(title="why rules do not run", title_justify="left")
        why.add_column("rules", justify="right")
        why.add_column("reason", overflow="fold")
        for reason, n in reasons.items():
            why.add_row(str(n), reason)
        console.print(why)
    attack = Table(title=f"ATT&CK coverage of the {len(report.runnable)} runnable rule(s)", title_justify="left")
    for column in ("tactic", "technique", "rules"):
        attack.add_column(column, overflow="fold")
    for (tactic, technique), n in sorted(_techniques(report.runnable).items()):
        attack.add_row(tactic, technique, str(n))
    console.print(attack)


def _techniques(rules: t.Iterable[Rule]) -> collections.Counter[tuple[str, str]]:
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for rule in rules:
        for threat in rule.threat:
            tactic = f"{threat.tactic.id} {threat.tactic.name}" if threat.tactic else "(no tactic)"
            for technique in threat.technique:
                counts[(tactic, f"{technique.id} {technique.name}")] += 1
                for sub in technique.subtechnique:
                    counts[(tactic, f"{sub.id} {sub.name}")] += 1
    return counts


def register_rules_extras() -> None:
    """Add `test` and `coverage` to the `vigil rules` group (replacing its simpler `coverage`)."""
    from vigil.cli.rules import rules

    rules.add_command(test_command)
    rules.add_command(coverage_command)
