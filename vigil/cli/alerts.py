"""`vigil alerts ...`: list, show, triage (ack / close / reopen), note and export the alerts in the store."""

from __future__ import annotations

import datetime as dt
import re
import sys
import typing as t
from pathlib import Path

import click
import orjson
from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from vigil.alerts import workflow
from vigil.alerts.export import write_bulk
from vigil.alerts.reason import get_path
from vigil.alerts.store import AlertStore, StoredAlert
from vigil.alerts.times import js_iso, parse_time, utc_now
from vigil.cli.common import config_option, db_option, open_existing_store
from vigil.errors import Location, VigilError

DB_OPTION = db_option()
CONFIG_OPTION = config_option()
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}
STATUS_STYLE = {"open": "bold", "acknowledged": "magenta", "closed": "dim"}
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def register(group: click.Group) -> None:
    group.add_command(alerts)


def _console() -> Console:
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def _open(db: t.Optional[Path], config_path: t.Optional[Path]) -> AlertStore:
    # the same store `vigil run` writes: --db, else the configuration's [store] path, else the data directory's
    return open_existing_store(db, config_path)


def parse_since(text: str, now: t.Optional[dt.datetime] = None) -> str:
    """`--since`: a duration back from now (`30m`, `2h`, `7d`) or a timestamp (`2026-09-01T12:00:00Z`)."""
    match = _RELATIVE.match(text.strip().lower())
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        return js_iso((now or utc_now()) - dt.timedelta(seconds=seconds))
    moment = parse_time(text)
    if moment is None:
        raise VigilError(f"cannot read --since {text!r}", Location(key="--since"),
                         hint="use a duration like 30m, 2h, 7d or a timestamp like 2026-09-01T12:00:00Z")
    return js_iso(moment)


@click.group()
def alerts() -> None:
    """Alerts in the store: list, show, acknowledge, close, reopen, note, export (Elasticsearch _bulk).

    The store is the one `vigil run` and `vigil hunt` write: --db, else [store] path of the configuration, else
    vigil.db in the data directory. Ids may be abbreviated to a unique prefix.

    \b
    Examples:
      vigil alerts list --since 2h --status open
      vigil alerts show 72768b44
      vigil alerts ack 72768b44 --reason "checking with netops"
      vigil alerts export -o alerts.ndjson
    """


@alerts.command("list")
@DB_OPTION
@CONFIG_OPTION
@click.option("--status", multiple=True, type=click.Choice(workflow.STATUSES, case_sensitive=False),
              help="Only these statuses (repeatable).")
@click.option("--severity", multiple=True,
              type=click.Choice(["low", "medium", "high", "critical"], case_sensitive=False),
              help="Only these severities (repeatable).")
@click.option("--rule", help="A rule_id, or part of a rule name.")
@click.option("--host", help="Only alerts from this host.name.")
@click.option("--since", help="Only alerts created since: 30m, 2h, 7d or a timestamp.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many alerts.")
@click.option("--building-blocks/--no-building-blocks", default=False, show_default=True,
              help="Include building-block alerts (sequence parts, building-block rules), as Kibana's toggle.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert instead of a table.")
def list_alerts(db, config_path, status, severity, rule, host, since, limit, building_blocks, as_json) -> None:
    """List alerts, newest first (the 50 newest unless --limit; building blocks hidden, as in Kibana)."""
    with _open(db, config_path) as store:
        found = store.list_alerts(
            status=status or None, severity=severity or None, rule=rule, host=host,
            since=parse_since(since) if since else None, include_building_blocks=building_blocks, limit=limit,
        )
    if as_json:
        for alert in found:
            click.echo(orjson.dumps(_summary(alert)).decode())
        return
    if not found:
        click.echo("no alerts match")
        return
    table = Table(box=None, header_style="bold")
    for column in ("id", "created", "status", "severity", "risk", "rule", "host", "process", "user"):
        # a host.id fallback is 32 hex characters: cut it rather than squeeze the rule name onto two lines
        table.add_column(column, no_wrap=column in ("id", "created", "status", "severity", "host"),
                         max_width=20 if column == "host" else None,
                         overflow="ellipsis" if column == "host" else "fold")
    for a in found:
        table.add_row(
            a.id[:12], a.created_at[:19].replace("T", " "), f"[{STATUS_STYLE.get(a.status, '')}]{a.status}",
            f"[{SEVERITY_STYLE.get(a.severity or '', '')}]{a.severity or ''}",
            f"{a.risk_score:g}" if a.risk_score is not None else "", a.rule_name, _host(a),
            a.process_name or "", a.user_name or "",
        )
    _console().print(table)
    click.echo(f"{len(found)} alert(s)")


def _host(a: StoredAlert) -> str:
    """host.name, else the next best host field: some formats (CrowdStrike, SentinelOne, raw audit.log) do not carry
    host.name, and `vigil hunt` shows the same fallback, so an alert reads the same in both tables."""
    for name in ("host.name", "host.hostname", "host.id"):
        value = a.host_name if name == "host.name" else get_path(a.document, name)
        if value not in (None, "", []):
            return _value_text(value)
    return ""


def _summary(a: StoredAlert) -> dict[str, t.Any]:
    return {
        "id": a.id, "created_at": a.created_at, "status": a.status, "severity": a.severity,
        "risk_score": a.risk_score, "rule_id": a.rule_id, "rule_name": a.rule_name, "host": a.host_name,
        "process": a.process_name, "user": a.user_name, "original_time": a.original_time,
        "reason": a.document.get("kibana.alert.reason"), "group_id": a.group_id,
    }


# ECS fields shown on `alerts show`, in reading order
_SHOWN_FIELDS = (
    "process.name", "process.executable", "process.command_line", "process.pid", "process.entity_id",
    "process.working_directory", "process.parent.name", "process.parent.executable", "process.parent.command_line",
    "process.parent.pid", "user.name", "user.id", "group.name", "host.name", "host.hostname", "host.os.type",
    "host.os.full", "host.ip", "agent.type", "event.action", "event.dataset",
)


def _value_text(value: t.Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def response_section(note: str) -> t.Optional[str]:
    """The "Response and remediation" section of an investigation guide (markdown), heading included."""
    lines = note.splitlines()
    for i, line in enumerate(lines):
        heading = re.match(r"^(#+)\s+(.*)$", line)
        if heading and "response" in heading.group(2).lower():
            level = len(heading.group(1))
            end = next(
                (j for j in range(i + 1, len(lines))
                 if (m := re.match(r"^(#+)\s", lines[j])) and len(m.group(1)) <= level),
                len(lines),
            )
            return "\n".join(lines[i:end]).strip()
    return None


def _attack_links(threat: t.Any) -> list[str]:
    """One line per tactic / technique / subtechnique, with its MITRE ATT&CK URL."""
    out = []
    for entry in threat if isinstance(threat, list) else []:
        tactic = entry.get("tactic") or {}
        if tactic:
            out.append(f"tactic  {tactic.get('id', '')} {tactic.get('name', '')}  {tactic.get('reference', '')}")
        for tech in entry.get("technique") or []:
            out.append(f"  technique  {tech.get('id', '')} {tech.get('name', '')}  {tech.get('reference', '')}")
            for sub in tech.get("subtechnique") or []:
                out.append(f"    subtechnique  {sub.get('id', '')} {sub.get('name', '')}  {sub.get('reference', '')}")
    return out


@alerts.command("show")
@DB_OPTION
@CONFIG_OPTION
@click.argument("alert_id")
@click.option("--json", "as_json", is_flag=True, help="Print the full alert document as JSON.")
def show_alert(db, config_path, alert_id, as_json) -> None:
    """One alert: what happened, the rule's investigation guide, ATT&CK links, history and notes."""
    with _open(db, config_path) as store:
        alert = store.get_alert(alert_id)
        history = store.history(alert.id)
        notes = store.notes(alert.id)
    doc = alert.document
    if as_json:
        click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    console = _console()
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for label, value in (
        ("id", alert.id), ("rule", f"{alert.rule_name}  ({alert.rule_id})"),
        ("severity", f"{alert.severity} (risk {alert.risk_score:g})" if alert.risk_score is not None else alert.severity),
        ("status", alert.status), ("created", alert.created_at), ("event time", alert.original_time or ""),
        ("reason", doc.get("kibana.alert.reason", "")),
    ):
        head.add_row(label, str(value))
    if alert.group_id:
        head.add_row("sequence", f"{alert.group_id[:12]} (part {doc.get('kibana.alert.group.index', 'shell')})")
    console.print(Panel(head, title="alert", expand=False))

    fields = Table(box=None, show_header=False)
    fields.add_column(style="cyan")
    fields.add_column()
    for name in _SHOWN_FIELDS:
        value = get_path(doc, name)
        if value not in (None, "", []):
            fields.add_row(name, _value_text(value))
    console.print(Panel(fields, title="process / user / host", expand=False))

    links = _attack_links(doc.get("kibana.alert.rule.threat"))
    if links:
        console.print(Panel("\n".join(links), title="MITRE ATT&CK", expand=False))
    note = doc.get("kibana.alert.rule.note")
    if isinstance(note, str) and note.strip():
        console.print(Panel(Markdown(note), title="investigation guide"))
        response = response_section(note)
        if response:
            console.print(Panel(Markdown(response), title="response", border_style="red"))
    if history or notes:
        lines = [f"{h.changed_at}  {h.user}: {h.from_status} → {h.to_status}" + (f"  ({h.reason})" if h.reason else "")
                 for h in history]
        lines += [f"{n.created_at}  {n.user} noted: {n.text}" for n in notes]
        console.print(Panel(Group(*lines), title="history", expand=False))


def _status_command(name: str, target: str, help_text: str) -> None:
    @alerts.command(name, help=help_text)
    @DB_OPTION
    @CONFIG_OPTION
    @click.argument("alert_ids", nargs=-1, required=True)
    @click.option("--reason", help="Why (kept in the status history).")
    @click.option("--user", help="Who (default: the OS user).")
    def command(db, config_path, alert_ids, reason, user) -> None:
        with _open(db, config_path) as store:
            changes = workflow.change_status(store, alert_ids, target, user=user, reason=reason)
        changed = {c.alert_id for c in changes}
        for c in changes:
            click.echo(f"{c.alert_id[:12]}  {c.from_status} → {c.to_status}")
        unchanged = len(set(alert_ids)) - len(changed)
        if unchanged > 0:
            click.echo(f"{unchanged} alert(s) already {target}")


_status_command("ack", workflow.ACKNOWLEDGED, "Acknowledge alerts (ids or unique prefixes).")
_status_command("close", workflow.CLOSED, "Close alerts (ids or unique prefixes).")
_status_command("reopen", workflow.OPEN, "Reopen acknowledged or closed alerts.")


@alerts.command("note")
@DB_OPTION
@CONFIG_OPTION
@click.argument("alert_id")
@click.argument("text")
@click.option("--user", help="Who (default: the OS user).")
def note_alert(db, config_path, alert_id, text, user) -> None:
    """Add a note to an alert."""
    with _open(db, config_path) as store:
        note = workflow.add_note(store, alert_id, text, user=user)
    click.echo(f"noted on {note.alert_id[:12]}")


@alerts.command("export")
@DB_OPTION
@CONFIG_OPTION
@click.option("-o", "--output", "--out", "out", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of standard output.")
@click.option("--since", help="Only alerts created since: 30m, 2h, 7d or a timestamp.")
def export_alerts(db, config_path, out, since) -> None:
    """NDJSON for Elasticsearch's _bulk API (create actions into .alerts-security.alerts-<space>)."""
    with _open(db, config_path) as store:
        docs = store.iter_documents(since=parse_since(since) if since else None)
        if out is None:
            count = write_bulk(docs, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            try:
                with out.open("wb") as handle:
                    count = write_bulk(docs, handle)
            except OSError as error:
                raise VigilError(f"cannot write the export: {error.strerror}", Location(path=str(out))) from None
    click.echo(f"exported {count} alert(s)" + (f" to {out}" if out else ""), err=True)
