"""The `vigil` command. Each sub-command lives in its own module under `vigil/cli/` and is listed in COMMANDS.

User mistakes surface as `VigilError`; the group prints them as one located message (no traceback) and exits 2.
"""

from __future__ import annotations

import importlib
import sys
import typing as t

import click

from vigil import __version__
from vigil.errors import VigilError

# Every command, as "module:attribute". Modules are imported only when their command runs (or for --help), so
# `vigil query` starts fast: a detection engine is often run once per file from scripts.
COMMANDS: dict[str, str] = {
    "alerts": "vigil.cli.alerts:alerts",
    "check": "vigil.cli.query:check_command",
    "demo": "vigil.cli.demo:demo_command",
    "exceptions": "vigil.cli.exceptions:exceptions_group",
    "hunt": "vigil.cli.run:hunt_command",
    "notify": "vigil.cli.notify:notify",
    "query": "vigil.cli.query:query_command",
    "respond": "vigil.cli.respond:respond",
    "rules": "vigil.cli.rules:rules",
    "run": "vigil.cli.run:run_command",
    "sources": "vigil.cli.sources:sources",
    "watch": "vigil.cli.watch:watch",
}


class VigilGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> t.Optional[click.Command]:
        if name in self.commands:
            return self.commands[name]
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click cuts each summary to what fits on one line ("..."); wrapping the whole first sentence reads better.
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=200)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except VigilError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)


@click.group(cls=VigilGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="vigil")
def cli() -> None:
    """vigil runs Elastic detection rules (EQL) over Linux host telemetry, with Elastic's semantics and no server."""


def main() -> None:
    cli(prog_name="vigil")
