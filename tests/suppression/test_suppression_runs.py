"""Suppression through real executions: a TOML rule, hand-written events, a real SQLite store."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.runs.run_fixtures import M, T, event, make_rule
from vigil.alerts import AlertStore
from vigil.alerts.document import event_id
from vigil.alerts.ids import event_alert_id, rule_uuid
from vigil.alerts.suppression import object_hash
from vigil.alerts.times import js_iso
from vigil.alerts.workflow import close
from vigil.runs import messages
from vigil.runs.executor import execute_rule
from vigil.runs.hunt import hunt
from vigil.runs.suppress import SUPPRESSION_MAX_SIGNALS_WARNING

HOST = {"name": "web-01", "os": {"type": "linux"}}


def on(host: str) -> dict:
    return {"host": {"name": host, "os": {"type": "linux"}}}


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "alerts.db") as s:
        yield s


def run(rule, records, store, at):
    return execute_rule(rule, list(records), store=store, started_at=at, created_at=at)


def stored(store) -> dict[str, dict]:
    """Every stored alert document by id."""
    return {a.id: a.document for a in store.list_alerts(limit=None)}


def by_instance(docs) -> dict:
    return {d.get("kibana.alert.instance.id"): d for d in docs}


def expected_instance(rule, terms) -> str:
    return object_hash([terms, rule_uuid(rule.rule_id), "default"])


def alert_id_of(record, rule) -> str:
    return event_alert_id(record.index, event_id(record), None, "default", rule_uuid(rule.rule_id))


def test_one_alert_per_group_within_an_execution(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"]})
    events = [event(1, T - 6 * M, **on("web-01")), event(2, T - 5 * M, **on("web-02")),
              event(3, T - 4 * M, **on("web-01")), event(4, T - 2 * M, **on("web-01"))]
    result = run(rule, reversed(events), store, T)  # input order does not matter: EQL orders by time
    assert result.status == messages.SUCCEEDED, result.message
    docs = stored(store)
    assert len(docs) == 2 and len(result.new_alert_ids) == 2

    groups = by_instance(docs.values())
    web01 = groups[expected_instance(rule, [{"field": "host.name", "value": ["web-01"]}])]
    web02 = groups[expected_instance(rule, [{"field": "host.name", "value": ["web-02"]}])]
    # the group's alert is the alert of its earliest event, with Kibana's id for that event
    assert web01["kibana.alert.uuid"] == alert_id_of(events[0], rule)
    assert web01["kibana.alert.suppression.terms"] == [{"field": "host.name", "value": ["web-01"]}]
    assert web01["kibana.alert.suppression.docs_count"] == 2  # two events suppressed into it
    assert web01["kibana.alert.suppression.start"] == js_iso(T - 6 * M)
    assert web01["kibana.alert.suppression.end"] == js_iso(T - 2 * M)
    assert web01["kibana.alert.original_time"] == js_iso(T - 6 * M)
    assert web02["kibana.alert.suppression.docs_count"] == 0
    assert web02["kibana.alert.suppression.start"] == web02["kibana.alert.suppression.end"] == js_iso(T - 5 * M)


def test_without_duration_a_new_execution_makes_a_new_alert_but_never_recounts(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"]})
    first = [event(1, T - 6 * M), event(2, T - 3 * M), event(3, T - 1 * M)]
    run(rule, first, store, T)
    [alert] = stored(store).values()
    assert alert["kibana.alert.suppression.docs_count"] == 2

    # the next execution (T+5m, window T-4m..T+5m) sees two old events again in the overlap, and one new one
    later = first + [event(4, T + 2 * M)]
    second = run(rule, later, store, T + 5 * M)
    docs = stored(store)
    assert len(docs) == 2 and len(second.new_alert_ids) == 1
    fresh = docs[second.new_alert_ids[0]]
    assert fresh["kibana.alert.uuid"] == alert_id_of(later[3], rule)
    assert fresh["kibana.alert.suppression.docs_count"] == 0  # the re-seen events were not counted again
    assert fresh["kibana.alert.instance.id"] == alert["kibana.alert.instance.id"]
    assert docs[alert["kibana.alert.uuid"]] == alert  # the first execution's alert is untouched


def test_with_duration_a_later_execution_extends_the_open_alert(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"], "duration": {"value": 1, "unit": "h"}})
    run(rule, [event(1, T - 6 * M), event(2, T - 3 * M)], store, T)
    [alert] = stored(store).values()
    second = run(rule, [event(1, T - 6 * M), event(2, T - 3 * M), event(3, T + 1 * M), event(4, T + 3 * M)],
                 store, T + 5 * M)
    assert second.new_alert_ids == [] and second.status == messages.SUCCEEDED
    [after] = stored(store).values()
    assert after["kibana.alert.uuid"] == alert["kibana.alert.uuid"]
    assert after["kibana.alert.suppression.docs_count"] == 1 + 2  # one from the first run, two now
    assert after["kibana.alert.suppression.start"] == js_iso(T - 6 * M)  # unchanged
    assert after["kibana.alert.suppression.end"] == js_iso(T + 3 * M)  # extended
    assert after["kibana.alert.last_detected"] == js_iso(T + 5 * M)
    assert after["@timestamp"] == after["kibana.alert.start"] == js_iso(T)  # the alert itself keeps its times
    assert [a.new for a in second.alerts] == [False] and second.alerts[0].doc["kibana.alert.suppression.docs_count"] == 3

    # a third run inside the hour extends it again; nothing already counted is counted twice
    third = run(rule, [event(3, T + 1 * M), event(4, T + 3 * M), event(5, T + 8 * M)], store, T + 10 * M)
    assert third.new_alert_ids == []
    [after] = stored(store).values()
    assert after["kibana.alert.suppression.docs_count"] == 4
    assert after["kibana.alert.suppression.end"] == js_iso(T + 8 * M)


def test_an_alert_older_than_the_duration_is_not_extended(tmp_path, store):
    # Kibana compares the alert's creation time (kibana.alert.start) with now - duration
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"], "duration": {"value": 4, "unit": "m"}})
    run(rule, [event(1, T - 6 * M)], store, T)
    second = run(rule, [event(2, T + 2 * M)], store, T + 5 * M)
    assert len(second.new_alert_ids) == 1
    docs = stored(store)
    assert len(docs) == 2 and all(d["kibana.alert.suppression.docs_count"] == 0 for d in docs.values())


def test_a_closed_alert_is_never_extended(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"], "duration": {"value": 1, "unit": "h"}})
    run(rule, [event(1, T - 6 * M), event(2, T - 3 * M)], store, T)
    [alert] = stored(store).values()
    close(store, [alert["kibana.alert.uuid"]], user="tester")
    closed = stored(store)[alert["kibana.alert.uuid"]]

    second = run(rule, [event(3, T + 1 * M), event(4, T + 2 * M)], store, T + 5 * M)
    assert len(second.new_alert_ids) == 1
    docs = stored(store)
    assert docs[alert["kibana.alert.uuid"]] == closed  # untouched
    fresh = docs[second.new_alert_ids[0]]
    assert fresh["kibana.alert.workflow_status"] == "open" and fresh["kibana.alert.suppression.docs_count"] == 1
    assert fresh["kibana.alert.instance.id"] == alert["kibana.alert.instance.id"]


def test_missing_fields_are_one_null_group_with_suppress(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name", "source.ip"]})
    events = [event(1, T - 6 * M, source={"ip": "10.0.0.1"}), event(2, T - 5 * M), event(3, T - 4 * M),
              event(4, T - 3 * M, host={"os": {"type": "linux"}})]
    run(rule, events, store, T)
    groups = by_instance(stored(store).values())
    assert len(groups) == 3
    no_ip = groups[expected_instance(rule, [{"field": "host.name", "value": ["web-01"]},
                                            {"field": "source.ip", "value": None}])]
    assert no_ip["kibana.alert.suppression.docs_count"] == 1
    nothing = groups[expected_instance(rule, [{"field": "host.name", "value": None},
                                              {"field": "source.ip", "value": None}])]
    assert nothing["kibana.alert.suppression.terms"][0] == {"field": "host.name", "value": None}


def test_missing_fields_make_ordinary_alerts_with_do_not_suppress(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name", "source.ip"],
                                                  "missing_fields_strategy": "doNotSuppress"})
    events = [event(1, T - 6 * M, source={"ip": "10.0.0.1"}), event(2, T - 5 * M, source={"ip": "10.0.0.1"}),
              event(3, T - 4 * M), event(4, T - 3 * M)]
    result = run(rule, events, store, T)
    docs = stored(store)
    assert len(docs) == 3 and len(result.new_alert_ids) == 3
    plain = [d for d in docs.values() if "kibana.alert.instance.id" not in d]
    assert sorted(d["kibana.alert.uuid"] for d in plain) == sorted(alert_id_of(e, rule) for e in events[2:])
    assert not any(k.startswith("kibana.alert.suppression") for d in plain for k in d)
    [grouped] = [d for d in docs.values() if "kibana.alert.instance.id" in d]
    assert grouped["kibana.alert.suppression.docs_count"] == 1


def test_identical_arrays_group_together_whatever_their_order(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["tags"]})
    events = [event(1, T - 6 * M, tags=["b", "a"]), event(2, T - 5 * M, tags=["a", "b"]),
              event(3, T - 4 * M, tags=["a"]), event(4, T - 3 * M, tags=["a", "b", "c"])]
    run(rule, events, store, T)
    groups = by_instance(stored(store).values())
    assert len(groups) == 3
    ab = groups[expected_instance(rule, [{"field": "tags", "value": ["a", "b"]}])]
    assert ab["kibana.alert.suppression.docs_count"] == 1
    assert ab["kibana.alert.suppression.terms"] == [{"field": "tags", "value": ["a", "b"]}]


def test_the_timestamp_override_sets_the_suppression_times(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"]}, timestamp_override="event.ingested")
    events = [event(1, T - 7 * M, ingested=T - 6 * M), event(2, T - 5 * M, ingested=T - 1 * M)]
    run(rule, events, store, T)
    [alert] = stored(store).values()
    assert alert["kibana.alert.suppression.start"] == js_iso(T - 6 * M)
    assert alert["kibana.alert.suppression.end"] == js_iso(T - 1 * M)


def test_max_signals_caps_what_is_searched_and_warns_as_kibana(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"]}, max_signals=3)
    events = [event(i, T - (8 - i) * M, **on(f"web-{i % 2}")) for i in range(5)]
    result = run(rule, events, store, T)
    assert result.status == messages.PARTIAL_FAILURE and result.message == SUPPRESSION_MAX_SIGNALS_WARNING
    docs = by_instance(stored(store).values())
    assert len(docs) == 2  # the 3 earliest events: web-0, web-1, web-0
    assert sum(d["kibana.alert.suppression.docs_count"] for d in docs.values()) == 1


def test_a_bad_setting_fails_the_execution_with_its_location(tmp_path, store):
    # Rule files are validated when loaded; a rule built in code with a bad setting still fails its execution cleanly.
    rule = dataclasses.replace(make_rule(tmp_path), alert_suppression={"group_by": ["host.name"],
                                                                        "duration": {"value": 5, "unit": "d"}})
    result = run(rule, [event(1, T - 6 * M)], store, T)
    assert result.status == messages.FAILED
    assert "rule.alert_suppression.duration.unit" in result.message and rule.location in result.message
    assert store.count() == 0


def test_sequences_are_not_suppressed(tmp_path, store):
    query = 'sequence by host.name [process where process.name == "nping"] [process where process.name == "nping"]'
    events = [event(1, T - 6 * M), event(2, T - 5 * M), event(3, T - 4 * M), event(4, T - 3 * M)]
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"]}, query=query)
    result = run(rule, events, store, T)
    assert result.status == messages.SUCCEEDED
    assert not any("kibana.alert.instance.id" in d for d in stored(store).values())
    with AlertStore(tmp_path / "plain.db") as plain:  # the same rule without the setting: the same alerts
        unsuppressed = run(make_rule(tmp_path, query=query, name="plain"), events, plain, T)
    shells = [a for a in result.alerts if not a.building_block]
    assert len(shells) >= 2 and len(shells) == len([a for a in unsuppressed.alerts if not a.building_block])


def test_hunting_groups_the_whole_input_and_hunting_again_stores_nothing(tmp_path, store):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"]})
    events = [event(i, T - dt.timedelta(days=3) + i * M, **on(f"web-{i % 3}")) for i in range(9)]
    [first] = hunt([rule], events, store=store, created_at=T)
    assert first.error is None and len(first.new_alert_ids) == 3
    assert sorted(d["kibana.alert.suppression.docs_count"] for d in stored(store).values()) == [2, 2, 2]
    before = stored(store)
    [again] = hunt([rule], events, store=store, created_at=T + M)
    assert again.new_alert_ids == [] and stored(store) == before


def test_hunt_batches_extend_the_alerts_of_earlier_batches(tmp_path, store, monkeypatch):
    import vigil.runs.hunt as hunt_module

    monkeypatch.setattr(hunt_module, "BATCH", 2)  # commit every two alerts: one hunt, several transactions
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"]})
    events = [event(i, T - dt.timedelta(days=1) + i * M) for i in (5, 1, 4, 2, 3)]  # not in time order
    [found] = hunt([rule], events, store=store, created_at=T)
    [alert] = stored(store).values()
    assert len(found.new_alert_ids) == 1
    assert alert["kibana.alert.suppression.docs_count"] == 4
    assert alert["kibana.alert.suppression.start"] == js_iso(T - dt.timedelta(days=1) + 1 * M)
    assert alert["kibana.alert.suppression.end"] == js_iso(T - dt.timedelta(days=1) + 5 * M)
