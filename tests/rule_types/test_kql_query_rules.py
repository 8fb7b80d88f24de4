"""`query` rules: KQL through the executor's windows, exceptions and alerts; Kibana's max_signals after dedupe."""

from __future__ import annotations

import pytest
from rule_type_fixtures import M, T, doc_event, kql_rule, make_rule

from vigil.alerts import AlertStore
from vigil.errors import UnsupportedError
from vigil.exceptions import ExceptionStore, parse_entry_spec
from vigil.exceptions.model import ExceptionItem
from vigil.runs import messages
from vigil.runs.executor import compile_rule, execute_rule
from vigil.runs.hunt import hunt
from vigil.runs.query_rule import unsupported_reason


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "alerts.db") as s:
        yield s


def test_query_rule_alerts_on_matching_events_in_the_window(tmp_path, store):
    rule = kql_rule(tmp_path, "query", 'process.name:(nping or nmap) and not user.name:root')
    records = [doc_event(1, T - 2 * M, process__name="nping"), doc_event(2, T - 3 * M, process__name="ls"),
               doc_event(3, T - 4 * M, process__name="nmap", user__name="root"),
               doc_event(4, T - 20 * M, process__name="nmap")]
    result = execute_rule(rule, records, store=store, started_at=T)
    assert result.status == messages.SUCCEEDED, result.message
    assert [a.records[0].line for a in result.alerts] == [1]
    doc = result.alerts[0].doc
    assert doc["kibana.alert.rule.rule_type_id"] == "siem.queryRule"
    assert doc["kibana.alert.rule.category"] == "Custom Query Rule"
    assert doc["kibana.alert.rule.type"] == "query"
    assert doc["kibana.alert.rule.parameters"]["language"] == "kuery"
    assert doc["kibana.alert.original_time"] == "2026-11-28T12:03:00.000Z"


def test_overlapping_windows_store_each_alert_once(tmp_path, store):
    rule = kql_rule(tmp_path, "query", "process.name:nping")
    records = [doc_event(1, T - 2 * M, process__name="nping"), doc_event(2, T + 3 * M, process__name="nping")]
    first = execute_rule(rule, records, store=store, started_at=T)
    second = execute_rule(rule, records, store=store, started_at=T + 5 * M)
    assert len(first.new_alert_ids) == 1 and len(second.new_alert_ids) == 1
    assert store.count() == 2


def test_max_signals_counts_new_alerts_only(tmp_path, store):
    # Kibana's bulkCreate drops alerts already in the index before applying maxAlerts (unlike EQL's `size`)
    rule = kql_rule(tmp_path, "query", "process.name:nping", max_signals=2)
    records = [doc_event(i, T - (6 - i) * M, process__name="nping") for i in range(1, 4)]
    first = execute_rule(rule, records, store=store, started_at=T)
    assert first.status == messages.PARTIAL_FAILURE and first.message == messages.MAX_SIGNALS_WARNING
    assert sorted(a.records[0].line for a in first.alerts) == [1, 2]  # the earliest
    second = execute_rule(rule, records, store=store, started_at=T + M)
    assert second.status == messages.SUCCEEDED  # two already stored, one new: within the limit
    assert [a.records[0].line for a in second.alerts if a.new] == [3]
    assert store.count() == 3


def test_exceptions_remove_events_before_the_query(tmp_path, store):
    rule = kql_rule(tmp_path, "query", "process.name:nping")
    exceptions = ExceptionStore(tmp_path / "exceptions")
    item = ExceptionItem(item_id="x1", list_id="rule_default-q", name="bob's lab",
                         entries=(parse_entry_spec("user.name is bob"),))
    exceptions.add_item(item, rule_id=rule.rule_id)
    records = [doc_event(1, T - M, process__name="nping", user__name="bob"),
               doc_event(2, T - M, process__name="nping")]
    result = execute_rule(rule, records, store=store, started_at=T, exception_store=exceptions)
    assert [a.records[0].line for a in result.alerts] == [2]


def test_bad_kql_fails_the_execution_with_a_located_message(tmp_path, store):
    rule = kql_rule(tmp_path, "query", "process.name:(nping or")
    result = execute_rule(rule, [doc_event(1, T - M)], store=store, started_at=T)
    assert result.status == messages.FAILED
    assert "line 1:" in result.message and "^" in result.message


def test_lucene_esql_and_ml_are_not_runnable_and_say_why(tmp_path):
    lucene = make_rule(tmp_path, type="query", language="lucene", query="process.name:nping")
    assert not lucene.runnable
    with pytest.raises(UnsupportedError, match="Lucene"):
        compile_rule(lucene)
    esql = make_rule(tmp_path, rule_id="7e5a1c2b-0000-4000-8000-000000000002", type="esql", language="esql",
                     query="FROM logs-* | LIMIT 1")
    assert not esql.runnable and "ES|QL" in unsupported_reason(esql)
    assert kql_rule(tmp_path, "query", "a:b").runnable
    assert kql_rule(tmp_path, "threshold", "a:b", threshold={"field": [], "value": 1}).runnable


def test_hunt_runs_query_rules_with_their_type_fields(tmp_path, store):
    rule = kql_rule(tmp_path, "query", "process.name:nping")
    records = [doc_event(1, T - 600 * M, process__name="nping"), doc_event(2, T, process__name="ls")]
    [found] = hunt([rule], records, store=store)
    assert found.error is None and found.matches == 1
    assert found.alerts[0].doc["kibana.alert.rule.rule_type_id"] == "siem.queryRule"
    [again] = hunt([rule], records, store=store)
    assert again.new_alert_ids == []
