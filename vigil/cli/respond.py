"""`vigil respond ...`: manual response actions on the host vigil runs on, each recorded on its alert.

    vigil respond kill --alert 3f2a [--dry-run]       # SIGKILL the alert's process (identity verified)
    vigil respond suspend --alert 3f2a                # SIGSTOP;  `vigil respond resume --alert 3f2a` = SIGCONT
    vigil respond isolate [--alert 3f2a]              # nftables isolation of this host
    vigil respond release [--alert 3f2a]              # undo isolation
    vigil respond status                              # isolated or not, and the [response] settings
    vigil respond history --alert 3f2a                # the actions recorded on an alert
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import click

from vigil.cli.common import DB_HELP, open_existing_store
from vigil.errors import ConfigError, Location

DB_OPTION = click.option("--db", "db", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)
CONFIG_OPTION = click.option("--config", "config", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
                             help="Configuration file (its [response] table and [store] path). Default: "
                                  "$VIGIL_CONFIG, else vigil.toml in the data directory (docs/config.md).")
DRY_RUN_OPTION = click.option("--dry-run", is_flag=True,
                              help="Check everything and record what would be done; change nothing.")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
COMMENT_OPTION = click.option("--comment", help="Recorded with the action on the alert.")


@click.group("respond")
def respond() -> None:
    """Response actions on this host: kill, suspend/resume a process, isolate/release the host (docs/response.md).

    Off until the configuration enables them ([response] enabled = true); dry-run until it says dry_run = false.

    \b
    Examples:
      vigil respond kill --alert 72768b44 --dry-run
      vigil respond suspend --alert 72768b44      # later: vigil respond resume --alert 72768b44
      vigil respond isolate --alert 72768b44
      vigil respond status
      vigil respond history --alert 72768b44
    """


def _dispatcher(config: t.Optional[Path]) -> t.Any:
    from vigil.config import load_config
    from vigil.response import ResponseDispatcher

    cfg = load_config(config)
    path = str(cfg.path) if cfg.path else None
    line_of = _line_finder(cfg.path)
    return ResponseDispatcher.from_config(getattr(cfg, "response", None),
                                          lambda key: Location(path=path, line=line_of(key), key=key))


def _line_finder(path: t.Optional[Path]) -> t.Callable[[str], t.Optional[int]]:
    """key → its line in the configuration file, for `file:line [key]` errors (best effort: None when unknown)."""
    if path is None:
        return lambda key: None
    try:
        from vigil.config import _KeyLines  # the loader's own key scanner, so both report the same lines

        lines = _KeyLines(path.read_text(encoding="utf-8"))
    except (ImportError, OSError, UnicodeDecodeError):
        return lambda key: None
    return lines.line_of


def _act(command: str, alert_ref: t.Optional[str], *, db: t.Optional[Path], config: t.Optional[Path],
         dry_run: bool, as_json: bool, comment: t.Optional[str], field: str = "process.pid") -> None:
    from vigil.alerts.workflow import current_user
    from vigil.response import record
    from vigil.response.outcome import UNDO_COMMANDS

    dispatcher = _dispatcher(config)
    settings = dispatcher.settings
    if command not in UNDO_COMMANDS and not dry_run:
        if not settings.enabled:
            raise ConfigError("response actions are disabled", Location(key="response.enabled"),
                              hint="set `enabled = true` in the [response] table of the configuration, or use "
                                   "--dry-run to see what would happen")
        if command not in settings.commands:
            raise ConfigError(f"{command} is not allowed by the configuration", Location(key="response.commands"),
                              hint="add it to `commands` in [response]")
    store = None
    alert = alert_id = None
    try:
        if alert_ref is not None:
            store = open_existing_store(db, config)  # the store `vigil run` writes
            stored = store.get_alert(alert_ref)
            alert, alert_id = stored.document, stored.id
        outcome = dispatcher.run(command, alert, field=field, dry_run=dry_run)
        if store is not None and alert_id is not None:
            record.record(store, alert_id, outcome, user=current_user(), automatic=False, comment=comment)
    finally:
        if store is not None:
            store.close()
    if as_json:
        click.echo(json.dumps({"alert": alert_id, **outcome.to_dict()}, indent=2, default=str))
    else:
        click.echo(outcome.summary())
        if alert_id:
            click.echo(f"recorded on alert {alert_id[:12]}")
    if not outcome.ok:
        raise SystemExit(1)


def _process_command(name: str, command: str, summary: str) -> click.Command:
    @respond.command(name, help=summary)
    @click.option("--alert", "alert_ref", required=True, metavar="ID", help="The alert (id or unique prefix).")
    @click.option("--field", default="process.pid", show_default=True,
                  help="The alert field naming the process: process.pid, process.entity_id, process.parent.pid...")
    @DRY_RUN_OPTION
    @COMMENT_OPTION
    @DB_OPTION
    @CONFIG_OPTION
    @JSON_OPTION
    def run(alert_ref: str, field: str, dry_run: bool, comment: t.Optional[str], db: t.Optional[Path],
            config: t.Optional[Path], as_json: bool) -> None:
        _act(command, alert_ref, db=db, config=config, dry_run=dry_run, as_json=as_json, comment=comment,
             field=field)

    return run


_process_command("kill", "kill-process",
                 "Kill (SIGKILL) the alert's process, after proving the pid still belongs to it.")
_process_command("suspend", "suspend-process",
                 "Suspend (SIGSTOP) the alert's process, after proving the pid still belongs to it.")
_process_command("resume", "resume-process",
                 "Resume (SIGCONT) a process suspended for the alert; allowed even when responses are disabled.")


@respond.command("isolate")
@click.option("--alert", "alert_ref", metavar="ID", help="Record on this alert (and check it is about this host).")
@DRY_RUN_OPTION
@COMMENT_OPTION
@DB_OPTION
@CONFIG_OPTION
@JSON_OPTION
def isolate_command(alert_ref: t.Optional[str], dry_run: bool, comment: t.Optional[str], db: t.Optional[Path],
                    config: t.Optional[Path], as_json: bool) -> None:
    """Isolate this host: drop all traffic but loopback, management addresses and DNS to the resolvers."""
    _act("isolate", alert_ref, db=db, config=config, dry_run=dry_run, as_json=as_json, comment=comment)


@respond.command("release")
@click.option("--alert", "alert_ref", metavar="ID", help="Record on this alert.")
@DRY_RUN_OPTION
@COMMENT_OPTION
@DB_OPTION
@CONFIG_OPTION
@JSON_OPTION
def release_command(alert_ref: t.Optional[str], dry_run: bool, comment: t.Optional[str], db: t.Optional[Path],
                    config: t.Optional[Path], as_json: bool) -> None:
    """Release this host from isolation (allowed even when responses are disabled)."""
    _act("release", alert_ref, db=db, config=config, dry_run=dry_run, as_json=as_json, comment=comment)


@respond.command("status")
@CONFIG_OPTION
@JSON_OPTION
def status_command(config: t.Optional[Path], as_json: bool) -> None:
    """Is this host isolated, and what may response actions do here."""
    from vigil.response.isolate import NftError

    dispatcher = _dispatcher(config)
    try:
        isolated: t.Optional[bool] = dispatcher.nft.table_exists()
        problem = None
    except NftError as error:
        isolated, problem = None, str(error)
    if as_json:
        click.echo(json.dumps({"isolated": isolated, "nft_problem": problem, "settings": dispatcher.settings.to_dict()},
                              indent=2))
        return
    s = dispatcher.settings
    state = "unknown (" + problem + ")" if problem else ("ISOLATED" if isolated else "not isolated")
    click.echo(f"host: {dispatcher.host.name}: {state}")
    mode = "disabled" if not s.enabled else ("dry-run" if s.dry_run else "ACTIVE")
    click.echo(f"response actions: {mode}; automatic: {'on' if s.automatic else 'off'}; "
               f"commands: {', '.join(s.commands) or 'none'}")
    click.echo(f"management addresses: {', '.join(s.management_addresses) or 'none'}; "
               f"dns resolvers: {', '.join(s.dns_resolvers) or 'none'}")


@respond.command("history")
@click.option("--alert", "alert_ref", required=True, metavar="ID", help="The alert (id or unique prefix).")
@DB_OPTION
@CONFIG_OPTION
@JSON_OPTION
def history_command(alert_ref: str, db: t.Optional[Path], config: t.Optional[Path], as_json: bool) -> None:
    """The response actions recorded on an alert, oldest first."""
    from vigil.response import history

    with open_existing_store(db, config) as store:
        alert_id = store.get_alert(alert_ref).id
        entries = history(store, alert_id)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo(f"no response actions recorded on alert {alert_id[:12]}")
    for e in entries:
        who = "rule " + str(e.get("rule_id")) if e.get("automatic") else e.get("user")
        click.echo(f"{e.get('at')}  {e.get('command')}: {e.get('status')}: {e.get('message')}  [{who}]")
