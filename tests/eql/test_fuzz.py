"""Garbage in, EqlError out: the front end never leaks another exception type, whatever the input."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.eql import parse, parse_expression, to_eql
from vigil.errors import EqlError

# Fragments of real syntax make the fuzzer reach deep parser states, not just fail on the first character.
FRAGMENTS = [
    "process", "any", "where", "sequence", "sample", "by", "with", "maxspan", "=", "==", "!=", "<", ">=", "runs",
    "until", "[", "]", "![", "(", ")", ",", ".", "?", "and", "or", "not", "in", "in~", ":", "like", "like~",
    "regex~", "|", "head", "tail", "unique", "-", "+", "*", "/", "%", "1", "2.5", "1e3", "5m", "null", "true",
    '"a*"', '"\\u{41}"', '"\\q"', '"""raw"""', "'x'", "`f g`", "`", '"', "x", "process.name", "startsWith~",
    "cidrMatch", "length", "foo", "@timestamp", " ", "\n", "//c\n", "/*", "*/", "~", "&&", "\\",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25).map(" ".join))
def test_token_soup_only_raises_eql_errors(text: str) -> None:
    try:
        tree = parse(text)
    except EqlError:
        return
    # Whatever parsed must round-trip.
    assert parse(to_eql(tree)) == tree


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_only_raises_eql_errors(text: str) -> None:
    for entry in (parse, parse_expression):
        try:
            entry(text)
        except EqlError:
            pass
        try:
            entry("process where " + text)
        except EqlError:
            pass
