"""What a user trips over, fixed: every command agrees on the store, the exception lists and the rules of the
configuration; mistakes are one located line; ids are never cut; Ctrl-C says what is kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from vigil.cli import cli
from vigil.exceptions import ExceptionStore

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "vigil" / "data" / "samples"
NPING = "0d69150b-96f8-467c-a86d-a67a3378ce77"
DEFEND_ALERT = "72768b44"  # the Defend sample's alert: ids are deterministic


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("VIGIL_HOME", str(home))
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    return home


@pytest.fixture
def config(tmp_path):
    """A configuration that moves the store and the exception lists away from the data directory."""
    path = tmp_path / "etc" / "vigil.toml"
    path.parent.mkdir()
    path.write_text('[store]\npath = "state/alerts.db"\n[exceptions]\ndir = "state/exceptions"\n', encoding="utf-8")
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def hunt_samples(*extra: str):
    result = invoke("hunt", "--rule", "builtin", *extra, str(SAMPLES))
    assert result.exit_code == 0, result.output
    return result


# ------------------------------------------------------------------------- one store, one set of exception lists
def test_alerts_read_the_store_the_configuration_names(home, config):
    hunt_samples("--config", str(config))
    assert (config.parent / "state" / "alerts.db").exists()
    listed = invoke("alerts", "list", "--config", str(config), "--json")
    assert listed.exit_code == 0 and len(listed.output.splitlines()) == 7
    shown = invoke("alerts", "show", DEFEND_ALERT, "--config", str(config), "--json")
    assert shown.exit_code == 0 and orjson.loads(shown.output)["kibana.alert.rule.rule_id"] == NPING
    acked = invoke("alerts", "ack", DEFEND_ALERT, "--config", str(config))
    assert acked.exit_code == 0 and "open → acknowledged" in acked.output
    history = invoke("respond", "history", "--alert", DEFEND_ALERT, "--config", str(config))
    assert history.exit_code == 0, history.output
    # the data directory's default store was never involved
    assert not (home / "vigil.db").exists() or "no alerts match" in invoke("alerts", "list", "--db",
                                                                           str(home / "vigil.db")).output


def test_vigil_config_variable_is_honoured_by_alerts(home, config, monkeypatch):
    monkeypatch.setenv("VIGIL_CONFIG", str(config))
    hunt_samples()
    listed = invoke("alerts", "list", "--json")
    assert listed.exit_code == 0 and len(listed.output.splitlines()) == 7


def test_exceptions_go_where_the_configuration_says_and_apply_to_the_hunt(home, config):
    added = invoke("exceptions", "add", "--config", str(config), "--rule", NPING, "--name", "ana's scans",
                   "--entry", "user.name is ana")
    assert added.exit_code == 0, added.output
    assert ExceptionStore(config.parent / "state" / "exceptions").lists()
    result = hunt_samples("--config", str(config), "--json")
    users = {orjson.loads(line)["user"]["name"] for line in result.output.splitlines() if line.startswith("{")}
    assert users == {"alice"}  # the six alerts of ana were excepted; the raw audit.log one (alice) remains


def test_exception_rule_prefix_resolves_to_the_full_rule_id(home):
    added = invoke("exceptions", "add", "--rule", "0d69", "--name", "n", "--entry", "user.name is svc")
    assert added.exit_code == 0 and f"rule_default-{NPING}" in added.output
    listed = invoke("exceptions", "list", "--rule", "0d69150b")
    assert "svc" in listed.output


def test_exception_for_an_unknown_rule_is_refused_and_nothing_is_written(home):
    added = invoke("exceptions", "add", "--rule", "nosuchrule", "--name", "n", "--entry", "user.name is svc")
    assert added.exit_code == 2 and "no rule 'nosuchrule'" in added.output and "Traceback" not in added.output
    assert ExceptionStore(home / "exceptions").lists() == []


def test_exception_ids_are_printed_whole(home):
    invoke("exceptions", "add", "--rule", NPING, "--name", "n", "--entry", "user.name is svc")
    item_id = ExceptionStore(home / "exceptions").lists()[0].items[0].item_id
    listed = invoke("exceptions", "list")
    assert item_id in listed.output and f"rule_default-{NPING}" in listed.output  # what `exceptions remove` takes


def test_exceptions_export_to_a_bad_path_is_one_located_line(home, tmp_path):
    result = invoke("exceptions", "export", "-o", str(tmp_path / "missing" / "x.ndjson"))
    assert result.exit_code == 2 and "cannot write the export" in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------------------------------ same options everywhere
@pytest.mark.parametrize("flag", ["-o", "--output", "--out"])
def test_alerts_export_takes_output_like_the_other_exports(home, tmp_path, flag):
    hunt_samples()
    out = tmp_path / "alerts.ndjson"
    result = invoke("alerts", "export", flag, str(out))
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 14  # action + document per alert


@pytest.mark.parametrize("path", [("alerts", "list"), ("alerts", "show"), ("alerts", "ack"), ("alerts", "export"),
                                  ("exceptions", "add"), ("exceptions", "list"), ("respond", "kill"),
                                  ("respond", "history"), ("rules", "list"), ("rules", "enable"), ("rules", "test"),
                                  ("rules", "coverage"), ("run",), ("hunt",), ("notify", "test")])
def test_config_option_is_everywhere_with_one_meaning(path):
    text = invoke(*path, "--help").output
    assert "--config FILE" in text and "$VIGIL_CONFIG" in text


@pytest.mark.parametrize("path", [("alerts", "list"), ("respond", "kill"), ("respond", "history"), ("run",),
                                  ("hunt",)])
def test_db_option_says_the_configured_store_is_the_default(path):
    text = " ".join(invoke(*path, "--help").output.split())
    assert "--db FILE" in text and "[store] path of the configuration" in text


def test_severity_and_status_filters_ignore_case(home):
    hunt_samples()
    result = invoke("alerts", "list", "--severity", "MEDIUM", "--status", "Open", "--json")
    assert result.exit_code == 0 and len(result.output.splitlines()) == 7


def test_alert_list_falls_back_to_other_host_fields(home):
    hunt_samples()
    result = invoke("alerts", "list")
    assert "8f3c2a105b6e" in result.output  # CrowdStrike names its host by id only


# ------------------------------------------------------------------------------------------------------- rules
def test_rules_list_includes_configured_dirs_and_their_enabled_state(home, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "nping.toml").write_bytes((REPO / "vigil/rules/builtin/discovery_linux_nping_activity.toml").read_bytes())
    cfg = tmp_path / "vigil.toml"
    cfg.write_text(f'[rules]\ndirs = ["rules"]\ndisabled = ["{NPING}"]\n', encoding="utf-8")
    listed = invoke("rules", "list", "--config", str(cfg), "--json")
    row = next(orjson.loads(line) for line in listed.output.splitlines() if NPING in line)
    assert row["source"] == "configured" and row["enabled"] is False
    enabled = invoke("rules", "enable", NPING, "--config", str(cfg))
    assert enabled.exit_code == 0 and "still disables it for `vigil run`" in enabled.output


def test_a_missing_rule_file_is_named_as_such(home, tmp_path):
    result = invoke("rules", "diff", f"builtin:{NPING}", "discovery_linux_nping_activity.toml")
    assert result.exit_code == 2 and "no such rule file" in result.output
    result = invoke("rules", "show", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.output


def test_rules_test_detail_does_not_read_as_a_broken_rule(home):
    result = invoke("rules", "test", f"builtin:{NPING}")
    assert result.exit_code == 0 and "near miss breaks:" in result.output and "broken:" not in result.output


# ----------------------------------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_during_a_hunt_exits_130_and_says_what_is_kept(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "VIGIL_HOME": str(home)}
    env.pop("VIGIL_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "hunt", "--rule", "builtin", "-"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write((SAMPLES / "defend.ndjson").read_bytes())  # stdin stays open: the hunt waits for more
        proc.stdin.flush()
        deadline = time.monotonic() + 30
        while not (home / "vigil.db").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # past opening the store: the hunt is reading
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    text = err.decode()
    assert "interrupted" in text and str(home / "vigil.db") in text and "Traceback" not in text
