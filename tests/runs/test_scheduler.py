"""The scheduler: due times from the stored last start, `run_once`, and a real loop stopped by its event."""

from __future__ import annotations

import datetime as dt
import json
import threading

from tests.runs.run_fixtures import M, T, event, make_rule

from vigil.alerts import AlertStore
from vigil.alerts.times import js_iso, utc_now
from vigil.config import SourceConfig
from vigil.runs import state
from vigil.runs.inputs import Inputs, retention_for
from vigil.runs.scheduler import Scheduler


def write_events(path, records) -> None:
    path.write_text("".join(json.dumps(r.doc) + "\n" for r in records))


def test_due_times_come_from_the_stored_last_start(tmp_path):
    rule = make_rule(tmp_path)
    with AlertStore(tmp_path / "a.db") as store:
        scheduler = Scheduler([rule], Inputs([]), store, clock=lambda: T)
        assert scheduler.next_due() == {rule.rule_id: T}  # never ran: due now
        state.set_last_started_at(store, rule.rule_id, T - 2 * M)
        assert scheduler.next_due() == {rule.rule_id: T + 3 * M}
        state.set_last_started_at(store, rule.rule_id, T - 60 * M)
        assert scheduler.next_due()[rule.rule_id] <= T  # overdue: runs at once, the executor catches up


def test_run_once_reads_configured_files(tmp_path):
    rule = make_rule(tmp_path, index=["logs-*"])
    data = tmp_path / "events.ndjson"
    write_events(data, [event(1, T - M), event(2, T - 20 * M)])
    with AlertStore(tmp_path / "a.db") as store:
        results = Scheduler([rule], Inputs([SourceConfig((str(data),), "ecs")]), store).run_once(T)
        assert [len(r.new_alert_ids) for r in results] == [1]
        assert results[0].alerts[0].doc["@timestamp"] == js_iso(T)  # --at also stamps the alerts


def test_loop_runs_each_rule_on_its_interval_until_stopped(tmp_path):
    rule = make_rule(tmp_path, interval="1s", **{"from": "now-2s"}, index=["logs-*"])
    data = tmp_path / "events.ndjson"
    write_events(data, [event(1, utc_now())])
    stop = threading.Event()
    seen = []

    def on_result(result) -> None:
        seen.append(result)
        if len(seen) == 3:
            stop.set()

    with AlertStore(tmp_path / "a.db") as store:
        inputs = Inputs([SourceConfig((str(data),), "ecs")], live=True, retention=retention_for([rule]))
        scheduler = Scheduler([rule], inputs, store, on_result=on_result)
        safety = threading.Timer(20, stop.set)  # the loop returns after three executions; never hang the suite
        safety.start()
        try:
            assert scheduler.run_forever(stop) == 3
        finally:
            safety.cancel()
        starts = [r.started_at for r in seen]
        assert len(seen) == 3 and all(b - a >= dt.timedelta(seconds=0.99) for a, b in zip(starts, starts[1:]))
        assert len(store.list_executions(rule.rule_id)) == 3
        assert state.last_started_at(store, rule.rule_id) is not None


def test_followed_sources_are_buffered_and_appended_records_are_seen(tmp_path):
    rule = make_rule(tmp_path, index=["logs-*"])
    data = tmp_path / "live.ndjson"
    write_events(data, [event(1, T - M)])
    inputs = Inputs([SourceConfig((str(data),), "ecs", follow=True)], live=True, retention=retention_for([rule]))
    inputs.start()
    try:
        with data.open("a") as out:
            out.write(json.dumps(event(2, T - M).doc) + "\n")
        deadline = dt.datetime.now() + dt.timedelta(seconds=10)
        lines: list[int] = []
        while dt.datetime.now() < deadline and len(lines) < 2:
            lines = sorted(r.line for r in inputs.records())
        assert lines == [1, 2]
    finally:
        inputs.close()
