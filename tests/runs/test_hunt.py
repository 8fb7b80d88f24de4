"""Retroactive hunts: no window, index patterns still apply, sequences over whole inputs, idempotent re-runs."""

from __future__ import annotations

import pytest
from tests.runs.run_fixtures import M, T, event, make_rule

from vigil.alerts import AlertStore
from vigil.runs.hunt import hunt


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "a.db") as s:
        yield s


def test_hunt_has_no_window_and_no_max_signals(tmp_path, store):
    rule = make_rule(tmp_path, max_signals=1)
    records = [event(n, T - n * 600 * M) for n in range(1, 5)]  # days apart
    [found] = hunt([rule], records, store=store)
    assert found.events_searched == 4 and len(found.new_alert_ids) == 4


def test_index_patterns_apply_unless_all_indices(tmp_path, store):
    rule = make_rule(tmp_path)
    records = [event(1, T, index="auditbeat-8.17.0"), event(2, T)]
    [found] = hunt([rule], records, store=store)
    assert [a.records[0].line for a in found.alerts] == [2] and found.events_searched == 1
    [everything] = hunt([rule], records, store=store, all_indices=True)
    assert everything.events_searched == 2 and len(everything.new_alert_ids) == 1  # line 2 is already stored


def test_sequences_are_ordered_before_matching(tmp_path, store):
    rule = make_rule(tmp_path, query='sequence by host.name with maxspan=5m [process where process.name == "a"] '
                                     '[process where process.name == "b"]')
    records = [event(2, T + M, name="b"), event(1, T, name="a")]  # file order is not time order
    [found] = hunt([rule], records, store=store)
    assert found.matches == 1 and len(found.alerts) == 3  # shell + two building blocks


def test_several_rules_read_the_input_once_and_a_broken_one_does_not_stop_the_others(tmp_path, store):
    good = make_rule(tmp_path)
    broken = make_rule(tmp_path, rule_id="7e5a1c2b-0000-4000-8000-000000000002", name="other")
    broken = broken.__class__(**{**broken.__dict__, "query": "process where"})
    consumed = []

    def records():
        for r in [event(1, T), event(2, T, name="ls")]:
            consumed.append(r)
            yield r

    first, second = hunt([good, broken], records(), store=store)
    assert len(consumed) == 2 and len(first.alerts) == 1
    assert second.error and "line 1" in second.error
