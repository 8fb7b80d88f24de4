"""Field getters over nested, flattened and mixed documents."""

from __future__ import annotations

import pytest

from vigil.engine.fields import getter


@pytest.mark.parametrize(("path", "doc", "expected"), [
    ("a", {"a": 1}, 1),
    ("a", {"a": [1]}, 1),
    ("a", {"a": [1, [2, None]]}, [1, 2]),
    ("a", {"a": []}, None),
    ("a", {"a": None}, None),
    ("a.b", {"a": {"b": "x"}}, "x"),
    ("a.b", {"a.b": "x"}, "x"),
    ("a.b.c", {"a": {"b.c": "x"}}, "x"),
    ("a.b.c", {"a.b": {"c": "x"}}, "x"),
    ("a.b.c", {"a": [{"b": {"c": 1}}, {"b": {"c": [2, 3]}}, {"b": None}]}, [1, 2, 3]),
    ("a.b", {"a": "str"}, None),
    ("a.b", {"a": {"c": 1}}, None),
    ("a.b", {}, None),
    ("a.b", {"a": {"b": {"c": 1}}}, {"c": 1}),
    ("a.b.c.d.e", {"a": {"b": {"c": {"d": {"e": 5}}}}}, 5),
    ("a.b.c.d.e", {"a.b.c": {"d.e": 5}}, 5),
    ("@timestamp", {"@timestamp": "t"}, "t"),
])
def test_getter(path: str, doc: dict, expected: object) -> None:
    assert getter(path)(doc) == expected


def test_nested_wins_over_flattened_spelling() -> None:
    assert getter("a.b")({"a": {"b": 1}, "a.b": 2}) == 1


def test_getter_is_cached() -> None:
    assert getter("x.y") is getter("x.y")


def test_quotes_in_field_names_are_safe() -> None:
    """Getters are generated source: a field name with quotes must stay data."""
    name = "a'b\".c"
    assert getter(name)({"a'b\"": {"c": 7}}) == 7
