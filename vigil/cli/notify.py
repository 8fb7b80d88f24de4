"""`vigil notify ...`: check the notification outputs of the configuration by sending a sample alert."""

from __future__ import annotations

import sys
import typing as t

import click
import orjson

from vigil.cli.common import config_option
from vigil.config import load_config
from vigil.errors import ConfigError, Location


@click.group()
def notify() -> None:
    """Notification outputs ([outputs] in the configuration): webhook, slack, syslog, cef, email, file."""


@notify.command("test")
@config_option()
@click.option("--host", help="host.name of the sample alert (default: this machine's name).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per channel instead of text.")
@click.argument("channels", nargs=-1)
def test_command(config_path: t.Optional[str], host: t.Optional[str], as_json: bool, channels: tuple[str, ...]) -> None:
    """Send a sample Nping alert through the configured channels (all, or the CHANNELS named) and report each.

    CHANNELS are channel names (`name = ...`) or kinds (`webhook`, `slack`, ...). Throttling is bypassed and
    leaves no state. Exit status 1 when a channel failed.
    """
    from vigil.notify import Notifiers
    from vigil.notify.sample import sample_alerts

    config = load_config(config_path)
    notifiers = Notifiers.from_vigil_config(config)
    if not notifiers.channels:
        raise ConfigError("no notification output is configured (or all are disabled)",
                          Location(path=str(config.path) if config.path else None, key="outputs"),
                          hint="add e.g. [[outputs.webhook]] with url = \"...\"; see docs/notify.md")
    if channels:
        notifiers = notifiers.select(channels)
    alerts, rule = sample_alerts(host=host)
    results = notifiers.notify(alerts, rule, use_throttle=False)
    for result in results:
        if as_json:
            click.echo(orjson.dumps(result.to_dict()).decode())
            continue
        mark = click.style("ok  ", fg="green") if result.ok else click.style("FAIL", fg="red", bold=True)
        attempts = f"{result.attempts} attempt{'s' if result.attempts != 1 else ''}"
        line = f"{mark} {result.channel} ({result.kind}): {result.status}, {attempts}, {result.duration_ms} ms"
        if result.detail:
            line += f": {result.detail}"
        click.echo(line)
        if result.error:
            click.echo(f"     error: {result.error}")
        if result.dead_letter:
            click.echo(f"     payload kept in {result.dead_letter}")
    if notifiers.store.error and not as_json:
        click.echo(f"warning: {notifiers.store.error}", err=True)
    if not all(result.ok for result in results):
        sys.exit(1)
