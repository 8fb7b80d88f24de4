"""The one-pass engine gives exactly what running each rule on its own gives, over events that fire the real Linux
rules (synthesized by vigil.rules.synth) mixed with the shipped Defend sample telemetry."""

from __future__ import annotations

import datetime as dt
import importlib.resources
from collections import defaultdict

import orjson
import pytest

from tests.conftest import shared_path
from vigil.engine import compile_query
from vigil.engine.multi import MultiRuleEngine
from vigil.engine.query import sort_key

SPACING = dt.timedelta(minutes=30)  # each rule's events get their own half hour: longer than any maxspan


def _key(event):
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def _shift(doc, delta):
    """The document with its @timestamp moved by `delta` (synthesized events all start at the same moment)."""
    out = orjson.loads(orjson.dumps(doc))
    stamp = out.get("@timestamp")
    if isinstance(stamp, str):
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) + delta
        out["@timestamp"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return out


@pytest.fixture(scope="module")
def corpus():
    from vigil.rules import load_rules
    from vigil.rules.synth import synthesize_rule

    loaded = load_rules(shared_path("rules", "elastic", "linux"))
    rules = [r for r in loaded.rules if r.language == "eql" and r.query and r.runnable]
    events = []
    fired = 0
    for index, rule in enumerate(rules):
        try:
            synthesis = synthesize_rule(rule)
        except Exception:  # noqa: BLE001 - a rule the synthesizer cannot serve still runs over everyone's events
            continue
        fired += bool(synthesis.positive_ok)
        delta = SPACING * index
        events.extend(_shift(e, delta) for e in synthesis.positive + synthesis.negative)
    sample = importlib.resources.files("vigil.data.samples").joinpath("defend.ndjson").read_bytes()
    events.extend(orjson.loads(line) for line in sample.splitlines() if line.strip())
    events = [orjson.loads(orjson.dumps(e)) for e in sorted(events, key=sort_key)]  # as a file would give them
    assert fired > 200, "the synthesizer should fire most Linux rules"
    return rules, events


@pytest.fixture(scope="module")
def expected(corpus):
    rules, events = corpus
    return _separately(rules, events)


def _separately(rules, events):
    """rule name -> match keys, each rule compiled and run on its own (the reference)."""
    out = {}
    for rule in rules:
        compiled = compile_query(rule.query, category_field=rule.event_category_override or "event.category",
                                 timestamp_field=rule.timestamp_field or "@timestamp",
                                 tiebreaker_field=rule.tiebreaker_field)
        out[rule.rule_id] = [[_key(e) for e in m.events] for m in compiled.run(events)]
    return out


def _grouped(pairs, rules):
    got = {rule.rule_id: [] for rule in rules}
    for rule, match in pairs:
        got[rule.rule_id].append([_key(e) for e in match.events])
    return got


def _same(expected, got, kinds):
    for rule_id, matches in expected.items():
        if kinds[rule_id] == "sample":  # live samples come out as they form, ES orders them by key at the end
            assert sorted(got[rule_id]) == sorted(matches), rule_id
        else:
            assert got[rule_id] == matches, rule_id


def test_feed_equals_each_rule_alone(corpus, expected):
    rules, events = corpus
    engine = MultiRuleEngine(rules)
    assert len(engine.slots) == len(rules) and not engine.skipped
    pairs = [p for e in events for p in engine.feed(e)] + engine.close()
    kinds = {s.rule.rule_id: s.compiled.kind for s in engine.slots}
    assert sum(len(v) for v in expected.values()) > 250
    _same(expected, _grouped(pairs, rules), kinds)
    stats = engine.stats
    assert stats.events == len(events)
    # the dispatch index must spare most rule evaluations
    assert stats.evaluations < len(events) * len(rules) / 5


def test_run_files_equals_each_rule_alone(corpus, expected, tmp_path):
    rules, events = corpus
    path = tmp_path / "events.ndjson"
    with open(path, "wb") as out:
        for e in events:
            out.write(orjson.dumps(e) + b"\n")
        out.write(b'{"host": linux, "event": process\n')  # a bad line is counted and the rest still read
        out.write(b"{not json\n")  # no rule's literal: skipped unread, as the prefilter promises
    engine = MultiRuleEngine(rules)
    pairs = list(engine.run_files([str(path)]))
    kinds = {s.rule.rule_id: s.compiled.kind for s in engine.slots}
    _same(expected, _grouped(pairs, rules), kinds)
    stats = engine.stats
    assert stats.lines == len(events) + 2
    assert stats.bad == 1 and engine.reader.bad_lines[0].line == len(events) + 1
    assert stats.skipped >= 1


def test_feed_line_equals_run_files(corpus, expected):
    rules, events = corpus
    a = MultiRuleEngine(rules)
    lines = [orjson.dumps(e) for e in events]
    a.prefilter.calibrate(lines[:500])
    pairs = [p for line in lines for p in a.feed_line(line)] + a.close()
    kinds = {s.rule.rule_id: s.compiled.kind for s in a.slots}
    _same(expected, _grouped(pairs, rules), kinds)
    assert a.stats.lines == len(lines)


def test_prefilter_skips_lines_no_rule_can_match():
    windows = orjson.dumps({"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": ["process"]},
                            "host": {"os": {"type": "windows"}}, "process": {"name": "nping"}})
    engine = MultiRuleEngine(['process where host.os.type == "linux" and process.name == "nping"',
                              'network where host.os.type == "linux" and destination.port == 4444'])
    assert engine.feed_line(windows) == []
    assert engine.stats.skipped == 1 and engine.stats.decoded == 0
    linux = windows.replace(b"windows", b"linux")
    assert len(engine.feed_line(linux)) == 1


def test_per_rule_counts_and_bounded_sequence_state():
    rule = 'sequence by user.name [process where process.name == "a"] [process where process.name == "b"]'
    engine = MultiRuleEngine([rule, 'process where process.name == "b"'], max_sequence_states=3)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    counts = defaultdict(int)
    with pytest.warns(RuntimeWarning, match="state cap"):
        for i in range(10):
            doc = {"@timestamp": (base + dt.timedelta(seconds=i)).isoformat(), "event": {"category": "process"},
                   "process": {"name": "a"}, "user": {"name": f"u{i}"}}
            for r, _ in engine.feed(doc):
                counts[r] += 1
    closing = {"@timestamp": (base + dt.timedelta(seconds=20)).isoformat(), "event": {"category": "process"},
               "process": {"name": "b"}, "user": {"name": "u9"}}
    found = engine.feed(closing) + engine.close()
    assert [r for r, _ in found] == [rule, 'process where process.name == "b"']
    sequence_stats = engine.stats.rules[0]
    assert sequence_stats.evicted == 7 and sequence_stats.states == 2
    assert sequence_stats.matches == 1 and sequence_stats.fed == 11
