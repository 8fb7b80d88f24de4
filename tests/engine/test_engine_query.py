"""compile_query(): event queries, sequences and samples end to end (real parser and compiler), pipes, streams."""

from __future__ import annotations

import pytest

from vigil.engine import DEFAULT_MAX_SEQUENCE_STATES, Match, compile_query, sort_key, timestamp_ns
from vigil.errors import EqlError

NPING = (
    'process where host.os.type == "linux" and event.type == "start" and event.action in ("exec", "exec_event", '
    '"start", "ProcessRollup2", "executed", "process_started") and process.name == "nping"'
)


def proc(n: int, name: str, ts: int, pid: int = 1, category: str | list = "process") -> dict:
    return {
        "@timestamp": ts,
        "n": n,
        "event": {"category": category, "type": ["start"], "action": "exec"},
        "host": {"os": {"type": "linux"}},
        "process": {"name": name, "pid": pid},
    }


def ns(matches: list[Match]) -> list[list[int | None]]:
    return [[None if e is None else e["n"] for e in m.events] for m in matches]


def test_nping_rule_matches_start_events_with_array_category():
    cq = compile_query(NPING)
    assert cq.matches(proc(1, "nping", 0, category=["process"]))
    assert not cq.matches(proc(2, "nmap", 0))
    assert [m.join_keys for m in cq.run([proc(1, "nping", 0), proc(2, "ls", 1)])] == [None]


def test_matches_is_for_event_queries_only():
    cq = compile_query("sequence [process where true] [process where true]")
    with pytest.raises(TypeError, match="event queries only"):
        cq.matches({})


def test_sequence_by_key_with_runs_and_pipes():
    events = [proc(i, "a", i, pid=i % 2) for i in range(1, 9)]
    cq = compile_query("sequence by process.pid [process where true] with runs=2 [process where true]")
    assert ns(list(cq.run(events))) == [[1, 3, 5], [2, 4, 6], [3, 5, 7], [4, 6, 8]]
    head = compile_query("sequence by process.pid [process where true] with runs=2 [process where true] | head 1")
    assert ns(list(head.run(events))) == [[1, 3, 5]]
    tail = compile_query("sequence by process.pid [process where true] with runs=2 [process where true] | tail 2")
    assert [m.join_keys for m in tail.run(events)] == [[1], [0]]


def test_head_stops_reading_input():
    consumed = []

    def events():
        for i in range(1000):
            consumed.append(i)
            yield proc(i, "nping", i)

    assert len(list(compile_query("process where true | head 3").run(events()))) == 3
    assert len(consumed) == 3


def test_tail_then_head_on_events():
    events = [proc(i, "x", i) for i in range(10)]
    assert ns(list(compile_query("process where true | tail 3 | head 2").run(events))) == [[7], [8]]


def test_stream_matches_run_and_flushes_tail_on_close():
    events = [proc(i, "x", i, pid=i % 3) for i in range(12)]
    text = "sequence by process.pid with maxspan=5ms [process where true] [process where true]"
    stream = compile_query(text).stream()
    live = [m for e in events for m in stream.feed(e)] + stream.close()
    assert ns(live) == ns(list(compile_query(text).run(events)))
    tail = compile_query(text + " | tail 1").stream()
    assert [m for e in events for m in tail.feed(e)] == []
    assert ns(tail.close()) == [[8, 11]]


def test_missing_step_gives_none_placeholder():
    events = [proc(1, "a", 1), proc(2, "a", 2), proc(3, "m", 3), proc(4, "a", 4)]
    cq = compile_query(
        'sequence with maxspan=1s [process where process.name == "a"] ![process where process.name == "m"] '
        '[process where process.name == "a"]'
    )
    assert ns(list(cq.run(events))) == [[1, None, 2]]


def test_sequence_events_without_timestamp_are_counted_and_skipped():
    stream = compile_query("sequence [process where true] [process where true]").stream()
    bad = proc(1, "a", 0)
    bad["@timestamp"] = "not a date"
    assert stream.feed(bad) == []
    assert stream.no_timestamp == 1


def test_sample_by_key():
    events = [proc(1, "a", 1, pid=7), proc(2, "b", 2, pid=7), proc(3, "a", 3, pid=8)]
    cq = compile_query('sample by process.pid [process where process.name == "a"] [process where process.name == "b"]')
    assert [(ns([m]), m.join_keys) for m in cq.run(events)] == [([[1, 2]], [7])]


def test_bad_query_is_a_located_eql_error():
    with pytest.raises(EqlError) as info:
        compile_query("sequence [process where true] by a [process where true] by a, b")
    assert "line" in str(info.value)


def test_defaults_are_documented_values():
    assert DEFAULT_MAX_SEQUENCE_STATES == 100_000
    assert compile_query("process where true").max_samples_per_key == 1


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2022-05-04T12:00:00.000Z", 1_651_665_600_000_000_000),
        ("1974-03-03T02:22:54.294365140Z", 131_509_374_294_365_140),
        ("2022-05-04T14:00:00+02:00", 1_651_665_600_000_000_000),
        ("2022-05-04", 1_651_622_400_000_000_000),
        (1516116808349, 1_516_116_808_349_000_000),
        ("1516116808349", 1_516_116_808_349_000_000),
        ("1.5", 1_500_000),
        (None, None),
        ("garbage", None),
    ],
)
def test_timestamp_ns(value, expected):
    assert timestamp_ns(value) == expected


def test_sort_key_orders_by_timestamp_then_tiebreaker():
    events = [{"@timestamp": "2", "seq": 2}, {"@timestamp": "1", "seq": 9}, {"@timestamp": "2", "seq": 1}]
    ordered = sorted(events, key=lambda e: sort_key(e, tiebreaker_field="seq"))
    assert [e["seq"] for e in ordered] == [9, 1, 2]
