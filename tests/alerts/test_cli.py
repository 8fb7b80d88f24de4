"""`vigil alerts ...` through click's CliRunner, against a real store in tmp_path."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.alerts.alert_fixtures import fixed_context
from vigil.alerts import build_event_alert
from vigil.alerts.store import AlertStore
from vigil.cli import cli


@pytest.fixture
def db(tmp_path, rule, event):
    path = tmp_path / "alerts.db"
    with AlertStore(path) as store:
        store.insert_alerts([build_event_alert(event, rule, fixed_context())])
    return path


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _alert_id(db) -> str:
    with AlertStore(db) as store:
        return store.list_alerts()[0].id


def test_list_table_and_json(db):
    result = run("alerts", "list", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "Nping Process Activity" in result.output and "web-01" in result.output and "1 alert(s)" in result.output
    result = run("alerts", "list", "--db", str(db), "--json", "--severity", "medium", "--host", "web-01")
    [row] = [json.loads(line) for line in result.output.splitlines()]
    assert row["rule_name"] == "Nping Process Activity" and row["process"] == "nping" and row["status"] == "open"
    result = run("alerts", "list", "--db", str(db), "--status", "closed")
    assert "no alerts match" in result.output


def test_show_renders_guide_attack_and_response(db):
    result = run("alerts", "show", _alert_id(db)[:8], "--db", str(db))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "/usr/bin/nping" in out and "root" in out and "web-01" in out
    assert "TA0007" in out and "https://attack.mitre.org/techniques/T1046/" in out
    assert "Investigating Nping Process Activity" in out
    assert "Immediately isolate the affected Linux host" in out
    assert "process event with process nping" in out


def test_triage_commands_and_note(db):
    alert_id = _alert_id(db)
    result = run("alerts", "ack", alert_id[:10], "--db", str(db), "--reason", "checking", "--user", "ana")
    assert result.exit_code == 0 and "open → acknowledged" in result.output
    assert "acknowledged → closed" in run("alerts", "close", alert_id, "--db", str(db), "--user", "ana").output
    assert "already closed" in run("alerts", "close", alert_id, "--db", str(db)).output
    result = run("alerts", "ack", alert_id, "--db", str(db))
    assert result.exit_code == 2 and "cannot acknowledge an alert that is closed" in result.output
    assert "Traceback" not in result.output
    assert run("alerts", "reopen", alert_id, "--db", str(db)).exit_code == 0
    assert run("alerts", "note", alert_id, "pentest, ticket 42", "--db", str(db), "--user", "bob").exit_code == 0
    out = run("alerts", "show", alert_id, "--db", str(db)).output
    assert "acknowledged → closed" in out and "bob noted: pentest, ticket 42" in out
    doc = json.loads(run("alerts", "show", alert_id, "--db", str(db), "--json").output)
    assert doc["kibana.alert.workflow_status"] == "open"


def test_export_to_file(db, tmp_path):
    out = tmp_path / "bulk.ndjson"
    result = run("alerts", "export", "--db", str(db), "--out", str(out))
    assert result.exit_code == 0
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["create"]["_index"] == ".alerts-security.alerts-default"
    assert json.loads(lines[1])["kibana.alert.rule.name"] == "Nping Process Activity"


def test_user_mistakes_are_located_errors(db, tmp_path):
    result = run("alerts", "list", "--db", str(tmp_path / "nope.db"))
    assert result.exit_code == 2 and "nope.db" in result.output and "no alert store" in result.output
    result = run("alerts", "show", "ffff", "--db", str(db))
    assert result.exit_code == 2 and "no alert with id ffff" in result.output
    result = run("alerts", "list", "--db", str(db), "--since", "yesterday-ish")
    assert result.exit_code == 2 and "--since" in result.output
    assert "Traceback" not in result.output
