"""One execution of one rule: windows, dedupe over overlaps, max_signals, Kibana's warnings, exceptions, state."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.runs.run_fixtures import M, T, event, make_rule

from vigil.alerts import AlertStore
from vigil.exceptions import ExceptionStore, parse_entry_spec
from vigil.exceptions.model import ExceptionItem
from vigil.runs import messages, state
from vigil.runs.executor import execute_rule


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "alerts.db") as s:
        yield s


def test_first_run_alerts_on_events_in_the_window_only(tmp_path, store):
    rule = make_rule(tmp_path)
    records = [event(1, T - 10 * M), event(2, T - 9 * M), event(3, T - M), event(4, T + M),
               event(5, T - M, name="nping2")]
    result = execute_rule(rule, records, store=store, started_at=T)
    assert result.status == messages.SUCCEEDED and result.message == "Rule execution completed successfully"
    assert sorted(a.records[0].line for a in result.alerts) == [2, 3]
    assert result.events_searched == 3  # lines 2, 3 and 5 are in the window
    assert store.count() == 2
    [execution] = store.list_executions(rule.rule_id)
    assert execution.status == "succeeded" and execution.alerts_created == 2
    assert execution.window_from == "2026-11-28T11:56:00.000Z" and execution.window_to == "2026-11-28T12:05:00.000Z"


def test_overlapping_windows_never_duplicate(tmp_path, store):
    rule = make_rule(tmp_path)
    records = [event(1, T - 2 * M), event(2, T + 3 * M)]
    first = execute_rule(rule, records, store=store, started_at=T)
    second = execute_rule(rule, records, store=store, started_at=T + 5 * M)
    assert len(first.new_alert_ids) == 1
    assert [a.records[0].line for a in second.alerts] == [1, 2]  # event 1 is seen again in the overlap...
    assert len(second.new_alert_ids) == 1  # ...but only event 2 is new
    assert store.count() == 2


def test_previous_start_is_kept_in_the_store(tmp_path, store):
    rule = make_rule(tmp_path)
    execute_rule(rule, [], store=store, started_at=T)
    assert state.last_started_at(store, rule.rule_id) == T
    late = execute_rule(rule, [], store=store, started_at=T + 17 * M)
    # gap = 17 - 9 = 8 minutes -> two catch-up windows, oldest first
    assert [w.end for w in late.windows] == [T + 7 * M, T + 12 * M, T + 17 * M]
    assert late.status != messages.FAILED


def test_catch_up_windows_find_events_of_the_missed_time(tmp_path, store):
    rule = make_rule(tmp_path)
    execute_rule(rule, [], store=store, started_at=T)
    missed = event(1, T + 3 * M)  # only the catch-up window [T, T+9m] holds it; the normal one is [T+5m, T+14m]
    result = execute_rule(rule, [missed], store=store, started_at=T + 14 * M)
    assert len(result.windows) == 2 and len(result.new_alert_ids) == 1


def test_long_outage_fails_with_kibanas_gap_message_but_still_searches(tmp_path, store):
    rule = make_rule(tmp_path)
    execute_rule(rule, [], store=store, started_at=T)
    result = execute_rule(rule, [event(1, T + 59 * M)], store=store, started_at=T + 60 * M)
    assert result.status == messages.FAILED
    assert result.message.startswith("31 minutes (1860000ms) were not queried between this rule execution and the "
                                     "last execution, so signals may have been missed.")
    assert len(result.new_alert_ids) == 1
    [latest, _] = store.list_executions(rule.rule_id)
    assert latest.status == "failed" and latest.gap_ms == 31 * 60 * 1000
    assert latest.details["gap"] == {"gte": "2026-11-28T12:05:00.000Z", "lte": "2026-11-28T12:36:00.000Z"}


def test_max_signals_keeps_the_earliest_and_warns(tmp_path, store):
    rule = make_rule(tmp_path, max_signals=3)
    records = [event(n, T - n * M) for n in range(1, 7)]  # event 6 is the earliest
    result = execute_rule(rule, records, store=store, started_at=T)
    assert sorted(a.records[0].line for a in result.alerts) == [4, 5, 6]
    assert result.status == messages.PARTIAL_FAILURE
    assert result.message == ("This rule reached the maximum alert limit for the rule execution. Some alerts were "
                              "not created.")


def test_max_signals_is_per_window(tmp_path, store):
    rule = make_rule(tmp_path, max_signals=1)
    execute_rule(rule, [], store=store, started_at=T)
    records = [event(1, T + 1 * M), event(2, T + 12 * M)]
    result = execute_rule(rule, records, store=store, started_at=T + 16 * M)  # windows [T-2m,T+7m], [T+3m,T+16m]
    assert sorted(result.new_alert_ids) == sorted(a.id for a in result.alerts)
    assert sorted(a.records[0].line for a in result.alerts) == [1, 2]


def test_no_matching_index_is_kibanas_partial_failure(tmp_path, store):
    rule = make_rule(tmp_path, index=["does-not-exist-*"])
    result = execute_rule(rule, [event(1, T - M)], store=store, started_at=T)
    assert result.status == messages.PARTIAL_FAILURE and not result.alerts
    assert result.message == (
        'This rule is attempting to query data from Elasticsearch indices listed in the "Index patterns" section of '
        'the rule definition, however no index matching: ["does-not-exist-*"] was found. This warning will continue '
        "to appear until a matching index is created or this rule is disabled."
    )


def test_index_with_documents_outside_the_window_still_exists(tmp_path, store):
    rule = make_rule(tmp_path)
    result = execute_rule(rule, [event(1, T - 60 * M)], store=store, started_at=T)
    assert result.status == messages.SUCCEEDED


def test_timestamp_override_selects_late_arrivals_and_warns_for_indices_without_it(tmp_path, store):
    rule = make_rule(tmp_path, timestamp_override="event.ingested")
    late = event(1, T - 60 * M, ingested=T - M)  # happened an hour ago, arrived a minute ago
    old = event(2, T - 60 * M, ingested=T - 50 * M)
    plain = event(3, T - M, index="logs-endpoint.events.network-default")  # no event.ingested: @timestamp fallback
    result = execute_rule(rule, [late, old, plain], store=store, started_at=T)
    assert sorted(a.records[0].line for a in result.alerts) == [1, 3]
    assert result.status == messages.PARTIAL_FAILURE
    assert result.message == ('The following indices are missing the timestamp override field "event.ingested": '
                              '["logs-endpoint.events.network-default"]')


def test_fallback_disabled_ignores_documents_without_the_override(tmp_path, store):
    rule = make_rule(tmp_path, timestamp_override="event.ingested", timestamp_override_fallback_disabled=True)
    result = execute_rule(rule, [event(1, T - M, ingested=T - M), event(2, T - M)], store=store, started_at=T)
    assert [a.records[0].line for a in result.alerts] == [1]


def test_sequences_order_by_timestamp_not_by_the_override(tmp_path, store):
    rule = make_rule(tmp_path, timestamp_override="event.ingested",
                     query='sequence by host.name [process where process.name == "a"] '
                           '[process where process.name == "b"]')
    # b happened after a, but was ingested first: EQL order is @timestamp, so the sequence a -> b matches
    a = event(1, T - 3 * M, name="a", ingested=T - M)
    b = event(2, T - 2 * M, name="b", ingested=T - 2 * M)
    result = execute_rule(rule, [b, a], store=store, started_at=T)
    assert result.matches == 1
    shell, *blocks = result.alerts
    assert shell.doc["kibana.alert.depth"] == 2 and [x.records[0].line for x in blocks] == [1, 2]
    assert all(x.doc["kibana.alert.group.id"] == shell.id for x in blocks)


def test_excepted_events_are_dropped_before_the_query(tmp_path, store):
    rule = make_rule(tmp_path, query='sequence by host.name [process where process.name == "a"] '
                                     '[process where process.name == "b"]')
    exceptions = ExceptionStore(tmp_path / "exceptions")
    item = ExceptionItem(item_id="i1", list_id="rule_default-x", name="svc runs a",
                         entries=(parse_entry_spec("user.name is svc"),))
    exceptions.add_item(item, rule_id=rule.rule_id)
    records = [event(1, T - 4 * M, name="a", user="svc"), event(2, T - 3 * M, name="b", user="svc")]
    result = execute_rule(rule, records, store=store, started_at=T, exception_store=exceptions)
    assert result.matches == 0 and result.events_searched == 2  # the excepted "a" never joins the sequence
    result = execute_rule(rule, records, store=store, started_at=T, exception_store=None)
    assert result.matches == 1


def test_a_broken_query_is_a_failed_execution_not_a_crash(tmp_path, store):
    rule = make_rule(tmp_path)
    broken = rule.__class__(**{**rule.__dict__, "query": "process where process.name =="})
    result = execute_rule(broken, [event(1, T - M)], store=store, started_at=T)
    assert result.status == messages.FAILED
    assert result.message.startswith('An error occurred during rule execution: message: "')
    assert store.list_executions(rule.rule_id)[0].status == "failed"


def test_alerts_carry_the_execution(tmp_path, store):
    rule = make_rule(tmp_path)
    created = dt.datetime(2026, 11, 28, 12, 5, 1, tzinfo=dt.timezone.utc)
    result = execute_rule(rule, [event(1, T - M)], store=store, started_at=T, created_at=created)
    doc = result.alerts[0].doc
    assert doc["@timestamp"] == "2026-11-28T12:05:01.000Z"
    assert doc["kibana.alert.original_time"] == "2026-11-28T12:04:00.000Z"
    assert doc["kibana.alert.rule.execution.uuid"] == result.execution_uuid
    assert doc["kibana.alert.rule.indices"] == ["logs-endpoint.events.*"]
