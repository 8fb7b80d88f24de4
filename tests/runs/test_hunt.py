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


def test_routing_records_by_step_index_changes_no_result(tmp_path, store, monkeypatch):
    """The hunt shows a record only to rules one of whose steps may match it (vigil/engine/stepindex.py); every
    rule's alerts, matches and searched counts equal those of showing every record to every rule it selects."""
    from vigil.runs import hunt as hunt_module

    rules = [
        make_rule(tmp_path),
        make_rule(tmp_path, rule_id="7e5a1c2b-0000-4000-8000-000000000003", name="seq",
                  query='sequence by host.name with maxspan=1h [process where process.name == "a"] '
                        '[process where process.name == "b"] until [process where process.name == "stop"]'),
        make_rule(tmp_path, rule_id="7e5a1c2b-0000-4000-8000-000000000004", name="any",
                  query='any where user.name : "ANA" and process.pid > 1003', index=["logs-*"]),
        make_rule(tmp_path, rule_id="7e5a1c2b-0000-4000-8000-000000000005", name="auditbeat only",
                  query='process where process.name in ("a", "nping")', index=["auditbeat-*"]),
    ]
    names = ["nping", "a", "ls", "b", "stop", "a", "b", "nping", "NPING", "a"]
    records = [event(n, T + n * M, name=name, user="ana" if n % 3 else "bob",
                     index="auditbeat-8" if n % 4 == 0 else "logs-endpoint.events.process-default")
               for n, name in enumerate(names, start=1)]
    monkeypatch.setattr(hunt_module, "ROUTE_FROM", 1)  # route even these few rules through the index
    routed = hunt(rules, records, store=store)

    def every_selected_rule(router, record):  # the reference: no step index
        router.searched[record.index] = router.searched.get(record.index, 0) + 1
        selected = router.selected(record.index)
        return [st for p, st in enumerate(router.states) if selected >> p & 1]

    monkeypatch.setattr(hunt_module._Router, "targets", every_selected_rule)
    with AlertStore(tmp_path / "reference.db") as own:
        reference = hunt(rules, records, store=own)
    for found, expected in zip(routed, reference):
        assert (found.events_searched, found.excepted, found.matches) == \
            (expected.events_searched, expected.excepted, expected.matches), found.rule.name
        assert sorted(a.id for a in found.alerts) == sorted(a.id for a in expected.alerts), found.rule.name
    # nping on line 1 (line 8 is in auditbeat-*); a..b on 6..7 (the first a is cancelled by `stop`); lines 5, 7
    # and 10 (pid > 1003, user ana, logs-* selects no auditbeat-* index); line 8 in auditbeat-*
    assert [f.matches for f in routed] == [1, 1, 3, 1]
    assert [f.events_searched for f in routed] == [8, 8, 8, 2]
