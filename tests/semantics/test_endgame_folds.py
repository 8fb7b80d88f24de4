"""The fold cases of the endgame suite (test_string_functions.toml, test_folding.toml) that apply to the
Elasticsearch dialect, each evaluated through `compile_expression` on an empty event AND through the optimizer's
constant folding (as eql's own runner checks both).

Format (docs/conformance.md §1.2): `[topic]` tables with `[[topic.fold.tests]]` (`expression`, `expected`; a
missing `expected` means null) and `[[topic.loop]]` templates expanded per `$value` type. Topics marked
`case_insensitive = true` are skipped: they describe eql's global case-insensitive mode, which ES replaced by
operators (`:`, `in~`, `fn~`) tested in test_compiler.py. Legacy single-quoted strings are rewritten to double
quotes. Cases listed in known_differences.toml are skipped with the reason recorded there."""

from __future__ import annotations

import os
import re
import string
import tomllib
from pathlib import Path

import pytest
from vigil.engine.compiler import compile_expression
from vigil.eql import ast, parse_expression
from vigil.eql.optimizer import optimize

# the same resolution as tests/conftest.py (the `shared` fixture below does the skipping)
SHARED = Path(os.environ.get("VIGIL_SHARED", Path(__file__).resolve().parents[2].parent / "shared")).resolve()
SUITE = ("conformance", "eql-endgame")
FILES = ("test_string_functions.toml", "test_folding.toml")
KNOWN = tomllib.loads((Path(__file__).parent / "known_differences.toml").read_text())
# One literal per loop parameter type; the upstream runner draws random ones, any value of the type will do.
LOOP_VALUES = {"bool": "true", "int": "42", "string": '"hello"', "float": "3.5", "null": "null"}


def _cases() -> list[tuple[str, str, str, object, str]]:
    """(file, topic, expression, expected, mode) for every fold case, loops expanded."""
    out = []
    for name in FILES:
        path = SHARED.joinpath(*SUITE, name)
        if not path.exists():
            continue
        for topic, body in tomllib.loads(path.read_text()).items():
            mode = "insensitive" if body.get("case_insensitive") else "sensitive" if body.get("case_sensitive") else ""
            for case in body.get("fold", {}).get("tests", []):
                out.append((name, topic, case["expression"], case.get("expected"), mode))
            for loop in body.get("loop", []):
                for kind in loop["param"]["type"]:
                    for case in loop.get("fold", {}).get("tests", []):
                        text = string.Template(case["expression"]).substitute(value=LOOP_VALUES[kind])
                        out.append((name, topic, text, case.get("expected"), mode))
    return out


CASES = _cases()


def _double_quoted(text: str) -> str:
    return re.sub(r"'((?:[^'\\]|\\.)*)'", lambda m: '"' + m.group(1).replace('"', '\\"') + '"', text)


def _folded_value(node: ast.Expr) -> object:
    if isinstance(node, ast.Literal):
        return node.value
    if isinstance(node, ast.Negate) and isinstance(node.operand, ast.Literal):
        return -node.operand.value  # type: ignore[operator]
    return pytest.fail(f"not folded to a constant: {node}")


def _same(got: object, expected: object) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool) or expected is None or got is None:
        return got is expected or (got == expected and type(got) is type(expected))
    return got == expected


@pytest.mark.parametrize(("file", "topic", "expression", "expected", "mode"), CASES,
                         ids=[f"{c[1]}:{c[2]}" for c in CASES])
def test_fold(shared, file: str, topic: str, expression: str, expected: object, mode: str) -> None:
    shared(*SUITE, file)
    if mode == "insensitive":
        pytest.skip("legacy case-insensitive mode: ES spells insensitivity in the operator (:, in~, fn~)")
    reason = KNOWN["cases"].get(expression) or KNOWN["topics"].get(topic)
    if reason:
        pytest.skip(f"known difference: {reason}")
    node = parse_expression(_double_quoted(expression))
    got = compile_expression(node)({})
    assert _same(got, expected), f"{expression}: evaluated to {got!r}, expected {expected!r}"
    folded = _folded_value(optimize(node))
    assert _same(folded, expected), f"{expression}: folded to {folded!r}, expected {expected!r}"


def test_suite_present_and_mostly_applicable(shared) -> None:
    """Guard against the harness silently running nothing (e.g. a format change upstream)."""
    shared(*SUITE, FILES[0])
    assert len(CASES) > 200
    runnable = [c for c in CASES if c[4] != "insensitive" and c[2] not in KNOWN["cases"]
                and c[1] not in KNOWN["topics"]]
    assert len(runnable) > 180


def test_known_differences_name_real_cases(shared) -> None:
    """Every entry of known_differences.toml must still exist upstream, so the list cannot rot."""
    shared(*SUITE, FILES[0])
    expressions = {c[2] for c in CASES}
    topics = {c[1] for c in CASES}
    assert set(KNOWN["cases"]) <= expressions
    assert set(KNOWN["topics"]) <= topics
