"""Keep the documentation honest: every command the README shows exists, every linked document exists, and every
command is documented somewhere under docs/ or in the README."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from vigil.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _code_lines(text: str) -> list[str]:
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", text, flags=re.S)
    lines = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("vigil "):
                lines.append(line)
    return lines


def _resolve(argv: list[str]) -> tuple[click.Command, list[str]]:
    """Walk the click groups along argv; returns the command reached and the words after it."""
    ctx = click.Context(cli)
    command: click.Command = cli
    rest = list(argv)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            break
        command, rest = sub, rest[1:]
    return command, rest


@pytest.mark.parametrize("line", _code_lines(README))
def test_readme_commands_exist_with_their_options(line):
    argv = shlex.split(line)[1:]
    command, rest = _resolve(argv)
    assert command is not cli, f"unknown command in README: {line}"
    if isinstance(command, click.Group):
        assert not rest or rest[0].startswith("-"), f"unknown sub-command in README: {line}"
    known = {opt for param in command.params for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", [])}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in known, f"{line}: {word} is not an option of `{command.name}`"


def test_readme_links_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (REPO / target).exists(), f"README links to a missing file: {target}"


def test_readme_first_screen_gives_the_two_commands():
    first_screen = "\n".join(README.splitlines()[:15])
    assert "./dev demo" in first_screen and "./dev test" in first_screen


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_documented(name):
    docs = README + "".join(p.read_text(encoding="utf-8") for p in (REPO / "docs").glob("*.md"))
    assert f"vigil {name}" in docs, f"`vigil {name}` appears in no document"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name):
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and (command.help or "").strip(), f"`vigil {name}` has no --help text"
