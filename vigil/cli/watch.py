"""`vigil watch`: live detection on this Linux host (process execs → enabled rules → alerts in the store)."""

from __future__ import annotations

import dataclasses
import json
import typing as t
from pathlib import Path

import click

from vigil.cli.common import config_option, db_option
from vigil.errors import ConfigError


@click.command("watch")
@db_option()
@click.option("--rule", "rule_refs", multiple=True, metavar="REF",
              help="Run only this rule (builtin:<id>, rule_id or unique prefix, or a rule file); repeatable. "
                   "Named rules run even when disabled.")
@click.option("--mode", type=click.Choice(["auto", "connector", "audit", "procpoll"]), default="auto",
              show_default=True, help="Capture backend; auto picks the best that works here.")
@click.option("--duration", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Stop after this many seconds (tests, benchmarks). Default: until SIGTERM/SIGINT.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=0.1, show_default=True, metavar="SECONDS",
              help="Poll interval of the procpoll mode.")
@click.option("--no-realtime", is_flag=True, help="Do not raise the reader thread to SCHED_FIFO.")
@click.option("--evaluator-priority", type=click.Choice(["nice", "realtime", "normal"]), default="nice",
              show_default=True,
              help="Scheduling of the rule evaluator: nice -10; realtime (SCHED_FIFO below the reader: lowest "
                   "latency under load, but a runaway rule set could take most of a CPU); normal.")
@click.option("--status", "show_status", is_flag=True,
              help="Print the running watcher's mode, why, what it can miss and its counters (or, when none "
                   "runs, what a watcher would use here), then exit.")
@click.option("--json", "as_json", is_flag=True, help="With --status: print JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Log skipped rules and other details.")
@config_option()
def watch(db: t.Optional[Path], rule_refs: tuple[str, ...], mode: str, duration: t.Optional[float],
          interval: float, no_realtime: bool, evaluator_priority: str, show_status: bool, as_json: bool,
          verbose: bool,
          config_path: t.Optional[Path]) -> None:
    """Watch process starts on this host and alert on them with the enabled rules, as they happen.

    Events are shaped like Elastic Defend's (index logs-endpoint.events.process-default), so rules written for
    Defend, such as the built-in "Nping Process Activity", run unchanged. SIGTERM/SIGINT stop cleanly; SIGHUP
    reloads rules and exceptions. See docs/sensor.md.
    """
    from vigil.paths import data_dir, default_store_path
    from vigil.sensor import service

    status_path = data_dir() / service.STATUS_FILE
    if show_status:
        _print_status(service, status_path, mode, as_json)
        return
    from vigil.alerts import AlertStore
    from vigil.config import load_config
    from vigil.exceptions import ExceptionStore
    from vigil.rules.registry import load_registry, resolve_rule
    from vigil.runs.actions import AlertActions
    from vigil.sensor import live

    config = load_config(config_path)

    def rules_loader() -> list:
        if rule_refs:
            return [_enabled(resolve_rule(ref, config.rule_dirs)) for ref in rule_refs]
        return [dataclasses.replace(r, enabled=config.rule_enabled(r.rule_id, r.enabled))
                for r in load_registry(config.rule_dirs)]

    service.setup_logging(verbose)
    store_path = db or config.store_path or default_store_path()
    watcher = service.Watcher(
        store_path=store_path, rules_loader=rules_loader, mode=mode, duration=duration,
        exception_store=ExceptionStore(config.exceptions_dir), status_path=status_path,
        echo=lambda line: click.echo(line, nl=True),
        backend_options={"interval": interval, "realtime": not no_realtime},
        evaluator_priority=evaluator_priority,
    )
    # Notifications and response actions for new alerts, the same as `vigil run` and `vigil hunt` do.
    with AlertStore(store_path) as actions_store, AlertActions(config, actions_store) as actions:
        live.on_alerts.append(actions.on_new_alerts)
        try:
            code = watcher.run()
        finally:
            live.on_alerts.remove(actions.on_new_alerts)
    if code:
        raise SystemExit(code)


def _enabled(rule: t.Any) -> t.Any:
    return dataclasses.replace(rule, enabled=True)


def _print_status(service: t.Any, status_path: Path, mode: str, as_json: bool) -> None:
    status = service.read_status(status_path)
    if status is None or not status.get("alive"):
        probed = service.probe(mode)
        probed["running"] = False
        if status is not None:
            probed["last_run"] = {k: status.get(k) for k in ("mode", "events_evaluated", "alerts", "sensor")}
        status = probed
    if as_json:
        click.echo(json.dumps(status, indent=2, default=str))
        return
    if status.get("mode") is None:
        raise ConfigError(f"no capture backend would work here: {status.get('why')}")
    head = "running" if status.get("running") else "not running; a watcher started now would use"
    click.echo(f"vigil watch: {head} mode {status['mode']}")
    click.echo(f"  why: {status['why']}")
    for refused in status.get("refused", []):
        click.echo(f"  {refused['mode']} not used: {refused['reason']}")
    for note in status.get("notes", []):
        click.echo(f"  note: {note}")
    click.echo(f"  can miss: {status.get('can_miss')}")
    if status.get("running"):
        click.echo(f"  pid {status['pid']}, store {status['store']}, rules: {', '.join(status['rules']) or 'none'}")
        sensor = status.get("sensor", {})
        click.echo(f"  events {status['events_evaluated']}, alerts {status['alerts']}; sensor "
                   + " ".join(f"{k}={v}" for k, v in sensor.items()))
