"""The combined prefilter never drops a line a rule matches (however JSON spells it), and category/guard dispatch
selects every rule that can match (`any`, multi-valued and non-string categories, coerced guard values)."""

from __future__ import annotations

import random

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.engine import compile_query
from vigil.engine import prefilter as prefilter_module
from vigil.engine.multi import MultiRuleEngine
from vigil.engine.prefilter import RulePrefilter, rule_literals

RULES = [
    'process where host.os.type == "linux" and process.name == "nping"',
    'process where host.os.type == "linux" and process.name : "NetCat*" and process.args : "-e"',
    'process where process.executable like~ "/tmp/*" and user.name in ("root", "admin")',
    'network where destination.port == 4444 and process.name in ("bash", "sh")',
    'file where file.path : "/etc/ſhadow" or file.name == "passwd"',
    'any where process.parent.name == "cron" and process.name == "curl"',
    'sequence by host.id with maxspan=1m [process where process.name == "wget"] [network where process.name == "wget"]',
    'sample by host.id [process where process.name == "ncat"] [network where destination.port == 9001]',
]

VALUES = {
    "host.os.type": ["linux", "windows"],
    "event.category": ["process", "network", "file", ["process", "network"], ["network", "file"]],
    "process.name": ["nping", "NETCAT", "netcat-openbsd", "bash", "curl", "wget", "ncat", "sh", "k\u212aill"],
    "process.args": [["-e", "/bin/sh"], ["-E"], ["-l"]],
    "process.executable": ["/TMP/x", "/tmp/a/b", "/usr/bin/x"],
    "process.parent.name": ["cron", "CRON", "sshd"],
    "user.name": ["root", "admin", "bob"],
    "destination.port": [4444, 9001, 22, "4444"],
    "file.path": ["/etc/shadow", "/ETC/SHADOW", "/etc/passwd"],
    "file.name": ["passwd", "shadow"],
    "host.id": ["h1", "h2"],
}


def _nest(flat):
    doc = {"@timestamp": "2026-01-01T00:00:00Z"}
    for name, value in flat.items():
        node = doc
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return doc


def _spell(value, rng):
    """JSON text of `value` where strings randomly use \\u escapes and escaped slashes, as some writers do."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_spell(k, rng)}:{_spell(v, rng)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_spell(v, rng) for v in value) + "]"
    if isinstance(value, str):
        out = []
        for ch in value:
            roll = rng.random()
            if roll < 0.05:
                out.append(f"\\u{ord(ch):04x}")
            elif ch == "/" and roll < 0.5:
                out.append("\\/")
            else:
                out.append(orjson.dumps(ch).decode()[1:-1])
        return '"' + "".join(out) + '"'
    return orjson.dumps(value).decode()


events = st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in VALUES.items()}).map(_nest)


@settings(max_examples=300, deadline=None)
@given(doc=events, seed=st.integers(0, 2**32 - 1), automaton=st.booleans())
def test_prefilter_never_drops_a_line_a_rule_matches(doc, seed, automaton):
    line = _spell(doc, random.Random(seed)).encode()
    assert orjson.loads(line) == doc
    compiled = [compile_query(q) for q in RULES]
    pre = RulePrefilter([rule_literals(c.query) for c in compiled], use_automaton=automaton)
    for index, c in enumerate(compiled):
        body_matches = c.matches(doc) if c.kind == "event" else any(
            compile_query(q).matches(doc) for q in _step_texts(c))
        if body_matches:
            assert pre.may_match(line), (RULES[index], line)
            assert pre.rule_may_match(index, line), (RULES[index], line)


def _step_texts(compiled):
    from vigil.engine.dispatch import step_queries
    from vigil.eql import ast

    return [ast.Query(step) for step in step_queries(compiled.query)]


@settings(max_examples=150, deadline=None)
@given(doc=events)
def test_dispatch_selects_every_rule_that_matches(doc):
    engine = MultiRuleEngine(RULES[:6])
    selected = engine.candidates(doc)
    for index, slot in enumerate(engine.slots):
        if slot.compiled.matches(doc):
            assert index in selected, RULES[index]


def test_any_and_multi_valued_categories():
    engine = MultiRuleEngine([
        'any where process.name == "curl"',
        'process where process.name == "curl"',
        'network where process.name == "curl"',
        'file where process.name == "curl"',
    ])
    doc = {"event": {"category": ["process", "network"]}, "process": {"name": "curl"}}
    assert [r for r, _ in engine.feed(doc)] == engine.rules[:3]
    # a category given as a number cannot be looked up by name: every bucket is consulted, the rules decide
    odd = {"event": {"category": 7}, "process": {"name": "curl"}}
    assert engine.candidates(odd) <= {0, 1, 2, 3}
    assert [r for r, _ in engine.feed(odd)] == engine.rules[:1]


def test_guard_values_that_es_coerces_are_not_lost():
    engine = MultiRuleEngine(['process where user.id == "0"', 'process where process.pid in ("42", "43")'])
    for doc, expected in [
        ({"event": {"category": "process"}, "user": {"id": 0}}, [0]),
        ({"event": {"category": "process"}, "process": {"pid": [7, 42]}}, [1]),
        ({"event": {"category": "process"}, "user": {"id": ["5", "0"]}}, [0]),
    ]:
        reference = [i for i, s in enumerate(engine.slots) if s.compiled.matches(doc)]
        assert reference == expected
        assert [engine.rules.index(r) for r, _ in engine.feed(doc)] == expected


def test_bad_rules_are_reported_with_their_location_and_the_rest_run():
    engine = MultiRuleEngine(['process where process.name == "x"', "process where (", 'any where foo("x")'])
    assert len(engine.slots) == 1 and len(engine.skipped) == 2
    text, error = engine.skipped[0]
    assert text == "process where (" and error.location is not None and error.location.line == 1


def test_automaton_and_fallback_agree(monkeypatch):
    monkeypatch.setattr(prefilter_module, "AUTOMATON_FROM", 1)
    compiled = [compile_query(q) for q in RULES]
    formulas = [rule_literals(c.query) for c in compiled]
    with_automaton = RulePrefilter(formulas)
    without = RulePrefilter(formulas, use_automaton=False)
    if prefilter_module.HAS_AUTOMATON:
        assert with_automaton.uses_automaton
    rng = random.Random(7)
    for _ in range(300):
        flat = {k: rng.choice(v) for k, v in VALUES.items() if rng.random() < 0.5}
        line = _spell(_nest(flat), rng).encode()
        assert with_automaton.may_match(line) == without.may_match(line)


@pytest.mark.parametrize("line", [b'{"a": "nothing here"}', b'{"x": 1}'])
def test_lines_without_any_needle_are_skipped(line):
    compiled = [compile_query(q) for q in RULES]
    pre = RulePrefilter([rule_literals(c.query) for c in compiled])
    assert pre.skips_lines and not pre.may_match(line)
