"""`vigil rules test` and `vigil rules coverage` through the real CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import shared_path
from vigil.cli import cli

NPING_ID = "0d69150b-96f8-467c-a86d-a67a3378ce77"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_builtin_rule_passes_and_show_prints_events():
    result = run("rules", "test", f"builtin:{NPING_ID}", "--show")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith(("positive\t", "negative\t"))]
    assert [line.split("\t")[0] for line in lines] == ["positive", "negative"]
    event = json.loads(lines[0].split("\t", 2)[2])
    assert event["process"]["name"] == "nping"
    assert "1 passed, 0 failed" in result.stdout


def test_directory_with_skipped_types(tmp_path):
    folder = shared_path("rules", "elastic", "rules_building_block")
    result = run("rules", "test", str(folder))
    assert result.exit_code == 0, result.output
    # new_terms rules are tested too (vigil.rules.synth_aggregate); the one skipped rule is of another type
    assert "21 rule(s): 20 passed, 0 failed, 1 skipped" in result.stdout
    assert "skipped: rule type 'new_terms'" not in result.stdout


def test_failing_rule_exits_non_zero(tmp_path):
    rule = tmp_path / "impossible.toml"
    rule.write_text(
        '[metadata]\ncreation_date = "2026/01/01"\nupdated_date = "2026/01/01"\nmaturity = "production"\n\n'
        '[rule]\nauthor = ["test"]\ndescription = "x"\nlicense = "Elastic License v2"\nname = "Impossible"\n'
        'risk_score = 21\nrule_id = "11111111-2222-3333-4444-555555555555"\nseverity = "low"\ntags = []\n'
        'type = "eql"\nlanguage = "eql"\n'
        "query = '''process where process.name == \"a\" and process.name != \"a\"'''\n",
        encoding="utf-8",
    )
    result = run("rules", "test", str(rule))
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "no combination of values" in result.stdout


def test_no_rule_named_is_a_clear_error():
    result = run("rules", "test")
    assert result.exit_code == 2 and "--all" in result.output and "Traceback" not in result.output


def test_coverage_json_and_layer(tmp_path):
    layer_file = tmp_path / "layer.json"
    result = run("rules", "coverage", str(shared_path("rules", "elastic", "rules_building_block")), "--json",
                 "--layer", str(layer_file), "--platform", "Linux")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["rules"] == 21 and data["by_type"]["eql"] == {"runnable": 8}
    assert data["by_type"]["esql"] == {"unsupported": 1} and data["errors"] == []
    layer = json.loads(layer_file.read_text())
    assert layer["versions"]["layer"] == "4.5" and layer["techniques"]


def test_coverage_of_the_registry_keeps_the_attack_table():
    result = run("rules", "coverage")
    assert result.exit_code == 0
    assert "TA0007 Discovery" in result.stdout and "T1046" in result.stdout and "runnable" in result.stdout
