"""End to end: `vigil run --once` twice over a `_bulk` export, with a rule file that suppresses by host."""

from __future__ import annotations

import json

import orjson
import pytest
from click.testing import CliRunner

from tests.runs.run_fixtures import M, T, event, make_rule
from vigil.alerts import AlertStore
from vigil.alerts.times import js_iso
from vigil.cli import cli


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("VIGIL_HOME", str(home))
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    return home


def write_bulk(path, records) -> None:
    lines = []
    for r in records:
        lines.append(orjson.dumps({"index": {"_index": r.index, "_id": r.id}}))
        lines.append(orjson.dumps(r.doc))
    path.write_bytes(b"\n".join(lines) + b"\n")


def vigil(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_once_twice_groups_then_extends_the_open_alert(tmp_path, home):
    rule = make_rule(tmp_path, alert_suppression={"group_by": ["host.name"], "duration": {"value": 1, "unit": "h"}})
    data, db = tmp_path / "events.ndjson", tmp_path / "alerts.db"
    web02 = {"host": {"name": "web-02", "os": {"type": "linux"}}}
    first_events = [event(1, T - 6 * M), event(2, T - 3 * M), event(3, T - 2 * M, **web02)]
    write_bulk(data, first_events)

    first = vigil("run", "--once", "--at", js_iso(T), "--rule", rule.location, "--db", str(db), "--json", str(data))
    assert first.exit_code == 0, first.output
    printed = [json.loads(line) for line in first.stdout.splitlines()]
    assert sorted(a["host"]["name"] for a in printed) == ["web-01", "web-02"]  # one alert per host
    counts = {a["host"]["name"]: a["kibana.alert.suppression.docs_count"] for a in printed}
    assert counts == {"web-01": 1, "web-02": 0}

    # five minutes later the export has grown: two more web-01 events; the open web-01 alert is extended
    write_bulk(data, first_events + [event(4, T + 1 * M), event(5, T + 3 * M)])
    second = vigil("run", "--once", "--at", js_iso(T + 5 * M), "--rule", rule.location, "--db", str(db), str(data))
    assert second.exit_code == 0, second.output
    assert "succeeded" in second.output

    with AlertStore(db) as store:
        alerts = {a.host_name: a.document for a in store.list_alerts(limit=None)}
        executions = store.list_executions(rule.rule_id)
    assert sorted(alerts) == ["web-01", "web-02"]  # nothing new
    web01 = alerts["web-01"]
    assert web01["kibana.alert.suppression.docs_count"] == 3
    assert web01["kibana.alert.suppression.start"] == js_iso(T - 6 * M)
    assert web01["kibana.alert.suppression.end"] == js_iso(T + 3 * M)
    assert web01["kibana.alert.last_detected"] == js_iso(T + 5 * M)
    assert [e.alerts_created for e in executions] == [0, 2]  # newest first
    assert all(e.status == "succeeded" for e in executions)

    shown = vigil("alerts", "show", web01["kibana.alert.uuid"][:12], "--db", str(db), "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["kibana.alert.suppression.docs_count"] == 3
