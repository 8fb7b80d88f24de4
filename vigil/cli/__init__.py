"""The `vigil` command. Each sub-command lives in its own module under `vigil/cli/` and is listed below.

User mistakes surface as `VigilError`; the group prints them as one located message (no traceback) and exits 2.
"""

from __future__ import annotations

import importlib
import sys

import click

from vigil import __version__
from vigil.errors import VigilError

# Modules that define commands: each exposes `register(group)`. One line per module, sorted.
COMMAND_MODULES: tuple[str, ...] = (
    "vigil.cli.alerts",
    "vigil.cli.exceptions",
    "vigil.cli.query",
    "vigil.cli.rules",
    "vigil.cli.sources",
)


class VigilGroup(click.Group):
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


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(cli)


def main() -> None:
    cli(prog_name="vigil")
