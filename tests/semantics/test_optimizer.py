"""Optimizer passes, fixture-driven (optimizer_cases.toml: input EQL -> expected EQL), plus meaning preservation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vigil.engine.compiler import _query, _value  # the unoptimized compilers, to compare meaning
from vigil.eql import parse_expression, to_eql
from vigil.eql.optimizer import optimize

CASES = tomllib.loads((Path(__file__).parent / "optimizer_cases.toml").read_text())["cases"]

DOCS = [{}, {"a": 1, "b": 2, "c": 3, "d": 4, "x": 1}, {"process": {"name": ["b", "z"]}},
        {"process": {"name": "A1"}}, {"process.name": None}]


@pytest.mark.parametrize("case", CASES, ids=[c["input"] for c in CASES])
def test_optimizer_fixture(case: dict) -> None:
    node = parse_expression(case["input"])
    optimized = optimize(node)
    assert to_eql(optimized) == case["expected"]
    # the rewrite keeps the meaning on every sample document, in both evaluation contexts
    for doc in DOCS:
        assert _query(optimized)(doc) == _query(node)(doc), doc
        assert _value(optimized)(doc) == _value(node)(doc), doc


def test_optimize_is_idempotent() -> None:
    for case in CASES:
        once = optimize(parse_expression(case["input"]))
        assert optimize(once) == once
