"""The sequence state machine on hand-built stages (plain predicates), independent of the parser and compiler."""

from __future__ import annotations

import warnings

import pytest

from vigil.engine.sequence import SequenceMatcher, Stage

MS = 1_000_000


def ev(n: int, kind: str, key: str = "k", ts: int | None = None) -> dict:
    return {"n": n, "kind": kind, "key": key, "ts": n if ts is None else ts}


def stage(kind: str, missing: bool = False) -> Stage:
    return Stage(lambda e: e["kind"] == kind, lambda e: [(e["key"],)], missing)


def run(matcher: SequenceMatcher, events: list[dict]) -> list[list[int | None]]:
    out = []
    for i, e in enumerate(events):
        out += matcher.feed(e, (e["ts"] * MS, (2, 0), i))
    out += matcher.close()
    return [[None if x is None else x["n"] for x in r.events] for r in out]


def test_a_newer_partial_sequence_replaces_the_older_one_for_the_same_key():
    m = SequenceMatcher([stage("a"), stage("b")])
    assert run(m, [ev(1, "a"), ev(2, "a"), ev(3, "b"), ev(4, "b")]) == [[2, 3]]


def test_keys_keep_sequences_apart_and_results_of_one_event_are_ordered_by_key():
    m = SequenceMatcher([stage("a"), stage("b")])
    events = [ev(1, "a", "z"), ev(2, "a", "m"), {"n": 3, "kind": "b", "key": None, "ts": 3}]
    multi = Stage(lambda e: e["kind"] == "b", lambda e: [("z",), ("m",)])
    m = SequenceMatcher([stage("a"), multi])
    results = []
    for i, e in enumerate(events):
        results += m.feed(e, (e["ts"] * MS, (2, 0), i))
    assert [r.key for r in results] == [("m",), ("z",)]


def test_maxspan_is_inclusive():
    m = SequenceMatcher([stage("a"), stage("b")], maxspan_ns=10 * MS)
    assert run(m, [ev(1, "a", ts=0), ev(2, "b", ts=10)]) == [[1, 2]]
    m = SequenceMatcher([stage("a"), stage("b")], maxspan_ns=10 * MS)
    assert run(m, [ev(1, "a", ts=0), ev(2, "b", ts=11)]) == []


def test_until_drops_in_flight_sequences_of_its_key_only():
    m = SequenceMatcher([stage("a"), stage("b")], until=stage("stop"))
    events = [ev(1, "a", "x"), ev(2, "a", "y"), ev(3, "stop", "x"), ev(4, "b", "x"), ev(5, "b", "y")]
    assert run(m, events) == [[2, 5]]


def test_an_event_matching_both_until_and_the_last_stage_still_completes():
    both = Stage(lambda e: e["kind"] in ("b", "stop"), lambda e: [(e["key"],)])
    m = SequenceMatcher([stage("a"), stage("b")], until=both)
    assert run(m, [ev(1, "a"), ev(2, "b")]) == [[1, 2]]


def test_one_event_never_chains_with_itself_across_repeated_stages():
    m = SequenceMatcher([stage("a"), stage("a"), stage("a")])
    assert run(m, [ev(1, "a"), ev(2, "a"), ev(3, "a"), ev(4, "a")]) == [[1, 2, 3], [2, 3, 4]]


def test_middle_missing_event_rejects_the_candidate():
    m = SequenceMatcher([stage("a"), stage("m", missing=True), stage("b")], maxspan_ns=100 * MS)
    assert run(m, [ev(1, "a"), ev(2, "m"), ev(3, "b"), ev(4, "a"), ev(5, "b")]) == [[4, None, 5]]


def test_trailing_missing_waits_for_maxspan_in_a_stream():
    m = SequenceMatcher([stage("a"), stage("m", missing=True)], maxspan_ns=10 * MS)
    assert m.feed(ev(1, "a", ts=0), (0, (2, 0), 0)) == []  # a trailing "m" may still come
    assert m.feed(ev(2, "x", ts=10), (10 * MS, (2, 0), 1)) == []  # at the deadline: still possible
    released = m.feed(ev(3, "x", ts=11), (11 * MS, (2, 0), 2))
    assert [[e and e["n"] for e in r.events] for r in released] == [[1, None]]


def test_trailing_missing_event_inside_maxspan_rejects():
    m = SequenceMatcher([stage("a"), stage("m", missing=True)], maxspan_ns=10 * MS)
    assert run(m, [ev(1, "a", ts=0), ev(2, "m", ts=5), ev(3, "a", ts=20), ev(4, "m", ts=31)]) == [[3, None]]


def test_state_cap_evicts_oldest_and_warns_once():
    m = SequenceMatcher([stage("a"), stage("b")], max_states=2)
    events = [ev(i, "a", f"k{i}") for i in range(5)] + [ev(10, "b", "k0"), ev(11, "b", "k4")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run(m, events) == [[4, 11]]  # k0 was evicted, k4 survived
    assert m.evicted == 3 and m.states == 1
    assert len([w for w in caught if "state cap" in str(w.message)]) == 1


def test_expired_states_are_swept_as_time_passes():
    m = SequenceMatcher([stage("a"), stage("b")], maxspan_ns=5 * MS)
    for i in range(3000):
        m.feed(ev(i, "a", f"k{i}"), (i * MS, (2, 0), i))
    assert m.states < 1100  # swept every 1024 events: only the last maxspan's keys (plus one sweep period) remain


def test_a_sequence_needs_a_positive_stage():
    with pytest.raises(ValueError):
        SequenceMatcher([stage("m", missing=True)])
