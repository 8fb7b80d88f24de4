"""Every kind of rule problem is reported with its location: file, line (and column where there is one), key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.errors import RuleError, UnsupportedError
from vigil.rules.loader import check_rule_file, load_rule_file, load_rules
from vigil.rules.validate import eql_available

GOOD = '''[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/02"

[rule]
author = ["Tester"]
description = "A test rule."
from = "now-9m"
index = ["logs-endpoint.events.*"]
language = "eql"
license = "Elastic License v2"
name = "Test Rule"
risk_score = 47
rule_id = "11111111-2222-3333-4444-555555555555"
severity = "medium"
tags = ["OS: Linux"]
type = "eql"

query = \'\'\'
process where host.os.type == "linux" and process.name == "nping"
\'\'\'

[[rule.threat]]
framework = "MITRE ATT&CK"

[rule.threat.tactic]
id = "TA0007"
name = "Discovery"
reference = "https://attack.mitre.org/tactics/TA0007/"
'''


def write(tmp_path: Path, text: str, name: str = "rule.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def only_errors(path: Path):
    rule, diagnostics = check_rule_file(path)
    errors = [d.error for d in diagnostics if d.level == "error"]
    return rule, errors, [d.error for d in diagnostics if d.level == "warning"]


def test_good_rule_loads_with_defaults(tmp_path):
    rule = load_rule_file(write(tmp_path, GOOD))
    assert rule.name == "Test Rule" and rule.type == "eql" and rule.runnable
    assert (rule.interval, rule.from_, rule.to, rule.max_signals) == ("5m", "now-9m", "now", 100)
    assert rule.threat[0].tactic.id == "TA0007" and rule.threat[0].technique == ()
    assert rule.location_of("rule.query").line == line_of(GOOD, "query =")
    # a key that is not written falls back to the line of its table
    assert rule.location_of("rule.interval").line == line_of(GOOD, "[rule]")


def test_invalid_toml_is_located_at_line_and_column(tmp_path):
    text = GOOD.replace('risk_score = 47', 'risk_score = = 47')
    path = write(tmp_path, text)
    _, errors, _ = only_errors(path)
    (error,) = errors
    assert isinstance(error, RuleError)
    assert error.location.path == str(path)
    assert error.location.line == line_of(text, "risk_score = =")
    assert error.location.column == 14
    assert str(error).startswith(f"{path}:{error.location.line}:14: invalid TOML")
    assert "^" in str(error)  # caret under the column


def test_missing_required_key(tmp_path):
    text = GOOD.replace('severity = "medium"\n', "")
    path = write(tmp_path, text)
    rule, errors, _ = only_errors(path)
    assert rule is None
    (error,) = errors
    assert error.location.key == "rule.severity"
    assert error.location.line == line_of(text, "[rule]")
    assert "missing required key 'severity' for an eql rule" in error.message


def test_missing_query_for_eql(tmp_path):
    text = GOOD.split("query =")[0] + GOOD.split("\'\'\'\n", 2)[2]
    _, errors, _ = only_errors(write(tmp_path, text))
    assert [e.location.key for e in errors] == ["rule.query"]


@pytest.mark.parametrize(
    "old, new, key, words",
    [
        ('risk_score = 47', 'risk_score = 147', "rule.risk_score", "outside 0..100"),
        ('risk_score = 47', 'risk_score = "47"', "rule.risk_score", "expected an integer, found string"),
        ('severity = "medium"', 'severity = "urgent"', "rule.severity", "is not one of low, medium, high, critical"),
        ('tags = ["OS: Linux"]', 'tags = "OS: Linux"', "rule.tags", "expected a list of strings"),
        ('language = "eql"', 'language = "kuery"', "rule.language", "does not fit an eql rule"),
        ('maturity = "production"', 'maturity = "done"', "metadata.maturity", "unknown maturity"),
        ('updated_date = "2024/01/02"', 'updated_date = "2024-01-02"', "metadata.updated_date", "YYYY/MM/DD"),
    ],
)
def test_bad_values_are_located(tmp_path, old, new, key, words):
    text = GOOD.replace(old, new)
    _, errors, _ = only_errors(write(tmp_path, text))
    (error,) = errors
    assert error.location.key == key
    assert error.location.line == line_of(text, new)
    assert words in error.message


def test_bad_date_math_points_at_the_character(tmp_path):
    text = GOOD.replace('from = "now-9m"', 'from = "now-9x"')
    path = write(tmp_path, text)
    _, errors, _ = only_errors(path)
    (error,) = errors
    assert error.location.key == "rule.from"
    assert error.location.line == line_of(text, "now-9x")
    assert error.location.column == len('from = "now-9')  + 1  # the unit 'x' in the file line
    assert "unknown time unit 'x'" in error.message
    assert f"{path}:{error.location.line}:{error.location.column} [rule.from]" in str(error)


def test_bad_interval(tmp_path):
    text = GOOD.replace('from = "now-9m"', 'from = "now-9m"\ninterval = "5 minutes"')
    _, errors, _ = only_errors(write(tmp_path, text))
    (error,) = errors
    assert error.location.key == "rule.interval" and error.location.line == line_of(text, "interval =")
    assert "invalid interval" in error.message


def test_unknown_rule_type_is_unsupported_not_a_crash(tmp_path):
    text = GOOD.replace('type = "eql"', 'type = "sigma"')
    path = write(tmp_path, text)
    rule, errors, _ = only_errors(path)
    assert rule is None
    (error,) = errors
    assert isinstance(error, UnsupportedError)
    assert error.location.key == "rule.type" and error.location.line == line_of(text, 'type = "sigma"')
    with pytest.raises(UnsupportedError):
        load_rule_file(path)


def test_known_but_not_runnable_type_loads(tmp_path):
    text = GOOD.replace('type = "eql"', 'type = "esql"').replace('language = "eql"', 'language = "esql"')
    rule = load_rule_file(write(tmp_path, text))
    assert rule.type == "esql" and not rule.runnable


def test_unknown_keys_are_warnings_and_kept(tmp_path):
    text = GOOD.replace('[rule]\n', '[rule]\nflavour = "vanilla"\n').replace("[metadata]\n", "[metadata]\nowner = 1\n")
    text += "\n[extras]\nx = 1\n"
    rule, errors, warnings = only_errors(write(tmp_path, text))
    assert errors == []
    keys = {w.location.key: w for w in warnings}
    assert set(keys) == {"rule.flavour", "metadata.owner", "extras"}
    assert keys["rule.flavour"].location.line == line_of(text, "flavour")
    assert rule.document["rule"]["flavour"] == "vanilla" and rule.document["extras"] == {"x": 1}


def test_threat_entry_errors_use_indexed_keys(tmp_path):
    text = GOOD.replace('id = "TA0007"\n', "")
    _, errors, _ = only_errors(write(tmp_path, text))
    (error,) = errors
    assert error.location.key == "rule.threat[0].tactic.id"
    assert error.location.line == line_of(text, "[rule.threat.tactic]")


def test_bad_files_do_not_stop_good_ones(tmp_path):
    write(tmp_path, GOOD, "a_good.toml")
    write(tmp_path, GOOD.replace("rule_id = \"1", "rule_id = \"9"), "b_good.toml")
    write(tmp_path, "[rule\n", "c_bad.toml")
    write(tmp_path, GOOD, "d_duplicate.toml")
    result = load_rules(tmp_path)
    assert result.files == 4 and len(result.rules) == 2
    assert [Path(e.error.location.path).name for e in result.errors] == ["c_bad.toml", "d_duplicate.toml"]
    assert "duplicate rule_id" in result.errors[1].error.message


@pytest.mark.skipif(not eql_available(), reason="the EQL parser (vigil.eql.parse) is not available in this tree yet")
def test_bad_query_is_located_in_file_and_query(tmp_path):
    text = GOOD.replace('process.name == "nping"', 'process.name === "nping"')
    path = write(tmp_path, text)
    _, errors, _ = only_errors(path)
    (error,) = errors
    assert error.location.key == "rule.query"
    assert error.location.line == line_of(text, "===")  # the query line inside the file
    assert "EQL query line 1:" in error.message
    assert "^" in str(error)


def test_errors_inside_an_ndjson_export_point_at_the_object_line(tmp_path):
    import orjson

    from vigil.rules.ndjson_io import dumps_export

    rule = load_rule_file(write(tmp_path, GOOD))
    bad = dict(rule.to_document())
    bad["rule"] = {**bad["rule"], "severity": "urgent", "rule_id": "other"}
    export = tmp_path / "export.ndjson"
    export.write_bytes(dumps_export([rule.document, bad]))
    result = load_rules(export)
    assert [r.rule_id for r in result.rules] == [rule.rule_id]
    (error,) = result.errors
    assert (error.error.location.path, error.error.location.line) == (str(export), 2)
    assert error.error.location.key == "rule.severity"
    assert orjson.loads(export.read_bytes().splitlines()[-1])["exported_count"] == 2


def test_bad_alert_suppression_is_reported_when_validating(tmp_path):
    text = GOOD + '\n[rule.alert_suppression]\ngroup_by = ["host.name", "user.name", "process.name", "x"]\n'
    rule, errors, warnings = only_errors(write(tmp_path, text))
    [error] = errors
    assert error.location.key == "rule.alert_suppression.group_by"
    assert error.location.line == line_of(text, "group_by")


def test_bad_response_action_is_reported_when_validating(tmp_path):
    text = GOOD + ('\n[[rule.response_actions]]\naction_type_id = ".endpoint"\n[rule.response_actions.params]\n'
                   'command = "reboot"\n')
    rule, errors, warnings = only_errors(write(tmp_path, text))
    [error] = errors
    assert "unknown response command 'reboot'" in error.message
    assert error.location.key == "rule.response_actions[0].params.command"
