"""Real queries, used in place from ../shared: every EQL detection rule and every Elasticsearch conformance query
parses, checks and round-trips.

Historical file left out: `test_queries_supported.toml` is legacy endgame syntax that Elasticsearch itself
rejects (single-quoted strings, `=` as equality, `?'...'` raw strings, `match()`); it is asserted to FAIL here.
`test_between_queries.toml` and `test_sampling.toml`, the other two historical files, happen to be valid ES
syntax and are included.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from vigil.eql import ast, parse, to_eql
from vigil.errors import EqlError

CONFORMANCE_FILES = [
    "test_queries.toml", "test_extra.toml", "test_failing_shards.toml", "test_missing_events.toml",
    "test_queries_date.toml", "test_queries_date_nanos.toml", "test_sample_multi.toml",
    "test_between_queries.toml", "test_sampling.toml",
]
LEGACY_FILES = ["test_queries_supported.toml"]


def _round_trip(query: str) -> ast.Query:
    tree = parse(query)
    printed = to_eql(tree)
    again = parse(printed)
    assert again == tree, printed
    assert to_eql(again) == printed
    return tree


def _load_conformance(path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    # test_extra.toml writes bare `null` inside arrays (join_keys), which TOML does not allow; the values are
    # irrelevant to parsing, so quote them.
    text = re.sub(r"(?<=[\[,\s])null(?=\s*[,\]])", '"null"', text)
    return tomllib.loads(text).get("queries", [])


def test_every_eql_detection_rule_parses_and_round_trips(shared) -> None:
    root = shared("rules", "elastic")
    seen, failures = 0, []
    kinds: dict[str, int] = {}
    for path in sorted(root.rglob("*.toml")):
        rule = tomllib.loads(path.read_text(encoding="utf-8")).get("rule", {})
        if rule.get("language") != "eql" and rule.get("type") != "eql":
            continue
        seen += 1
        try:
            tree = _round_trip(rule["query"])
            kinds[type(tree.body).__name__] = kinds.get(type(tree.body).__name__, 0) + 1
        except (EqlError, AssertionError) as error:
            failures.append(f"{path.relative_to(root)}: {error}")
    assert seen >= 250, f"only {seen} EQL rules found under {root}"
    assert not failures, "\n".join(failures[:20])
    assert kinds.get("EventQuery", 0) > 0 and kinds.get("Sequence", 0) > 0


@pytest.mark.parametrize("name", CONFORMANCE_FILES)
def test_elasticsearch_conformance_queries_parse(shared, name: str) -> None:
    path = shared("conformance", "eql-elasticsearch", name)
    cases = _load_conformance(path)
    assert cases, f"no [[queries]] in {path}"
    failures = []
    for case in cases:
        try:
            _round_trip(case["query"])
        except (EqlError, AssertionError) as error:
            failures.append(f"{case.get('name')}: {error}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", LEGACY_FILES)
def test_legacy_conformance_queries_are_rejected_or_valid(shared, name: str) -> None:
    """The legacy file mixes valid ES queries with endgame-only ones; the endgame ones must fail cleanly."""
    cases = _load_conformance(shared("conformance", "eql-elasticsearch", name))
    rejected = 0
    for case in cases:
        try:
            _round_trip(case["query"])
        except EqlError:
            rejected += 1
    assert 0 < rejected < len(cases) + 1
