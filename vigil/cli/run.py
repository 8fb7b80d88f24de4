"""`vigil run` (scheduled detection, once or continuously) and `vigil hunt` (a retroactive hunt over whole files).

Both take sources as arguments or from the configuration file (`--config`, see docs/config.md) and write alerts to
the store (`--db`, else the configured store, else vigil.db in the data directory).
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading
import typing as t
from pathlib import Path

import click
import orjson
from rich.console import Console
from rich.table import Table

from vigil.alerts import AlertStore
from vigil.alerts.reason import get_path
from vigil.alerts.times import js_iso, parse_time
from vigil.cli.common import config_option as common_config_option
from vigil.cli.common import db_option as common_db_option
from vigil.cli.common import exception_store, open_store, select_rules
from vigil.config import Config, SourceConfig, load_config
from vigil.errors import ConfigError, Location
from vigil.rules.model import Rule
from vigil.runs import messages
from vigil.runs.actions import AlertActions
from vigil.runs.executor import ExecutionResult, ProducedAlert
from vigil.runs.hunt import RuleHunt, hunt
from vigil.runs.inputs import Inputs, retention_for
from vigil.runs.scheduler import Scheduler
from vigil.sources import SourceStats, open_sources

STATUS_STYLE = {messages.SUCCEEDED: "green", messages.PARTIAL_FAILURE: "yellow", messages.FAILED: "bold red"}
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130

db_option = common_db_option()
config_option = common_config_option()
rule_option = click.option("--rule", "rule_refs", multiple=True, metavar="RULE",
                           help="A rule_id (or unique prefix), a rule file, `builtin` or `all` (repeatable). "
                                "Default: every enabled rule.")
source_option = click.option("--source", "source_format", metavar="FORMAT",
                             help="Force the format of the FILE arguments (default: detected per file).")


def _console(err: bool = False) -> Console:
    return Console(stderr=err, soft_wrap=False, width=None if sys.stdout.isatty() else 140)


# ---------------------------------------------------------------------------------------------- shared helpers
def source_specs(files: t.Sequence[str], source_format: t.Optional[str], config: Config) -> list[SourceConfig]:
    if files:
        return [SourceConfig(tuple(files), source_format)]
    if source_format:
        raise ConfigError("--source applies to FILE arguments; set `format` in the configuration instead",
                          Location(key="--source"))
    if not config.sources:
        where = str(config.path) if config.path else "no configuration file"
        raise ConfigError("no sources: give FILE arguments or configure [[sources]]", Location(path=where),
                          hint="see docs/config.md, e.g. `vigil run --once /var/log/audit/audit.log`")
    return list(config.sources)


def _text(value: t.Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def alert_row(alert: ProducedAlert) -> dict[str, str]:
    doc = alert.doc
    record = alert.records[0] if alert.records else None
    when = parse_time(doc.get("kibana.alert.original_time"))
    args = get_path(doc, "process.args")
    # Not every source names the host or keeps a command line: show the next best field rather than a blank.
    return {
        "time": js_iso(when) if when else "",
        "host": _text(get_path(doc, "host.name") or get_path(doc, "host.hostname") or get_path(doc, "host.id")),
        "user": _text(get_path(doc, "user.name")),
        "process": _text(get_path(doc, "process.name")),
        "command_line": _text(get_path(doc, "process.command_line")
                              or (" ".join(map(str, args)) if isinstance(args, list) else args)),
        "source": record.source if record else "",
        "where": f"{Path(record.path).name}:{record.line}" if record else "",
        "rule": _text(doc.get("kibana.alert.rule.name")),
        "id": alert.id,
    }


def alerts_table(alerts: t.Sequence[ProducedAlert], title: str, *, show_rule: bool = True,
                 show_where: bool = True) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    columns = ["time", "host", "user", "process", "command_line", "source"]
    columns = (["rule"] if show_rule else []) + columns + (["where"] if show_where else []) + ["id"]
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold",
                         max_width=12 if column == "id" else None, no_wrap=column in ("time",))
    for alert in alerts:
        row = alert_row(alert)
        row["id"] = row["id"][:10]
        table.add_row(*(row[c] for c in columns))
    return table


def shown_alerts(alerts: t.Iterable[ProducedAlert], new_only: bool) -> list[ProducedAlert]:
    """Alerts to list: shells and event alerts (building blocks are part of their shell), oldest event first."""
    out = [a for a in alerts if not a.building_block and (a.new or not new_only)]
    return sorted(out, key=lambda a: (str(a.doc.get("kibana.alert.original_time") or ""), a.id))


def _json_line(alert: ProducedAlert) -> None:
    sys.stdout.write(orjson.dumps(alert.doc).decode() + "\n")


# --------------------------------------------------------------------------------------------------------- run
def _parse_at(text: t.Optional[str]) -> t.Optional[dt.datetime]:
    if text is None:
        return None
    when = parse_time(text)
    if when is None:
        raise ConfigError(f"not a time: {text!r} (expected ISO-8601, e.g. 2026-11-28T14:10:00Z)", Location(key="--at"))
    return when


def _execution_table(results: t.Sequence[ExecutionResult]) -> Table:
    table = Table(title="Executions", title_justify="left", header_style="bold")
    for column in ("rule", "status", "windows", "searched", "alerts", "new"):
        table.add_column(column, justify="right" if column in ("searched", "alerts", "new") else "left")
    for r in results:
        windows = r.windows
        span = f"{js_iso(windows[0].start)} .. {js_iso(windows[-1].end)}" if windows else "-"
        if len(windows) > 1:
            span += f" ({len(windows)} windows)"
        shells = [a for a in r.alerts if not a.building_block]
        table.add_row(r.rule.name, f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]", span,
                      str(r.events_searched), str(len(shells)), str(sum(1 for a in shells if a.new)))
    return table


@click.command("run")
@click.argument("files", nargs=-1, metavar="[FILE]...")
@click.option("--once", is_flag=True, help="One execution of every rule, then exit (for cron and tests).")
@click.option("--at", "at_text", metavar="TIME", help="With --once: the execution start time (default: now).")
@rule_option
@db_option
@config_option
@source_option
@click.option("--json", "as_json", is_flag=True, help="Print each new alert as one JSON line instead of tables.")
def run_command(files, once, at_text, rule_refs, db, config_path, source_format, as_json) -> None:
    """Run the enabled rules on their schedules over FILEs or the configured sources.

    Each execution searches the rule's window (`from`..`to`, catching up after a late start), stores new alerts
    and records its status (`vigil alerts list` shows the alerts). Without --once it runs until SIGTERM or Ctrl-C,
    finishing the current execution first. Exit status with --once: 0, 1 when an execution failed, 2 on a usage or
    input error, 130 on Ctrl-C.

    \b
    Examples:
      vigil run --once --at 2026-11-28T14:10:00Z vigil/data/samples/
      vigil run --config /etc/vigil/vigil.toml
    """
    at = _parse_at(at_text)
    if at is not None and not once:
        raise ConfigError("--at needs --once (a continuous run follows the clock)", Location(key="--at"))
    config = load_config(config_path)
    rules = select_rules(rule_refs, config)
    specs = source_specs(files, source_format, config)
    inputs = Inputs(specs, live=not once, retention=retention_for(rules))
    console = _console()

    def report(result: ExecutionResult) -> None:
        # `actions` is bound by the `with` below before the scheduler calls back. Notify (and respond) first:
        # printing must not delay the people on call.
        actions.on_new_alerts([a.doc for a in result.alerts if a.new], result.rule)
        if as_json:
            for alert in result.alerts:
                if alert.new:
                    _json_line(alert)
            sys.stdout.flush()
            return
        if not once:  # continuous: one line per execution, then its new alerts
            shells = [a for a in result.alerts if a.new and not a.building_block]
            style = STATUS_STYLE.get(result.status, "")
            console.print(f"{js_iso(result.started_at)} [{style}]{result.status}[/] {result.rule.name}: "
                          f"{result.events_searched} searched, {len(shells)} new alert(s)")
            if result.status != messages.SUCCEEDED:
                console.print(f"  {result.message}", markup=False)
            if shells:
                console.print(alerts_table(shown_alerts(shells, True), "New alerts", show_where=False))

    with open_store(db, config) as store, AlertActions(config, store) as actions:
        scheduler = Scheduler(rules, inputs, store, exception_store=exception_store(config), on_result=report)
        if once:
            try:
                results = scheduler.run_once(at)
            except KeyboardInterrupt:
                _interrupted("the execution", store.path)
            _print_once(console, results, inputs.stats, as_json)
            sys.exit(EXIT_FAILED if any(r.status == messages.FAILED for r in results) else EXIT_OK)
        stop = threading.Event()
        _install_stop_handlers(stop)
        click.echo(f"vigil run: {len(rules)} rule(s), {len(specs)} source(s), store {store.path}; "
                   "Ctrl-C or SIGTERM stops after the current execution", err=True)
        inputs.start()
        try:
            count = scheduler.run_forever(stop)
        finally:
            inputs.close()
        click.echo(f"vigil run: stopped after {count} execution(s)", err=True)


def _print_once(console: Console, results: t.Sequence[ExecutionResult], stats: SourceStats, as_json: bool) -> None:
    if as_json:
        return
    console.print(_execution_table(results))
    for r in results:
        if r.status != messages.SUCCEEDED:
            console.print(f"[{STATUS_STYLE[r.status]}]{r.rule.name}: {r.status}[/]")
            console.print(f"  {r.message}", markup=False)
    new = shown_alerts([a for r in results for a in r.alerts], True)
    if new:
        console.print(alerts_table(new, f"New alerts ({len(new)})"))
    else:
        console.print("no new alerts")
    if stats.bad.count:
        click.echo(stats.report(), err=True)


def _interrupted(what: str, store_path: Path) -> t.NoReturn:
    """Ctrl-C: say what is kept (committed alerts are; ids are deterministic, so a rerun adds only the rest) and
    exit 130, the shell's convention, rather than click's bare "Aborted!" with status 1 (= an execution failed)."""
    click.echo(f"interrupted: {what} stopped; alerts stored so far are kept in {store_path}; running it "
               "again stores only the missing ones", err=True)
    sys.exit(EXIT_INTERRUPTED)


def _install_stop_handlers(stop: threading.Event) -> None:
    def handler(signum: int, _frame: t.Any) -> None:
        if stop.is_set():  # a second signal: stop now (an interrupted store transaction rolls back)
            raise KeyboardInterrupt
        stop.set()
        click.echo(f"vigil run: {signal.Signals(signum).name}: finishing the current execution", err=True)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


# -------------------------------------------------------------------------------------------------------- hunt
def hunt_summary(results: t.Sequence[RuleHunt], stats: SourceStats) -> Table:
    table = Table(title="Hunt", title_justify="left", header_style="bold")
    for column in ("rule", "events searched", "excepted", "alerts", "new", "bad lines"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for h in results:
        shells = [a for a in h.alerts if not a.building_block]
        name = h.rule.name if not h.error else f"{h.rule.name} [red](error)[/]"
        table.add_row(name, str(h.events_searched), str(h.excepted), str(len(shells)),
                      str(sum(1 for a in shells if a.new)), str(stats.bad.count))
    return table


def run_hunt(rules: t.Sequence[Rule], specs: t.Sequence[SourceConfig], store: AlertStore, *,
             exceptions: t.Any, all_indices: bool = False, stats: t.Optional[SourceStats] = None,
             on_commit: t.Optional[t.Callable[[list[ProducedAlert]], None]] = None) -> list[RuleHunt]:
    """Hunt `rules` over every source of `specs` (read once, one after the other)."""
    stats = stats if stats is not None else SourceStats()

    def records(fields: t.Optional[frozenset[str]]) -> t.Iterator[t.Any]:
        # `fields`: what the rules read (hunt decides, knowing their exceptions): sources build only that
        for spec in specs:
            with open_sources(list(spec.paths), source=spec.format, stats=stats, fields=fields) as stream:
                yield from stream

    return hunt(rules, records, store=store, exception_store=exceptions, all_indices=all_indices,
                on_commit=on_commit)


@click.command("hunt")
@click.argument("files", nargs=-1, metavar="[FILE]...")
@rule_option
@db_option
@config_option
@source_option
@click.option("--all-indices", is_flag=True, help="Ignore the rules' index patterns: search every record.")
@click.option("--json", "as_json", is_flag=True,
              help="Print each new alert as one JSON line, as soon as it is stored, instead of tables.")
def hunt_command(files, rule_refs, db, config_path, source_format, all_indices, as_json) -> None:
    """Hunt retroactively: run rules over whole FILEs (no time window) and store the alerts.

    FILEs may be files, directories, globs or `-`, in any supported format (see `vigil sources list`); without
    FILEs the configured sources are read. Alerts already in the store (same event, same rule) are not stored
    again. Exit status: 0 (also when nothing matched), 2 on a usage or input error, 130 on Ctrl-C (the alerts stored
    so far are kept).

    \b
    Examples:
      vigil hunt --rule builtin vigil/data/samples/
      vigil hunt --rule 0d69150b /var/log/audit/audit.log 'exports/*.ndjson.gz'
      zcat old.ndjson.gz | vigil hunt --json -
    """
    config = load_config(config_path)
    rules = select_rules(rule_refs, config)
    specs = source_specs(files, source_format, config)
    stats = SourceStats()
    by_id = {rule.rule_id: rule for rule in rules}

    def on_commit(alerts: list[ProducedAlert]) -> None:
        new: dict[str, list[dict]] = {}  # `actions` is bound by the `with` below before any batch commits
        for alert in alerts:
            if alert.new:
                new.setdefault(str(alert.doc.get("kibana.alert.rule.rule_id")), []).append(alert.doc)
        for rule_id, docs in new.items():
            actions.on_new_alerts(docs, by_id[rule_id])
        if as_json:
            for alert in alerts:
                if alert.new:
                    _json_line(alert)
            sys.stdout.flush()  # each line is printed only after its alert is committed to the store

    with open_store(db, config) as store, AlertActions(config, store) as actions:
        try:
            results = run_hunt(rules, specs, store, exceptions=exception_store(config), all_indices=all_indices,
                               stats=stats, on_commit=on_commit)
        except KeyboardInterrupt:
            _interrupted("the hunt", store.path)
    console = _console()
    for h in results:
        if h.error:
            click.echo(f"error: {h.rule.label}: {h.error}", err=True)
    if not as_json:
        console.print(hunt_summary(results, stats))
        found = shown_alerts([a for h in results for a in h.alerts], False)
        if found:
            console.print(alerts_table(found, f"Alerts ({len(found)})"))
    if stats.bad.count:
        click.echo(stats.report(), err=True)
    if any(h.error for h in results):
        sys.exit(2)
