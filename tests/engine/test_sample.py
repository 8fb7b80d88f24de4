"""`sample` matching: ES's per-key backtracking over the first hits of each step."""

from __future__ import annotations

from vigil.engine.sample import SampleMatcher, SampleStep


def step(kind: str) -> SampleStep:
    return SampleStep(lambda e: kind in e["kinds"], lambda e: [(e["os"],)])


def ids(results) -> list[list[int]]:
    return [[e["id"] for e in r.events] for r in results]


def test_one_distinct_event_per_step_keys_in_order():
    m = SampleMatcher([step("a"), step("b")], max_samples_per_key=2)
    events = [
        {"id": 1, "kinds": "ab", "os": "win"},  # matches both steps but may be used once per sample
        {"id": 2, "kinds": "b", "os": "win"},
        {"id": 3, "kinds": "a", "os": "linux"},
        {"id": 4, "kinds": "b", "os": "linux"},
        {"id": 5, "kinds": "a", "os": "mac"},  # no "b" for mac: no sample
    ]
    for e in events:
        m.feed(e)
    assert ids(m.finish()) == [[3, 4], [1, 2]]
    assert [r.key for r in m.finish()] == [("linux",), ("win",)]


def test_only_the_first_max_samples_per_key_hits_of_a_step_are_candidates():
    # ES fetches max_samples_per_key hits per step and key: with 1, step "b" of win only sees event 1, which step
    # "a" already uses, so win has no sample even though event 2 could complete one
    m = SampleMatcher([step("a"), step("b")], max_samples_per_key=1)
    m.feed({"id": 1, "kinds": "ab", "os": "win"})
    m.feed({"id": 2, "kinds": "b", "os": "win"})
    assert m.finish() == []


def test_max_samples_per_key_and_reuse_across_samples():
    m = SampleMatcher([step("a"), step("b")], max_samples_per_key=3)
    for i, kinds in enumerate(["a", "a", "b", "a"], start=1):
        m.feed({"id": i, "kinds": kinds, "os": "w"})
    assert ids(m.finish()) == [[1, 3], [2, 3], [4, 3]]


def test_feed_emits_new_samples_once_and_caps_per_key():
    m = SampleMatcher([step("a"), step("b")], max_samples_per_key=2)
    assert m.feed({"id": 1, "kinds": "a", "os": "w"}) == []
    assert ids(m.feed({"id": 2, "kinds": "b", "os": "w"})) == [[1, 2]]
    assert ids(m.feed({"id": 3, "kinds": "a", "os": "w"})) == [[3, 2]]
    assert m.feed({"id": 4, "kinds": "a", "os": "w"}) == []
