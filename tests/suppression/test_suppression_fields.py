"""The suppression fields of one alert: objectHash, terms, times, and validation of `alert_suppression`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.runs.run_fixtures import make_rule
from vigil.alerts.suppression import (
    SuppressionSpec,
    instance_id,
    js_number,
    object_hash,
    parse_suppression,
    rule_suppression,
    suppression_terms,
    suppression_time,
    term_value,
)
from vigil.errors import RuleError

UTC = dt.timezone.utc

# Reference values printed by the npm package `object-hash@3.0.0` (Kibana's dependency), default options, Node 20:
#   require('object-hash')(value)
OBJECT_HASH_VECTORS = [
    ([[{"field": "host.name", "value": ["host-0"]}], "rule-uuid", "default"],
     "99f07e053ba63543cfd70d738d5115fa3031e2e5"),
    ([[{"field": "host.name", "value": None}, {"field": "user.name", "value": ["a", "b"]}], "r", "default"],
     "b6e37921225b99e977300af8d73eeba269e27285"),
    ([[{"field": "process.pid", "value": [12]}, {"field": "x", "value": [1.5, True]}], "r", "sp"],
     "6060e4c00b26cf38f5608d77d1ff74ed87a48dfe"),
    ([[{"field": "h", "value": "plain"}], "r", "default"], "9c8621d0f0eee78cb930446dca2eb7824bbf1c1f"),
    ([[{"field": "h", "value": ["é\U0001F600"]}], "r", "default"], "1cee7a86faaac7c8c9de12be1450138bc19aaf6a"),
    ([[], "r", "default"], "e48866a37d5f82fe521dd4b17c15429f8b1a056a"),
    ([[{"field": "o", "value": [{"a": 1}]}], "r", "default"], "91e699b528e0d254efd235ddd6783bc9d4c36ef0"),
]


@pytest.mark.parametrize("value, expected", OBJECT_HASH_VECTORS)
def test_object_hash_matches_the_npm_package(value, expected):
    assert object_hash(value) == expected


def test_object_hash_depends_on_order_type_and_every_part():
    base = [[{"field": "host.name", "value": ["a"]}], "r", "default"]
    variants = [
        [[{"field": "host.name", "value": ["b"]}], "r", "default"],
        [[{"field": "host.name", "value": "a"}], "r", "default"],     # a string is not a one-element array
        [[{"field": "host.name", "value": ["a"]}], "r2", "default"],
        [[{"field": "host.name", "value": ["a"]}], "r", "other"],
        [[{"field": "host.name", "value": [1]}], "r", "default"],
        [[{"field": "host.name", "value": ["1"]}], "r", "default"],    # number and string differ
    ]
    hashes = {object_hash(v) for v in [base, *variants]}
    assert len(hashes) == len(variants) + 1
    # key order inside an object does not matter (object-hash sorts keys)
    assert object_hash([[{"value": ["a"], "field": "host.name"}], "r", "default"]) == object_hash(base)


@pytest.mark.parametrize("number, text", [
    (12, "12"), (1.5, "1.5"), (-2.0, "-2"), (1e21, "1e+21"), (1e-7, "1e-7"), (1.5e-5, "0.000015"),
    (123456789012345680000.0, "123456789012345680000"), (2**60, "1152921504606847000"), (5e-324, "5e-324"),
])
def test_numbers_are_written_as_javascript_writes_them(number, text):
    assert js_number(number) == text  # values printed by Node 20's Number.prototype.toString


def test_term_values_are_sorted_arrays_of_leaf_values_or_null():
    doc = {"host": {"name": "web-01", "ip": ["10.0.0.2", "10.0.0.10", "10.0.0.1"]},
           "tags": [], "user": None, "process": {"pid": 42, "args": [3, 1, 2]},
           "dns": {"answers": [{"ip": "b"}, {"ip": "a"}]}}
    assert term_value(doc, "host.name") == ["web-01"]
    assert term_value(doc, "host.ip") == ["10.0.0.1", "10.0.0.10", "10.0.0.2"]  # string order, as lodash sortBy
    assert term_value(doc, "process.pid") == [42]
    assert term_value(doc, "process.args") == [1, 2, 3]  # numbers numerically
    assert term_value(doc, "dns.answers.ip") == ["a", "b"]  # through arrays of objects
    for missing in ("tags", "user", "user.name", "nope", "host"):  # empty, null, absent, an object
        assert term_value(doc, missing) is None, missing
    assert term_value({"host.name": "flat"}, "host.name") == ["flat"]


def test_terms_keep_the_rule_order_and_the_instance_id_hashes_them():
    doc = {"user": {"name": "ana"}, "host": {"name": "web-01"}}
    terms = suppression_terms(doc, ["user.name", "host.name", "source.ip"])
    assert terms == [{"field": "user.name", "value": ["ana"]}, {"field": "host.name", "value": ["web-01"]},
                     {"field": "source.ip", "value": None}]
    assert instance_id(terms, "rule-uuid", "default") == object_hash([terms, "rule-uuid", "default"])


def test_suppression_time_prefers_the_override_then_timestamp_then_the_alert_time():
    fallback = dt.datetime(2030, 1, 1, tzinfo=UTC)
    doc = {"@timestamp": "2026-11-28T12:00:00.123456Z", "event": {"ingested": "2026-11-28T12:00:05Z"}}
    assert suppression_time(doc, "event.ingested", "@timestamp", fallback) == dt.datetime(2026, 11, 28, 12, 0, 5,
                                                                                          tzinfo=UTC)
    assert suppression_time({"@timestamp": doc["@timestamp"]}, "event.ingested", "@timestamp", fallback).second == 0
    assert suppression_time({"@timestamp": doc["@timestamp"]}, "event.ingested", None, fallback) == fallback
    assert suppression_time({}, "@timestamp", None, fallback) == fallback


def test_a_valid_setting_and_its_defaults():
    spec = parse_suppression({"group_by": ["host.name"]})
    assert spec == SuppressionSpec(("host.name",), None, None, "suppress")
    spec = parse_suppression({"group_by": ["a", "b", "c"], "duration": {"value": 90, "unit": "s"},
                              "missing_fields_strategy": "doNotSuppress"})
    assert spec.duration == dt.timedelta(seconds=90) and spec.duration_text == "90s" and not spec.suppress_missing


BAD_SETTINGS = [
    ({"group_by": []}, "rule.alert_suppression.group_by", "1 to 3"),
    ({"group_by": "host.name"}, "rule.alert_suppression.group_by", "1 to 3"),
    ({"group_by": ["a", "b", "c", "d"]}, "rule.alert_suppression.group_by", "at most 3"),
    ({"group_by": ["a", ""]}, "rule.alert_suppression.group_by[1]", "field name"),
    ({"group_by": ["a"], "duration": {"value": 0, "unit": "m"}}, "rule.alert_suppression.duration.value", ">= 1"),
    ({"group_by": ["a"], "duration": {"value": 5, "unit": "d"}}, "rule.alert_suppression.duration.unit", "s, m or h"),
    ({"group_by": ["a"], "duration": {"value": 5}}, "rule.alert_suppression.duration.unit", "s, m or h"),
    ({"group_by": ["a"], "missing_fields_strategy": "drop"}, "rule.alert_suppression.missing_fields_strategy",
     "suppress, doNotSuppress"),
    ({"group_by": ["a"], "windows": 3}, "rule.alert_suppression.windows", "unknown"),
]


@pytest.mark.parametrize("raw, key, words", BAD_SETTINGS)
def test_bad_settings_are_located_rule_errors(tmp_path, raw, key, words):
    # Loading the rule validates the setting (vigil rules validate reports it too), before any execution.
    with pytest.raises(RuleError) as caught:
        rule_suppression(make_rule(tmp_path, alert_suppression=raw))
    error = caught.value
    assert words in error.message
    assert error.location.key == key
    path = error.location.path
    assert path and path.endswith(".toml") and error.location.line is not None
    # the line is the offending key's own (or, for a key that is absent, its table's header)
    line = Path(path).read_text(encoding="utf-8").splitlines()[error.location.line - 1]
    last = key.rpartition(".")[2].partition("[")[0]
    assert line.startswith(f"{last} =") or (last == "unit" and line == "[rule.alert_suppression.duration]"), line
    assert f"{path}:{error.location.line}" in str(error) and key in str(error)


def test_a_rule_without_the_setting_has_no_suppression(tmp_path):
    assert rule_suppression(make_rule(tmp_path)) is None
