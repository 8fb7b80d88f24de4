"""The one-pass engine's shortcuts change costs, never answers: step predicates evaluated once per event (memo),
calibration masks from one Aho-Corasick pass, the cap on per-rule literal scans, generated dispatch."""

from __future__ import annotations

import bisect
import random

import orjson
import pytest

from vigil.engine import compile_query
from vigil.engine import prefilter as prefilter_module
from vigil.engine.multi import MultiRuleEngine
from vigil.engine.prefilter import RulePrefilter, rule_literals

SEQUENCE = ('sequence by host.id with maxspan=1m [process where process.name == "wget"] '
            '[network where process.name == "wget"]')


def _event(second, category, name, host="h1"):
    return {"@timestamp": f"2026-01-01T00:00:{second:02d}Z", "event": {"category": [category]},
            "process": {"name": name}, "host": {"id": host}}


def test_step_memo_answers_once_per_event_and_never_for_a_changed_document():
    engine = MultiRuleEngine([SEQUENCE])
    first = _event(1, "process", "wget")
    assert engine.feed(first) == []
    # the same dict object, changed and fed again: evaluated afresh, not answered from the memo
    first["process"]["name"] = "curl"
    first["@timestamp"] = "2026-01-01T00:00:02Z"
    assert engine.feed(first) == []
    found = engine.feed(_event(3, "network", "wget"))
    assert len(found) == 1  # the sequence started by the first (wget) event completes
    assert engine.stats.rules[0].matches == 1


def test_a_compiled_query_passed_in_is_left_as_it_was():
    compiled = compile_query(SEQUENCE)
    predicates = [stage.predicate for stage in compiled._stages]
    engine = MultiRuleEngine([compiled])
    engine.feed(_event(1, "process", "wget"))
    assert [stage.predicate for stage in compiled._stages] == predicates
    assert [m.events[0]["process"]["name"] for m in compiled.run([_event(1, "process", "wget"),
                                                                  _event(2, "network", "wget")])] == ["wget"]


def test_piped_event_query_is_evaluated_through_its_memo():
    engine = MultiRuleEngine(['process where process.name == "wget" | head 1'])
    out = [engine.feed(_event(i, "process", "wget")) for i in range(3)]
    assert [len(o) for o in out] == [1, 0, 0]


@pytest.mark.skipif(not prefilter_module.HAS_AUTOMATON, reason="pyahocorasick is not installed")
def test_automaton_calibration_masks_equal_one_find_per_text():
    rng = random.Random(7)
    words = [b"nping", b"NPING", b"linux", b"/tmp/", b"curl", b"Wget", b"\\u00", b"\xc3\xa9"]
    lines = [b'{"x":"' + b" ".join(rng.choice(words) for _ in range(rng.randint(0, 5))) + b'"}' for _ in range(300)]
    block = b"\n".join(lines) + b"\n"
    lowered = block.lower()
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    tests = {(w, folded) for w in (b"nping", b"NPING", b"wget", b"linux", b"/tmp/", b"\\u", b"\xc3\xa9", b"zzz")
             for folded in (False, True) if not (folded and w != w.lower())}
    masks = prefilter_module._automaton_masks(tests, block, lowered, starts)
    for text, folded in tests:
        hay, bits, pos = (lowered if folded else block), 0, 0
        while (pos := hay.find(text, pos)) >= 0:
            index = bisect.bisect_right(starts, pos) - 1
            bits |= 1 << index
            pos = starts[index + 1]
        assert masks[(text, folded)] == bits, (text, folded)


def test_rules_with_long_literal_clauses_skip_the_per_rule_scan_but_still_match():
    names = ", ".join(f'"tool{i}"' for i in range(prefilter_module.MAX_RULE_TESTS + 3))
    rules = [f"any where process.name in ({names})", 'process where process.name == "nping"']
    formulas = [rule_literals(compile_query(r).query) for r in rules]
    prefilter = RulePrefilter(formulas)
    assert 0 not in prefilter.rule_tests  # too many scans: evaluated directly
    assert 1 in prefilter.rule_tests
    engine = MultiRuleEngine(rules)
    assert 0 not in engine.prefilter.rule_tests
    doc = _event(1, "process", "tool2")
    assert [r for r, _ in engine.feed_line(orjson.dumps(doc))] == [rules[0]]
