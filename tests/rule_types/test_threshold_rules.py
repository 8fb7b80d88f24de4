"""Threshold rules: buckets, counts, cardinality, arrays, missing fields, Kibana's ids and the signal history."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from rule_type_fixtures import M, T, doc_event, threshold_rule

from vigil.alerts import AlertStore
from vigil.alerts.ids import rule_uuid
from vigil.runs import messages
from vigil.runs.executor import execute_rule
from vigil.runs.hunt import hunt


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "alerts.db") as s:
        yield s


def _alerts(result):
    return sorted(result.alerts, key=lambda a: str(a.doc["kibana.alert.threshold_result"]["terms"]))


def test_one_alert_per_bucket_reaching_the_value(tmp_path, store):
    rule = threshold_rule(tmp_path, ["host.id", "user.name"], 3)
    records = [doc_event(1, T - 8 * M), doc_event(2, T - 5 * M), doc_event(3, T - 2 * M),   # h1/ana: 3
               doc_event(4, T - 4 * M, user__name="bob"), doc_event(5, T - 3 * M, user__name="bob"),  # h1/bob: 2
               doc_event(6, T - 3 * M, event__action="fork")]  # not matched by the query
    result = execute_rule(rule, records, store=store, started_at=T)
    assert result.status == messages.SUCCEEDED, result.message
    [alert] = result.alerts
    doc = alert.doc
    assert doc["kibana.alert.threshold_result"] == {
        "count": 3, "from": "2026-11-28T11:57:00.000Z",
        "terms": [{"field": "host.id", "value": "h1"}, {"field": "user.name", "value": "ana"}]}
    assert doc["kibana.alert.original_time"] == "2026-11-28T12:03:00.000Z"  # the newest event of the bucket
    assert doc["host.id"] == "h1" and doc["user.name"] == "ana"
    assert doc["kibana.alert.rule.rule_type_id"] == "siem.thresholdRule"
    assert doc["kibana.alert.rule.category"] == "Threshold Rule"
    assert doc["kibana.alert.rule.parameters"]["threshold"] == {"field": ["host.id", "user.name"], "value": 3}
    assert doc["kibana.alert.reason"] == "event by ana created medium alert Test nping."
    assert sorted(r.line for r in alert.records) == [1, 2, 3]
    # Kibana's ids: the bucket `_id` is uuidv5(rule_id + start + fields + sorted key), then the usual alert hash
    bucket_id = str(uuid.uuid5(uuid.UUID("0684ec03-7201-4ee0-8ee0-3a3f6b2479b2"),
                               f"{rule.rule_id}2026-11-28T12:05:00.000Zhost.id,user.nameana,h1"))
    expected = hashlib.sha256(f"logs-endpoint.events.*{bucket_id}undefineddefault:{rule_uuid(rule.rule_id)}"
                              .encode()).hexdigest()
    assert alert.id == expected
    assert doc["kibana.alert.ancestors"] == [{"id": bucket_id, "type": "event", "index": "logs-endpoint.events.*",
                                              "depth": 0}]


def test_no_fields_means_one_bucket_of_all_matching_events(tmp_path, store):
    rule = threshold_rule(tmp_path, [], 4)
    records = [doc_event(i, T - i * M, user__name=f"u{i}") for i in range(1, 5)]
    [alert] = execute_rule(rule, records, store=store, started_at=T).alerts
    assert alert.doc["kibana.alert.threshold_result"]["count"] == 4
    assert alert.doc["kibana.alert.threshold_result"]["terms"] == []
    assert execute_rule(threshold_rule(tmp_path, [], 5), records, store=store, started_at=T).alerts == []


def test_cardinality_counts_distinct_values_in_the_bucket(tmp_path, store):
    rule = threshold_rule(tmp_path, ["host.id"], 1, cardinality=("process.args", 3))
    few = [doc_event(1, T - M, process__args=["ping", "10.0.0.1"]), doc_event(2, T - M, process__args=["ping"])]
    assert execute_rule(rule, few, store=store, started_at=T).alerts == []  # 2 distinct values
    more = few + [doc_event(3, T - M, process__args=["ping", "10.0.0.2"])]
    [alert] = execute_rule(rule, more, store=store, started_at=T).alerts
    assert alert.doc["kibana.alert.threshold_result"]["cardinality"] == [{"field": "process.args", "value": 3}]
    assert alert.doc["kibana.alert.threshold_result"]["count"] == 3


def test_arrays_put_an_event_in_each_bucket_and_missing_fields_in_none(tmp_path, store):
    rule = threshold_rule(tmp_path, ["process.args"], 2)
    records = [doc_event(1, T - M, process__args=["-a", "-b"]), doc_event(2, T - M, process__args=["-b", "-b"]),
               doc_event(3, T - M, process__args=["-a"]), doc_event(4, T - M)]  # 4: no process.args
    alerts = _alerts(execute_rule(rule, records, store=store, started_at=T))
    assert [(a.doc["process.args"], a.doc["kibana.alert.threshold_result"]["count"]) for a in alerts] == \
        [("-a", 2), ("-b", 2)]  # event 2 counts once for "-b": a document's values are a set


def test_overlapping_windows_do_not_re_alert_the_same_events(tmp_path, store):
    rule = threshold_rule(tmp_path, ["host.id"], 3)
    early = [doc_event(i, T - (5 - i) * M) for i in range(1, 4)]  # T-4m .. T-2m
    first = execute_rule(rule, early, store=store, started_at=T)
    assert len(first.new_alert_ids) == 1
    # next run at T+5m: the window [T-4m, T+5m] still holds the three, and two newer events
    late = [doc_event(10, T + M), doc_event(11, T + 2 * M)]
    second = execute_rule(rule, early + late, store=store, started_at=T + 5 * M)
    assert second.alerts == []  # the alerted events are filtered out; two new ones are below 3
    third = execute_rule(rule, early + late + [doc_event(12, T + 6 * M)], store=store, started_at=T + 10 * M)
    [alert] = third.alerts
    assert alert.doc["kibana.alert.threshold_result"]["count"] == 3
    assert alert.doc["kibana.alert.threshold_result"]["from"] == "2026-11-28T12:06:00.000Z"
    assert store.count() == 2


def test_history_is_rebuilt_from_stored_alerts_without_state(tmp_path, store):
    rule = threshold_rule(tmp_path, ["host.id"], 3)
    events = [doc_event(i, T - (5 - i) * M) for i in range(1, 4)]
    # Kibana reads the alerts *created* within the window (alert @timestamp), whose event time is in it too
    assert len(execute_rule(rule, events, store=store, started_at=T, created_at=T).new_alert_ids) == 1
    store.set_state(f"threshold.signal_history:{rule.rule_id}", None)  # as after an upgrade: no rule state
    again = execute_rule(rule, events, store=store, started_at=T + 5 * M, created_at=T + 5 * M)
    assert again.alerts == [] and store.count() == 1


def test_max_signals_keeps_the_first_buckets_and_warns(tmp_path, store):
    rule = threshold_rule(tmp_path, ["user.name"], 1, max_signals=2)
    records = [doc_event(i, T - M, user__name=name) for i, name in enumerate(["c", "a", "b"], 1)]
    result = execute_rule(rule, records, store=store, started_at=T)
    assert result.status == messages.PARTIAL_FAILURE and result.message == messages.MAX_SIGNALS_WARNING
    assert [a.doc["user.name"] for a in result.alerts] == ["a", "b"]  # composite key order


def test_timestamp_override_decides_the_bucket_times(tmp_path, store):
    rule = threshold_rule(tmp_path, ["host.id"], 2, timestamp_override="event.ingested")
    records = [doc_event(1, T - 30 * M, event__ingested="2026-11-28T12:01:00.000Z"),
               doc_event(2, T - 30 * M, event__ingested="2026-11-28T12:02:00.000Z")]
    [alert] = execute_rule(rule, records, store=store, started_at=T).alerts
    assert alert.doc["kibana.alert.threshold_result"]["from"] == "2026-11-28T12:01:00.000Z"
    assert alert.doc["kibana.alert.original_time"] == "2026-11-28T12:02:00.000Z"


def test_hunt_buckets_the_whole_input_once(tmp_path, store):
    rule = threshold_rule(tmp_path, ["host.id"], 3)
    records = [doc_event(i, T - i * 600 * M) for i in range(1, 4)] + [doc_event(9, T, host__id="h2")]
    [found] = hunt([rule], records, store=store)
    assert found.error is None and len(found.alerts) == 1
    assert found.alerts[0].doc["kibana.alert.threshold_result"]["count"] == 3
    [again] = hunt([rule], records, store=store)
    assert again.new_alert_ids == [] and store.count() == 1
