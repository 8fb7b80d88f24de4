"""Every runnable Linux EQL rule of Elastic's prebuilt set (and every KQL query rule) can fire in vigil: its
synthesized events match, and its near miss does not. Known exceptions live in known_limitations.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.conftest import shared_path
from vigil.engine import compile_query
from vigil.rules import load_rules
from vigil.rules.synth import synthesize_rule

HERE = Path(__file__).parent
FOLDERS = ("linux", "rules_building_block")


def corpus_rules(kind: str):
    rules = []
    for folder in FOLDERS:
        result = load_rules(shared_path("rules", "elastic", folder))
        assert not result.errors, [str(e) for e in result.errors]
        rules.extend(r for r in result.rules if r.type == kind)
    return rules


def known_limitations() -> dict[str, dict]:
    with open(HERE / "known_limitations.toml", "rb") as handle:
        return tomllib.load(handle).get("limitations", {})


def fires(rule, query, events) -> bool:
    cq = compile_query(query, category_field=rule.event_category_override or "event.category",
                       timestamp_field=rule.timestamp_field or "@timestamp", tiebreaker_field=rule.tiebreaker_field)
    return any(True for _ in cq.run(sorted(events, key=cq.sort_key)))


@pytest.mark.parametrize("kind, expected", [("eql", 295), ("query", 17)])
def test_every_rule_fires_on_its_positive_and_not_on_its_near_miss(kind, expected):
    rules = corpus_rules(kind)
    assert len(rules) == expected
    limitations = known_limitations()
    failed, passed = {}, 0
    for rule in rules:
        result = synthesize_rule(rule)
        # the verdict is re-checked here, independently of synth's own verification
        ok = result.ok and fires(rule, result.query, result.positive) and not fires(rule, result.query, result.negative)
        if ok:
            passed += 1
        else:
            failed[rule.rule_id] = f"{rule.name}: {result.reason}"
    unexpected = {k: v for k, v in failed.items() if k not in limitations}
    stale = sorted(k for k in limitations if k not in failed and any(r.rule_id == k for r in rules))
    assert not unexpected, unexpected
    assert not stale, f"now passing, remove from known_limitations.toml: {stale}"
    assert passed == expected - len(failed)
    print(f"{kind}: {passed}/{expected} rules proven to fire")
