"""Threshold and new_terms self-tests: synthesized events fire the rule through the real hunt path, the near miss
does not; over every threshold and new_terms rule of Elastic's prebuilt set."""

from __future__ import annotations

import pytest

from tests.conftest import shared_path
from tests.rules_synth.test_synth_corpus import FOLDERS, known_limitations
from vigil.rules import load_rules
from vigil.rules.synth_aggregate import synthesize_aggregate
from vigil.rules.synth_values import CannotSynthesize


def _rules(kind: str):
    rules = []
    for folder in FOLDERS:
        result = load_rules(shared_path("rules", "elastic", folder))
        rules.extend(r for r in result.rules if r.type == kind)
    return rules


@pytest.mark.parametrize("kind, at_least", [("threshold", 4), ("new_terms", 59)])
def test_every_prebuilt_aggregate_rule_fires_and_its_near_miss_does_not(kind, at_least):
    rules = _rules(kind)
    assert len(rules) >= at_least
    known = known_limitations()
    failures = {}
    for rule in rules:
        result = synthesize_aggregate(rule)
        if not (result.positive_ok and result.negative_ok):
            failures[rule.rule_id] = f"{rule.name}: {result.reason}"
    unexpected = {k: v for k, v in failures.items() if k not in known}
    assert not unexpected, unexpected
    print(f"{kind}: {len(rules) - len(failures)}/{len(rules)} pass")


def _one(kind: str, rule_id: str):
    (rule,) = [r for r in _rules(kind) if r.rule_id == rule_id]
    return rule


def test_threshold_cardinality_varies_a_constrained_field():
    # file.path : /proc/*/cmdline, cardinality 100: the values vary inside the wildcard and still match
    result = synthesize_aggregate(_one("threshold", "0787daa6-f8c5-453b-a4ec-048037f6c1cd"))
    assert result.positive_ok and result.negative_ok, result.reason
    paths = {e["file"]["path"] for e in result.positive}
    assert len(paths) == 100 and all(p.startswith("/proc/") for p in paths)
    assert len({e["file"]["path"] for e in result.negative}) == 99


def test_new_terms_near_miss_repeats_the_term_earlier():
    result = synthesize_aggregate(_one("new_terms", "5c495612-9992-49a7-afe3-0f647671fb60"))
    assert result.positive_ok and result.negative_ok, result.reason
    assert len(result.positive) == 1 and len(result.negative) == 2
    assert result.negative[0]["@timestamp"] < result.negative[1]["@timestamp"]


def test_other_types_are_refused():
    (rule,) = [r for r in _rules("eql")[:1]]
    with pytest.raises(CannotSynthesize):
        synthesize_aggregate(rule)
