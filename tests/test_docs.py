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
    """`vigil ...` command lines of the fenced blocks (sh, bash, console with `$ ` prompts, or unlabelled)."""
    blocks, current, language = [], [], None
    for raw in text.splitlines():  # pair the fences in order, so a ```toml block never shifts the pairing
        if raw.startswith("```"):
            if language is None:
                language, current = raw[3:].strip(), []
            else:
                if language in ("", "sh", "bash", "console", "shell"):
                    blocks.append("\n".join(current) + "\n")
                language = None
        elif language is not None:
            current.append(raw)
    lines = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #", 1)[0].strip().removeprefix("$ ")
            if line.startswith("vigil ") and not re.match(r"vigil [A-Z]", line):  # "vigil POSTs ..." is prose
                lines.append(line)
    return lines


DOCS = {p.name: p.read_text(encoding="utf-8") for p in sorted((REPO / "docs").glob("*.md"))}
DOC_LINES = [(name, line) for name, text in DOCS.items() for line in _code_lines(text)]


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
    _check_command_line(line)


@pytest.mark.parametrize("name,line", DOC_LINES)
def test_doc_commands_exist_with_their_options(name, line):
    """The command examples of docs/*.md too: a renamed option must not leave a document behind."""
    _check_command_line(line)


def _check_command_line(line: str) -> None:
    if "|" in line.split("'")[0] and "[" in line:  # a synopsis such as `ack|close|reopen ID... [--reason R]`
        line = re.sub(r"\b(\w+)\|[\w|]+", r"\1", line)
    argv = shlex.split(line)[1:]
    command, rest = _resolve(argv)
    assert command is not cli, f"unknown command in README: {line}"
    if isinstance(command, click.Group):
        assert not rest or rest[0].startswith("-"), f"unknown sub-command in README: {line}"
    known = {opt for param in command.params for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", [])}
    for word in rest:
        word = word.strip("[]")
        if word.startswith("-") and word != "-" and not re.match(r"^-\d", word):
            for option in word.split("|"):  # `[-o|--output FILE]`
                assert option.split("=", 1)[0] in known, f"{line}: {option} is not an option of `{command.name}`"


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


def test_readme_tour_paths_exist():
    """The tour runs from the repository root: every file it names is there (../shared only when present)."""
    for line in _code_lines(README):
        for word in shlex.split(line)[1:]:
            if word.startswith(("vigil/", "../shared/", "examples/")):
                if word.startswith("../shared/") and not (REPO.parent / "shared").exists():
                    continue
                assert (REPO / word).exists(), f"README names a missing path: {word} ({line})"


def test_readme_alert_ids_are_the_ones_the_sample_hunt_stores(tmp_path, monkeypatch):
    """Alert ids are deterministic: the ids the tour shows must resolve after `vigil hunt` over the samples."""
    from click.testing import CliRunner

    monkeypatch.setenv("VIGIL_HOME", str(tmp_path))
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    runner = CliRunner()
    hunt = runner.invoke(cli, ["hunt", "--rule", "builtin", str(REPO / "vigil" / "data" / "samples")])
    assert hunt.exit_code == 0, hunt.output
    ids = set(re.findall(r"vigil alerts (?:show|ack|close|reopen) ([0-9a-f]{6,})", README))
    ids |= set(re.findall(r"--alert ([0-9a-f]{6,})", README))
    assert ids, "the README tour shows no alert id"
    for alert_id in ids:
        shown = runner.invoke(cli, ["alerts", "show", alert_id, "--json"])
        assert shown.exit_code == 0, f"README alert id {alert_id}: {shown.output}"
