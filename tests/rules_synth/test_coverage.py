"""`vigil.rules.coverage` over the shared corpus, and the ATT&CK Navigator layer's structure."""

from __future__ import annotations

import re

import orjson
import pytest

from tests.conftest import shared_path
from vigil.rules import load_rules
from vigil.rules.coverage import attack_layer, coverage_report, tactic_shortname

TACTICS = {"reconnaissance", "resource-development", "initial-access", "execution", "persistence",
           "privilege-escalation", "defense-evasion", "credential-access", "discovery", "lateral-movement",
           "collection", "command-and-control", "exfiltration", "impact"}


@pytest.fixture(scope="module")
def linux_rules():
    return load_rules(shared_path("rules", "elastic", "linux")).rules


@pytest.fixture(scope="module")
def report(linux_rules):
    return coverage_report(linux_rules)


def test_counts_by_type_and_status(linux_rules, report):
    counts = report.counts()
    assert sum(sum(c.values()) for c in counts.values()) == 363
    assert counts["eql"] == {"runnable": 287}
    assert counts["esql"] == {"unsupported": 8}
    # KQL types: runnable exactly when the rule model says vigil executes them, and their queries all compile
    for kind, total in (("query", 16), ("new_terms", 49), ("threshold", 3)):
        sample = next(r for r in linux_rules if r.type == kind)
        assert counts[kind] == {("runnable" if sample.runnable else "unsupported"): total}
        assert all(e.compiles for e in report.entries if e.rule.type == kind)
    assert all(e.reason for e in report.entries if e.status != "runnable")
    assert len(report.runnable) == report.status_counts()["runnable"]


def test_broken_query_is_an_error_with_its_location(linux_rules):
    import dataclasses

    rule = next(r for r in linux_rules if r.type == "eql")
    broken = dataclasses.replace(rule, query="process where process.name ==")
    (entry,) = coverage_report([broken]).entries
    assert entry.status == "error" and entry.compiles is False and "line 1" in entry.reason


def test_layer_structure(report):
    layer = attack_layer(report.runnable, platforms=["Linux"])
    orjson.dumps(layer)  # JSON-serialisable as is
    assert layer["versions"]["layer"] == "4.5" and layer["domain"] == "enterprise-attack"
    assert layer["name"] and layer["filters"] == {"platforms": ["Linux"]}
    assert layer["gradient"]["maxValue"] > layer["gradient"]["minValue"]
    techniques = layer["techniques"]
    assert len(techniques) > 100
    pairs = {(t["techniqueID"], t["tactic"]) for t in techniques}
    assert len(pairs) == len(techniques)  # one entry per (technique, tactic)
    for entry in techniques:
        assert re.fullmatch(r"T\d{4}(\.\d{3})?", entry["techniqueID"])
        assert entry["tactic"] in TACTICS
        assert entry["score"] >= 1
        assert entry["comment"].startswith(f"{entry['score']} rule(s): ")
    nping = next(t for t in techniques if t["techniqueID"] == "T1046" and t["tactic"] == "discovery")
    assert "Nping Process Activity" in nping["comment"]
    assert max(t["score"] for t in techniques) == layer["gradient"]["maxValue"]
    assert any("." in t["techniqueID"] for t in techniques)  # subtechniques are listed too


def test_tactic_shortname():
    assert tactic_shortname("Command and Control") == "command-and-control"
    assert tactic_shortname("Privilege Escalation") == "privilege-escalation"


def test_empty_layer_is_valid():
    layer = attack_layer([])
    assert layer["techniques"] == [] and layer["gradient"]["maxValue"] == 1 and "filters" not in layer
