"""LiveDetector: sensor records → the real built-in Nping rule → alerts in a real SQLite store; hooks, exceptions."""

from __future__ import annotations

import dataclasses
import time

import pytest

from vigil.alerts import AlertStore
from vigil.exceptions import ExceptionStore, rule_default_list_id
from vigil.exceptions.model import Entry, ExceptionItem
from vigil.rules.registry import builtin_rules
from vigil.sensor import live
from vigil.sensor.ecs import EventBuilder, HostInfo
from vigil.sensor.enrich import FULL, ProcInfo
from vigil.sensor.service import named_binaries

NPING_ID = "0d69150b-96f8-467c-a86d-a67a3378ce77"


@pytest.fixture
def nping_rule():
    return next(r for r in builtin_rules() if r.rule_id == NPING_ID)


@pytest.fixture
def builder():
    return EventBuilder(HostInfo("testhost", "machine-1", {"type": "linux"}))


def _record(builder, name, pid=1000, exe_dir="/usr/bin", args=None, user=0):
    info = ProcInfo(pid=pid, outcome=FULL, comm=name[:15], ppid=1, starttime=pid, args=args or [name],
                    exe=f"{exe_dir}/{name}", cwd="/", uids=(user,) * 4, gids=(user,) * 4)
    return builder.record(builder.build(time.monotonic_ns(), info, ProcInfo(pid=1, outcome=FULL, comm="init",
                                                                             exe="/sbin/init", args=["init"])))


def test_nping_alerts_and_others_do_not(tmp_path, nping_rule, builder):
    report = live.load_runners([nping_rule])
    assert [r.rule.rule_id for r in report.runners] == [NPING_ID] and not report.skipped
    lines: list[str] = []
    with AlertStore(tmp_path / "a.db") as store:
        detector = live.LiveDetector(store, report.runners, echo=lines.append)
        assert detector.feed(_record(builder, "true", 10)) == []
        assert detector.feed(_record(builder, "nping2", 11)) == []
        alerts = detector.feed(_record(builder, "nping", 12, args=["nping", "--tcp", "127.0.0.1"]))
        assert len(alerts) == 1 and store.count() == 1
        stored = store.list_alerts()[0]
        assert (stored.rule_name, stored.process_name, stored.host_name) == ("Nping Process Activity", "nping",
                                                                            "testhost")
        assert stored.document["process"]["pid"] == 12
        assert len(lines) == 1 and "rule='Nping Process Activity'" in lines[0] and "pid=12" in lines[0]
        assert detector.events == 3 and detector.alerts == 1


def test_on_alerts_hook_receives_new_alerts_and_a_failing_hook_is_contained(tmp_path, nping_rule, builder):
    seen: list[tuple[int, str]] = []

    def broken(alerts, rule):
        raise RuntimeError("notifier down")

    live.on_alerts[:] = [broken, lambda alerts, rule: seen.append((len(alerts), rule.rule_id))]
    try:
        with AlertStore(tmp_path / "a.db") as store:
            detector = live.LiveDetector(store, live.load_runners([nping_rule]).runners)
            record = _record(builder, "nping", 20)
            detector.feed(record)
            detector.feed(record)  # the same event again: idempotent store, no second callback
        assert seen == [(1, NPING_ID)]
    finally:
        live.on_alerts.clear()


def test_exceptions_apply_before_the_query(tmp_path, nping_rule, builder):
    exceptions = ExceptionStore(tmp_path / "exceptions")
    exceptions.add_item(_allowed_item(nping_rule.rule_id), rule_id=nping_rule.rule_id)
    report = live.load_runners([nping_rule], exception_store=exceptions)
    with AlertStore(tmp_path / "a.db") as store:
        detector = live.LiveDetector(store, report.runners)
        assert detector.feed(_record(builder, "nping", 30, args=["nping", "--allowed"])) == []
        assert report.runners[0].excepted_events == 1
        assert len(detector.feed(_record(builder, "nping", 31, args=["nping", "--tcp"]))) == 1


def _allowed_item(rule_id: str) -> ExceptionItem:
    return ExceptionItem(item_id="allow-nping", list_id=rule_default_list_id(rule_id), name="allowed nping",
                         entries=(Entry(field="process.args", type="match", operator="included", value="--allowed"),))


def test_rules_that_cannot_run_on_sensor_events_are_skipped_with_a_reason(nping_rule):
    other_index = dataclasses.replace(nping_rule, rule_id="x1", index=("winlogbeat-*",))
    disabled = dataclasses.replace(nping_rule, rule_id="x2", enabled=False)
    not_eql = dataclasses.replace(nping_rule, rule_id="x3", type="threshold", language="kuery")
    report = live.load_runners([other_index, disabled, not_eql])
    assert report.runners == []
    reasons = {rule.rule_id: reason for rule, reason in report.skipped}
    assert "do not select logs-endpoint.events.process-default" in reasons["x1"]
    assert reasons["x2"] == "disabled" and "not run live" in reasons["x3"]
    assert live.load_runners([other_index], index="winlogbeat-default").runners  # the index decides


def test_named_binaries_come_from_the_rules_literals(nping_rule):
    multi = dataclasses.replace(nping_rule, query='process where process.name in ("socat", "nc") or '
                                                  'process.name == "nping" and not process.name == "x*"')
    assert named_binaries([nping_rule]) == {"nping"}
    assert named_binaries([multi]) == {"socat", "nc", "nping"}


def test_kql_query_rules_run_live_and_aggregations_are_left_to_vigil_run(tmp_path, nping_rule, builder):
    """The same rule set runs live: a KQL `query` rule alerts per event (with its own rule type); threshold and
    new_terms rules, which aggregate over a window, are reported as run by `vigil run` instead."""
    doc = dict(nping_rule.document)
    kql = dataclasses.replace(nping_rule, rule_id="kql-nping", name="KQL nping", type="query", language="kuery",
                              query='host.os.type:linux and event.type:start and process.name:nping',
                              document={**doc, "rule": {**doc["rule"], "type": "query", "language": "kuery"}})
    threshold = dataclasses.replace(nping_rule, rule_id="thr", type="threshold", language="kuery",
                                    query="process.name:nping", threshold={"field": [], "value": 5})
    report = live.load_runners([kql, threshold])
    assert [r.rule.rule_id for r in report.runners] == ["kql-nping"]
    assert [(r.rule_id, "vigil run" in why) for r, why in report.skipped] == [("thr", True)]
    with AlertStore(tmp_path / "a.db") as store:
        detector = live.LiveDetector(store, report.runners)
        assert detector.feed(_record(builder, "NPING", 20)) == []  # KQL on keyword fields is case-sensitive
        [alert] = detector.feed(_record(builder, "nping", 21))
        assert alert["kibana.alert.rule.rule_type_id"] == "siem.queryRule"
        assert alert["kibana.alert.rule.name"] == "KQL nping"


def test_routing_by_the_step_index_raises_what_every_rule_would(tmp_path, nping_rule, builder, monkeypatch):
    """The detector shows an event only to the rules one of whose steps may match it (and to rules with
    exceptions): the same alerts as showing every event to every rule, sequences included."""
    queries = {
        "x-nping": None,  # the built-in query
        "x-shell": 'process where process.name : ("BASH", "sh") and process.args : "-c"',
        "x-seq": 'sequence by host.id with maxspan=1m [process where process.name == "curl"] '
                 '[process where process.name == "sh"]',
        "x-root": 'process where user.id == "0" and process.executable : "/tmp/*"',
    }
    rules = [dataclasses.replace(nping_rule, rule_id=rid, query=q or nping_rule.query) for rid, q in queries.items()]
    events = [("true", ["true"], "/usr/bin"), ("curl", ["curl", "x"], "/usr/bin"), ("sh", ["sh", "-c", "id"], "/bin"),
              ("nping", ["nping", "-c", "1"], "/usr/bin"), ("x", ["x"], "/tmp"), ("bash", ["bash", "-C"], "/bin")]

    monkeypatch.setattr(live, "ROUTE_FROM", 1)  # route even these few rules through the index

    def alerts(name):
        report = live.load_runners(rules)
        with AlertStore(tmp_path / f"{name}.db") as store:
            detector = live.LiveDetector(store, report.runners)
            for i, (comm, args, exe_dir) in enumerate(events * 3):
                detector.feed(_record(builder, comm, 100 + i, exe_dir=exe_dir, args=args))
            detector.close_streams()
            return sorted((a.rule_id, a.process_name or "", (a.document.get("process") or {}).get("pid") or 0)
                          for a in store.list_alerts(limit=1000))

    routed = alerts("routed")
    monkeypatch.setattr(live.RuleIndex, "rules", lambda self, doc: (1 << len(self.bits)) - 1)
    assert routed == alerts("every") and {r for r, _, _ in routed} == set(queries)
