"""Candidate values: regex examples, wildcard instances and merges (each checked with vigil's own matchers)."""

from __future__ import annotations

import pytest

from vigil.eql import ast
from vigil.eql import semantics as sem
from vigil.rules.synth_values import (
    CannotSynthesize,
    instantiate,
    literal_candidates,
    merge_wildcards,
    regex_example,
)

REGEXES = [
    "abc",
    ".*",
    "[a-z]+[0-9]{3}",
    "(foo|bar)baz?",
    "[^/]+/x",
    "\\d+\\.\\d+",
    '"lit*eral"x+',
    "/tmp/[^.]{2,5}\\.sh",
    ".*(curl|wget).*\\|.*(ba)?sh.*",
    "@tail",
    "[\\w.-]+@[a-z]+",
]


@pytest.mark.parametrize("pattern", REGEXES)
@pytest.mark.parametrize("more", [False, True])
def test_regex_example_matches_whole_value(pattern, more):
    value = regex_example(pattern, more=more)
    assert sem.regex_matcher(pattern, insensitive=False)(value), (pattern, value)


@pytest.mark.parametrize("pattern, what", [("a&b", "intersection"), ("~a", "complement"), ("<1-5>", "interval"),
                                           ("#", "nothing"), ("[a-", "unclosed")])
def test_regex_example_refuses_what_it_cannot_build(pattern, what):
    with pytest.raises(CannotSynthesize, match=what):
        regex_example(pattern)


def test_instantiate_fills_wildcards():
    assert instantiate("/u0?/app/*/nmo") == "/u0a/app/x/nmo"
    assert sem.wildcard_matcher("/u0?/app/*/nmo", False)(instantiate("/u0?/app/*/nmo"))


@pytest.mark.parametrize("patterns", [("/tmp/*", "*.sh"), ("*curl*", "*http*", "*| sh*"), ("/dev/shm/*", "*/*"),
                                      ("python*", "*3*")])
def test_merge_wildcards_meets_every_pattern(patterns):
    merged = merge_wildcards(patterns)
    assert merged is not None
    assert all(sem.wildcard_matcher(p, False)(merged) for p in patterns), merged


def test_merge_wildcards_reports_conflicting_prefixes():
    assert merge_wildcards(("/tmp/*", "/var/*")) is None
    assert merge_wildcards(("exact", "*x")) is None
    assert merge_wildcards(("/TMP/*", "/tmp/x*"), insensitive=True) is not None


def test_literal_candidates_cover_functions_and_lengths():
    field = ast.Field("destination.ip")
    cidr = ast.FunctionCall("cidrMatch", (field, ast.Literal("10.0.0.0/8")))
    assert "10.0.0.1" in literal_candidates(cidr)
    length = ast.Comparison(">", ast.FunctionCall("length", (ast.Field("x"),)), ast.Literal(3))
    assert any(isinstance(v, str) and len(v) == 4 for v in literal_candidates(length))
