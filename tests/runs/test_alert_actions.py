"""New alerts from `vigil hunt` and `vigil run --once` reach the configured notification outputs (end to end)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from vigil.cli import cli

SAMPLES = Path(__file__).resolve().parents[2] / "vigil" / "data" / "samples"


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "vigil.toml"
    config.write_text('[store]\npath = "alerts.db"\n\n[[outputs.file]]\npath = "notified.ndjson"\n')
    return config


def test_hunt_notifies_each_new_alert_once(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    config = _config(tmp_path)
    args = ["hunt", "--config", str(config), "--rule", "builtin", str(SAMPLES / "defend.ndjson")]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    lines = (tmp_path / "notified.ndjson").read_text().splitlines()
    alerts = [json.loads(line) for line in lines]  # the file channel writes one alert document per line
    assert [a["process"]["name"] for a in alerts] == ["nping"]
    assert alerts[0]["kibana.alert.rule.rule_id"] == "0d69150b-96f8-467c-a86d-a67a3378ce77"
    # the same hunt again finds the alert already stored: nothing new, nothing sent
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert len((tmp_path / "notified.ndjson").read_text().splitlines()) == len(lines)
