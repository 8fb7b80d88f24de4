"""The registry (built-ins + imported + configured, enabled state) and the `vigil rules` commands."""

from __future__ import annotations

import json
import tomllib

import orjson
import pytest
from click.testing import CliRunner

from vigil.cli import cli
from vigil.rules.registry import load_registry, load_registry_result, set_enabled, state_path

NPING_ID = "0d69150b-96f8-467c-a86d-a67a3378ce77"
HPING = "discovery_linux_hping_activity.toml"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VIGIL_SCHEMAS", raising=False)
    return tmp_path / "home"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_registry_has_the_builtin_enabled_by_default():
    (rule,) = load_registry()
    assert rule.rule_id == NPING_ID and rule.enabled and rule.source == "builtin"


def test_enabled_state_is_persisted(home):
    set_enabled([NPING_ID], False)
    assert json.loads(state_path().read_text())["enabled"] == {NPING_ID: False}
    assert [r.enabled for r in load_registry()] == [False]
    set_enabled([NPING_ID], True)
    assert [r.enabled for r in load_registry()] == [True]


def test_configured_dir_overrides_builtin_with_same_id(shared):
    linux = shared("rules", "elastic", "linux")
    rules = {r.rule_id: r for r in load_registry(extra_dirs=[linux])}
    assert len(rules) == 363  # the upstream Nping replaces the built-in one
    assert rules[NPING_ID].source == "configured" and rules[NPING_ID].timestamp_override == "event.ingested"


def test_cli_list_and_json():
    result = run("rules", "list")
    assert result.exit_code == 0
    assert "Nping Process Activity" in result.stdout and "builtin" in result.stdout
    rows = [orjson.loads(line) for line in run("rules", "list", "--json").stdout.splitlines()]
    assert rows == [{"rule_id": NPING_ID, "name": "Nping Process Activity", "type": "eql", "severity": "medium",
                     "enabled": True, "source": "builtin", "location": rows[0]["location"]}]


def test_cli_show_renders_fields_and_markdown():
    result = run("rules", "show", f"builtin:{NPING_ID}")
    assert result.exit_code == 0
    out = result.stdout
    assert "Nping Process Activity" in out and "risk_score" in out and "now-9m" in out
    assert "TA0007 Discovery - T1046 Network Service Discovery" in out
    assert "Investigation guide" in out and "Triage and analysis" in out
    assert "## Triage" not in out  # markdown was rendered, not printed raw
    toml_out = run("rules", "show", "builtin:0d69", "--format", "toml").stdout
    assert tomllib.loads(toml_out)["rule"]["version"] == 209


def test_cli_validate_good_and_bad(tmp_path, shared):
    good = run("rules", "validate", str(shared("rules", "elastic", "rules_building_block")),
               "--schemas", str(shared("schemas")))
    assert good.exit_code == 0, good.stderr
    assert "21 rule(s) valid" in good.stdout and "0 error(s)" in good.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text('[rule]\nname = "x"\ntype = "eql"\nfrom = "now-9q"\n', encoding="utf-8")
    result = run("rules", "validate", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:4:14 [rule.from]: invalid date math 'now-9q'" in result.stderr
    assert "missing required key 'query'" in result.stderr
    assert "note: query fields not checked" in result.stderr
    assert "0 rule(s) valid" in result.stdout


def test_cli_import_export_roundtrip(tmp_path, shared, home):
    source = shared("rules", "elastic", "linux", HPING)
    imported = run("rules", "import", str(source))
    assert imported.exit_code == 0, imported.stderr
    assert (home / "rules" / HPING).read_bytes() == source.read_bytes()  # kept as written

    export_file = tmp_path / "out.ndjson"
    exported = run("rules", "export", "--output", str(export_file))
    assert exported.exit_code == 0
    lines = [orjson.loads(x) for x in export_file.read_bytes().splitlines()]
    assert lines[-1]["exported_count"] == 2 and len(lines) == 3
    assert {x["rule_id"] for x in lines[:-1]} == {NPING_ID, tomllib.loads(source.read_text())["rule"]["rule_id"]}

    # Import the NDJSON into a fresh home: both rules come back, the built-in id merges with the built-in.
    other = tmp_path / "home2"
    runner = CliRunner(env={"VIGIL_HOME": str(other)})
    result = runner.invoke(cli, ["rules", "import", str(export_file)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "imported 2 rule(s)" in result.stdout
    assert len(list((other / "rules").glob("*.toml"))) == 2


def test_cli_import_reports_bad_lines_and_keeps_good_ones(tmp_path, home):
    export = run("rules", "export").stdout.splitlines()
    bad = tmp_path / "mixed.ndjson"
    bad.write_text("\n".join([export[0], "{not json", export[1]]) + "\n", encoding="utf-8")
    result = run("rules", "import", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:2: not valid JSON" in result.stderr
    assert "imported 1 rule(s)" in result.stdout


def test_cli_enable_disable(home):
    assert run("rules", "disable", NPING_ID).exit_code == 0
    assert [r.enabled for r in load_registry()] == [False]
    assert "no" in run("rules", "list").stdout
    assert run("rules", "enable", "0d69150b").exit_code == 0
    assert [r.enabled for r in load_registry()] == [True]


def test_cli_unknown_rule_is_a_clean_error():
    result = run("rules", "disable", "does-not-exist")
    assert result.exit_code == 2
    assert "no rule 'does-not-exist'" in result.stderr and "Traceback" not in result.stderr


def test_cli_diff_builtin_vs_upstream(shared):
    upstream = shared("rules", "elastic", "linux", "discovery_linux_nping_activity.toml")
    result = run("rules", "diff", f"builtin:{NPING_ID}", str(upstream))
    assert result.exit_code == 1
    for word in ("rule.timestamp_override", "event.ingested", "rule.index", "rule.threat[1]", "TA0040"):
        assert word in result.stdout
    same = run("rules", "diff", f"builtin:{NPING_ID}", f"builtin:{NPING_ID}")
    assert same.exit_code == 0 and "no differences" in same.stdout


def test_cli_coverage():
    result = run("rules", "coverage")
    assert result.exit_code == 0 and "TA0007 Discovery" in result.stdout and "T1046" in result.stdout


def test_registry_reports_broken_imported_files(home):
    (home / "rules").mkdir(parents=True)
    (home / "rules" / "broken.toml").write_text("[rule\n", encoding="utf-8")
    result = load_registry_result()
    assert [r.rule_id for r in result.rules] == [NPING_ID]
    assert result.errors and result.errors[0].error.location.path.endswith("broken.toml")
