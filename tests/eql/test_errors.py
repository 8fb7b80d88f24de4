"""Every bad query gives a located EqlSyntaxError / EqlSemanticError, never a Lark exception or a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vigil.eql import parse
from vigil.errors import EqlError, EqlSemanticError, EqlSyntaxError

HERE = Path(__file__).parent
KINDS = {"syntax": EqlSyntaxError, "semantic": EqlSemanticError}


def _cases() -> list[dict]:
    return tomllib.loads((HERE / "parse_errors.toml").read_text(encoding="utf-8"))["error"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["query"][:50])
def test_error_is_located(case: dict) -> None:
    with pytest.raises(EqlError) as info:
        parse(case["query"])
    error = info.value
    assert type(error) is KINDS[case["kind"]], f"{type(error).__name__}: {error}"
    assert case["message"] in error.message
    assert (error.line, error.column) == (case["line"], case["column"]), str(error)
    if "hint" in case:
        assert error.hint and case["hint"] in error.hint, error.hint
    # The rendered error shows the offending line with a caret under the column.
    rendered = str(error).splitlines()
    assert rendered[0].startswith(f"line {case['line']}:{case['column']}: ")
    assert rendered[1] == "  " + case["query"].splitlines()[case["line"] - 1]
    assert rendered[2].index("^") == 2 + case["column"] - 1


def test_error_serialises_with_location() -> None:
    with pytest.raises(EqlSyntaxError) as info:
        parse("process where x = 1")
    data = info.value.to_dict()
    assert data["error"] == "EqlSyntaxError"
    assert data["location"]["line"] == 1 and data["location"]["column"] == 17


def test_non_text_input_is_an_eql_error() -> None:
    with pytest.raises(EqlSyntaxError):
        parse(None)  # type: ignore[arg-type]


def test_deep_nesting_is_an_eql_error_not_a_recursion_crash() -> None:
    query = "process where " + "(" * 5000 + "x == 1" + ")" * 5000
    try:
        parse(query)
    except EqlSyntaxError as error:
        assert "nests too deeply" in error.message
