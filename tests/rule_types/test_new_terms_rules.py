"""New terms rules: new vs seen terms, arrays, combinations, missing fields, both history sources, the hunt."""

from __future__ import annotations

import datetime as dt

import pytest
from rule_type_fixtures import M, T, doc_event, new_terms_rule

from vigil.alerts import AlertStore
from vigil.runs import messages
from vigil.runs.executor import execute_rule
from vigil.runs.hunt import hunt
from vigil.runs.new_terms import object_hash
from vigil.runs.terms_history import TermsHistory

D = dt.timedelta(days=1)


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "alerts.db") as s:
        yield s


def _terms(result):
    return sorted(a.doc["kibana.alert.new_terms"] for a in result.alerts)


def test_a_term_seen_in_the_history_window_is_not_new(tmp_path, store):
    rule = new_terms_rule(tmp_path, ["process.executable"])
    records = [doc_event(1, T - 2 * D, process__executable="/usr/bin/a"),   # history: seen
               doc_event(2, T - 3 * M, process__executable="/usr/bin/a"),
               doc_event(3, T - 2 * M, process__executable="/usr/bin/b"),
               doc_event(4, T - M, process__executable="/usr/bin/b")]
    result = execute_rule(rule, records, store=store, started_at=T)
    assert result.status == messages.SUCCEEDED, result.message
    [alert] = result.alerts
    assert alert.doc["kibana.alert.new_terms"] == ["/usr/bin/b"]
    assert alert.records[0].line == 3  # the oldest event of the window holding the term
    assert alert.doc["kibana.alert.rule.rule_type_id"] == "siem.newTermsRule"
    assert alert.doc["kibana.alert.rule.category"] == "New Terms Rule"
    params = alert.doc["kibana.alert.rule.parameters"]
    assert params["new_terms_fields"] == ["process.executable"] and params["history_window_start"] == "now-7d"
    assert result.events_searched == 3  # the history record is read, but searched means: in the window


def test_history_older_than_the_history_window_does_not_count(tmp_path, store):
    rule = new_terms_rule(tmp_path, ["process.executable"], history="now-1d")
    records = [doc_event(1, T - 2 * D, process__executable="/usr/bin/a"),
               doc_event(2, T - 3 * M, process__executable="/usr/bin/a")]
    assert _terms(execute_rule(rule, records, store=store, started_at=T)) == [["/usr/bin/a"]]


def test_arrays_give_one_term_per_value(tmp_path, store):
    rule = new_terms_rule(tmp_path, ["process.args"])
    records = [doc_event(1, T - D, process__args=["-a"]),
               doc_event(2, T - M, process__args=["-a", "-b", "-c", "-b"])]
    result = execute_rule(rule, records, store=store, started_at=T)
    assert _terms(result) == [["-b"], ["-c"]]
    assert {a.records[0].line for a in result.alerts} == {2}  # one event, two alerts with distinct ids
    assert len({a.id for a in result.alerts}) == 2


def test_several_fields_combine_and_missing_fields_give_no_term(tmp_path, store):
    rule = new_terms_rule(tmp_path, ["host.id", "user.name"])
    records = [doc_event(1, T - D, user__name="ana"),
               doc_event(2, T - 3 * M, user__name="ana"),                 # (h1, ana): seen
               doc_event(3, T - 2 * M, user__name="bob"),                 # (h1, bob): new
               doc_event(4, T - 2 * M, user__name=["ana", "eve"]),        # (h1, ana) seen, (h1, eve) new
               doc_event(5, T - M, user__name=None)]                      # no user.name: no term
    assert _terms(execute_rule(rule, records, store=store, started_at=T)) == [["h1", "bob"], ["h1", "eve"]]


def test_first_seen_must_be_after_the_window_start(tmp_path, store):
    # Kibana keeps a term when `first_seen > from`: an event exactly at the window start is history
    rule = new_terms_rule(tmp_path, ["process.executable"])
    records = [doc_event(1, T - 9 * M, process__executable="/x"), doc_event(2, T - M, process__executable="/x")]
    assert execute_rule(rule, records, store=store, started_at=T).alerts == []


def test_overlapping_windows_never_duplicate(tmp_path, store):
    rule = new_terms_rule(tmp_path, ["process.executable"])
    records = [doc_event(1, T - M, process__executable="/x")]
    first = execute_rule(rule, records, store=store, started_at=T)
    second = execute_rule(rule, records, store=store, started_at=T + 5 * M)  # /x at T-1m is still in [T-4m, ..]
    assert len(first.new_alert_ids) == 1 and second.new_alert_ids == []
    assert [a.id for a in second.alerts] == [a.id for a in first.alerts]


def test_persisted_history_covers_records_the_sources_no_longer_hold(tmp_path, store):
    rule = new_terms_rule(tmp_path, ["process.executable"])
    first = execute_rule(rule, [doc_event(1, T - M, process__executable="/x")], store=store, started_at=T)
    assert len(first.new_alert_ids) == 1
    # an hour later the old record is gone from the sources (rotated); /x shows up again
    later = T + 60 * M
    again = execute_rule(rule, [doc_event(2, later - M, process__executable="/x")], store=store, started_at=later)
    assert again.alerts == []
    assert TermsHistory(store, rule, ["process.executable"]).count() == 1


def test_fresh_computation_without_persisted_history(tmp_path):
    rule = new_terms_rule(tmp_path, ["process.executable"])
    records = [doc_event(1, T - 3 * D, process__executable="/x"), doc_event(2, T - M, process__executable="/x")]
    with AlertStore(tmp_path / "fresh.db") as store:  # a new store: nothing persisted
        assert TermsHistory(store, rule, ["process.executable"]).count() == 0
        assert execute_rule(rule, records, store=store, started_at=T).alerts == []
    with AlertStore(tmp_path / "fresh2.db") as store:  # without the history record the term is new
        assert len(execute_rule(rule, records[1:], store=store, started_at=T).alerts) == 1


def test_max_signals_caps_new_alerts(tmp_path, store):
    rule = new_terms_rule(tmp_path, ["process.executable"], max_signals=2)
    records = [doc_event(i, T - M, process__executable=f"/bin/{i}") for i in range(1, 4)]
    result = execute_rule(rule, records, store=store, started_at=T)
    assert result.status == messages.PARTIAL_FAILURE and len(result.alerts) == 2


def test_alert_id_is_object_hash_of_event_rule_and_term(tmp_path, store):
    # object-hash's serialisation: array:N: then typed entries; "Null" for null; strings with their UTF-16 length
    assert object_hash(["a", 1, None]) == object_hash(["a", 1, None])
    assert object_hash(["a"]) != object_hash([["a"]])
    import hashlib
    assert object_hash(["ab", 2, None, True]) == hashlib.sha1(b"array:4:string:2:abnumber:2Nullbool:true").hexdigest()
    assert object_hash(["\U0001F600"]) == hashlib.sha1("array:1:string:2:\U0001F600".encode()).hexdigest()


def test_hunt_uses_the_events_before_each_event(tmp_path, store):
    rule = new_terms_rule(tmp_path, ["process.executable"], history="now-7d")
    records = [doc_event(1, T, process__executable="/a"), doc_event(2, T + D, process__executable="/a"),
               doc_event(3, T + 10 * D, process__executable="/a"), doc_event(4, T + 10 * D, process__executable="/b")]
    [found] = hunt([rule], records, store=store)
    assert found.error is None
    assert sorted((a.records[0].line, a.doc["kibana.alert.new_terms"][0]) for a in found.alerts) == \
        [(1, "/a"), (3, "/a"), (4, "/b")]  # /a again after more than 7 days without it
    [again] = hunt([rule], records, store=store)
    assert again.new_alert_ids == []
