"""parse -> to_eql -> parse gives an equal tree, printing is stable, and the canonical form is the expected one."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vigil.eql import parse, to_eql

HERE = Path(__file__).parent


def _identity_queries() -> list[tuple[int, str]]:
    lines = (HERE / "identity.eql").read_text(encoding="utf-8").splitlines()
    return [(n, line) for n, line in enumerate(lines, 1) if line.strip() and not line.startswith("#")]


def _printer_cases() -> list[dict]:
    return tomllib.loads((HERE / "printer_cases.toml").read_text(encoding="utf-8"))["case"]


@pytest.mark.parametrize("lineno,query", _identity_queries(), ids=lambda v: str(v) if isinstance(v, int) else "")
def test_identity(lineno: int, query: str) -> None:
    tree = parse(query)
    printed = to_eql(tree)
    again = parse(printed)
    assert again == tree, f"identity.eql:{lineno}: re-parse of {printed!r} differs"
    assert to_eql(again) == printed, f"identity.eql:{lineno}: printing is not stable"


def test_identity_fixture_prints_itself() -> None:
    """The fixture is written in canonical form, so most lines print back unchanged; this keeps it honest."""
    unchanged = [q for _, q in _identity_queries() if to_eql(parse(q)) == q]
    assert len(unchanged) >= len(_identity_queries()) - 10


@pytest.mark.parametrize("case", _printer_cases(), ids=lambda c: c["input"][:40])
def test_canonical_text(case: dict) -> None:
    assert to_eql(parse(case["input"])) == case["output"]
    assert parse(case["output"]) == parse(case["input"])


def test_str_of_a_node_is_its_eql() -> None:
    q = parse('process where process.name == "nping"')
    assert str(q.body.condition) == 'process.name == "nping"'
