"""`vigil respond ...` end to end: a real store in tmp_path, real processes, exit codes, nothing done when off."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time

import pytest
from click.testing import CliRunner

from vigil.alerts import AlertStore
from vigil.cli import cli
from vigil.config import Config
from vigil.response import history

from .conftest import alert_for, process_fields, stopped


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)


def stored_alert(db, process: dict) -> str:
    alert = alert_for(process)
    with AlertStore(db) as store:
        store.insert_alerts([alert])
    return alert["kibana.alert.uuid"]


def run(*args: str):
    return CliRunner().invoke(cli, ["respond", *args], catch_exceptions=False)


def test_disabled_by_default_does_nothing(tmp_path, sleeper):
    db = tmp_path / "vigil.db"
    alert_id = stored_alert(db, process_fields(sleeper.pid))
    result = run("kill", "--alert", alert_id[:10], "--db", str(db))
    assert result.exit_code == 2
    assert "response actions are disabled" in result.output and "Traceback" not in result.output
    assert sleeper.poll() is None
    with AlertStore(db) as store:
        assert history(store, alert_id) == []


def test_dry_run_checks_and_records_but_changes_nothing(tmp_path, sleeper):
    db = tmp_path / "vigil.db"
    alert_id = stored_alert(db, process_fields(sleeper.pid))
    result = run("suspend", "--alert", alert_id[:10], "--db", str(db), "--dry-run", "--comment", "triage")
    assert result.exit_code == 0, result.output
    assert "suspend-process: dry-run: would suspend pid" in result.output
    assert f"recorded on alert {alert_id[:12]}" in result.output
    time.sleep(0.05)
    assert not stopped(sleeper.pid) and sleeper.poll() is None
    shown = run("history", "--alert", alert_id, "--db", str(db), "--json")
    [entry] = json.loads(shown.output)
    assert entry["status"] == "dry-run" and entry["automatic"] is False and entry["comment"] == "triage"


def test_refusal_exits_1(tmp_path, sleeper):
    db = tmp_path / "vigil.db"
    fields = dict(process_fields(sleeper.pid), start="2020-02-02T02:02:02.000Z")
    alert_id = stored_alert(db, fields)
    result = run("kill", "--alert", alert_id, "--db", str(db), "--dry-run", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["status"] == "refused"
    assert sleeper.poll() is None


def test_resume_is_allowed_even_when_disabled(tmp_path, sleeper):
    db = tmp_path / "vigil.db"
    alert_id = stored_alert(db, process_fields(sleeper.pid))
    os.kill(sleeper.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 2
    while not stopped(sleeper.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    result = run("resume", "--alert", alert_id, "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "resume-process: succeeded" in result.output and not stopped(sleeper.pid)
    text = run("history", "--alert", alert_id, "--db", str(db)).output
    assert "resume-process: succeeded" in text


def test_unknown_alert_and_missing_store_are_located_errors(tmp_path):
    missing = run("kill", "--alert", "abc", "--db", str(tmp_path / "nope.db"), "--dry-run")
    assert missing.exit_code == 2 and "no alert store here" in missing.output
    db = tmp_path / "vigil.db"
    AlertStore(db).close()
    unknown = run("kill", "--alert", "abc", "--db", str(db), "--dry-run")
    assert unknown.exit_code == 2 and "no alert with id abc" in unknown.output


def test_status_reports_settings(tmp_path):
    result = run("status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["settings"]["enabled"] is False and data["settings"]["dry_run"] is True


def test_configured_response_kills_and_isolates(tmp_path, sleeper, testnet):
    if "response" not in {f.name for f in dataclasses.fields(Config)}:
        pytest.skip("the configuration loader does not pass the [response] table through yet")
    config = tmp_path / "vigil.toml"
    config.write_text(f'[response]\nenabled = true\ndry_run = false\nnetns = "{testnet.inner}"\n')
    db = tmp_path / "vigil.db"
    alert_id = stored_alert(db, process_fields(sleeper.pid))
    killed = run("kill", "--alert", alert_id, "--db", str(db), "--config", str(config))
    assert killed.exit_code == 0, killed.output
    assert sleeper.wait(timeout=5) == -9
    testnet.serve(testnet.peer, "0.0.0.0")
    isolated = run("isolate", "--alert", alert_id, "--db", str(db), "--config", str(config))
    assert isolated.exit_code == 0, isolated.output
    assert not testnet.can_connect(testnet.peer_addr)
    assert "ISOLATED" in run("status", "--config", str(config)).output
    released = run("release", "--alert", alert_id, "--db", str(db), "--config", str(config))
    assert released.exit_code == 0 and testnet.can_connect(testnet.peer_addr)
    with AlertStore(db) as store:
        assert [e["command"] for e in history(store, alert_id)] == ["kill-process", "isolate", "release"]


def test_bad_response_configuration_names_file_line_and_key(tmp_path):
    config = tmp_path / "vigil.toml"
    config.write_text('[store]\npath = "x.db"\n\n[response]\nenabled = true\nmanagement_addresses = ["10.0.0.300"]\n')
    result = run("status", "--config", str(config))
    assert result.exit_code == 2
    assert f"{config}:6 [response.management_addresses]" in result.output and "not an address" in result.output
