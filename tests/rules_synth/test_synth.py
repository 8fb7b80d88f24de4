"""Event synthesis: every construct the brief names yields events the real engine matches, and a near miss it
does not. `synthesize` verifies both itself; these tests re-check the verdict independently with compile_query."""

from __future__ import annotations

import pytest

from vigil.engine import compile_query
from vigil.rules.synth import build_document, synthesize

NPING = ('process where host.os.type == "linux" and event.type == "start" and event.action in ("exec", '
         '"exec_event", "start", "ProcessRollup2", "executed", "process_started") and process.name == "nping"')


def fires(query: str, events: list[dict]) -> bool:
    cq = compile_query(query)
    return any(True for _ in cq.run(sorted(events, key=cq.sort_key)))


def check(query: str):
    result = synthesize(query)
    assert result.ok, result.reason
    assert fires(query, result.positive)
    assert not fires(query, result.negative)
    return result


def test_nping_event_is_nested_ecs_and_the_near_miss_breaks_the_process_name():
    result = check(NPING)
    (event,) = result.positive
    assert event["process"]["name"] == "nping"
    assert event["host"]["os"]["type"] == "linux"
    assert event["event"]["category"] == "process"
    assert event["event"]["action"] in ("exec", "exec_event", "start", "ProcessRollup2", "executed",
                                        "process_started")
    assert event["@timestamp"].endswith("Z")
    assert result.broken == 'process.name == "nping"'
    (miss,) = result.negative
    assert miss.get("process", {}).get("name") != "nping"
    assert {k: v for k, v in miss.items() if k != "process"} == {k: v for k, v in event.items() if k != "process"}


CONSTRUCTS = {
    "or": 'process where process.name == "a" or process.name == "b"',
    "not equal": 'process where process.name == "a" and process.parent.name != "bash"',
    "not equal required": 'process where process.parent.name != "bash" and process.parent.name like "b*"',
    "not in": 'process where process.name in ("a", "b") and not process.name in ("a")',
    "not wildcard": 'process where process.executable : "/usr/*" and not process.executable : "/usr/bin/*"',
    "exists": "process where process.pid != null and process.name == \"x\"",
    "absent": 'process where process.parent.name == null and process.name == "x"',
    "in~": 'process where process.name in~ ("Curl", "WGET")',
    "colon list": 'file where file.path : ("/etc/*.conf", "/root/.ssh/*")',
    "like~": 'process where process.command_line like~ "*BASE64 -d*"',
    "regex": 'process where process.name regex """[a-z]{3}[0-9]+\\.(sh|py)"""',
    "regex~": 'process where process.name regex~ "KWORKER/[0-9]+:.*"',
    "startsWith": 'process where startsWith(process.executable, "/tmp/") and process.name == "x"',
    "startsWith~": 'process where startsWith~(process.executable, "/TMP/")',
    "endsWith": 'process where endsWith(process.executable, ".sh")',
    "stringContains": 'process where stringcontains(process.command_line, "curl")',
    "length": 'process where length(process.name) > 12',
    "not length": 'process where not length(process.name) > 3 and process.name != null',
    "cidrMatch": 'network where cidrmatch(destination.ip, "10.0.0.0/8")',
    "not cidrMatch": 'network where destination.ip != null and not cidrmatch(destination.ip, "10.0.0.0/8", "::1")',
    "range": "process where process.args_count >= 3 and process.args_count < 5",
    "numbers": 'process where process.pid == 1 and user.id == "0"',
    "optional": 'process where ?process.working_directory like "/tmp*" and ?process.parent.name != "x"',
    "array any value": 'process where process.args == "-c" and process.args : "*curl*" and process.args like "*|*"',
    "not and": 'process where process.name == "x" and not (process.args == "a" and process.args == "b")',
    "nested": ('process where event.type == "start" and (process.name in ("sh", "bash") and '
               '(process.args : "-c" or process.args_count > 4)) and not process.parent.name : "sshd"'),
    "any": 'any where event.action == "rename" and file.extension == "sh"',
    "field to field": "process where startsWith(process.executable, process.command_line)",
    "bare boolean": "process where process.interactive and process.name == \"x\"",
    "category array": 'process where event.category == "process" and event.type == "start"',
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_construct(name):
    check(CONSTRUCTS[name])


def test_array_field_holds_one_value_per_condition():
    result = check(CONSTRUCTS["array any value"])
    args = result.positive[0]["process"]["args"]
    assert isinstance(args, list) and "-c" in args


def test_not_null_field_is_left_out_when_only_negated():
    result = check(CONSTRUCTS["not equal"])
    assert "parent" not in result.positive[0]["process"]


SEQUENCE = """
sequence by host.id with maxspan=3s
  [process where event.type == "start" and process.name == "curl"] by process.entity_id
  [network where event.action == "connection_attempted" and process.name != null] by process.parent.entity_id
"""


def test_sequence_steps_in_order_within_maxspan_sharing_keys():
    result = check(SEQUENCE)
    first, second = result.positive
    assert first["host"]["id"] == second["host"]["id"]
    assert first["process"]["entity_id"] == second["process"]["parent"]["entity_id"]
    assert first["@timestamp"] < second["@timestamp"]
    assert result.broken.startswith("step 2:")


def test_sequence_key_takes_the_value_a_step_requires():
    result = check('sequence by user.name [process where user.name == "root"] [file where true]')
    assert [e["user"]["name"] for e in result.positive] == ["root", "root"]


def test_sequence_runs_repeats_the_step():
    result = check('sequence by source.ip with maxspan=5s [authentication where event.outcome == "failure"] '
                   'with runs=10')
    assert len(result.positive) == 10
    assert len({e["source"]["ip"] for e in result.positive}) == 1


def test_sequence_maxspan_shorter_than_a_second():
    check("sequence with maxspan=100ms [process where process.name == \"a\"] [process where process.name == \"b\"]"
          " [process where process.name == \"c\"]")


def test_missing_step_gets_no_event():
    result = check('sequence by host.id with maxspan=1m [process where process.name == "a"] '
                   '![process where process.name == "b"] [process where process.name == "c"]')
    assert [e["process"]["name"] for e in result.positive] == ["a", "c"]


def test_until_is_not_triggered():
    result = check('sequence by host.id [process where process.name == "a"] [process where process.name == "b"] '
                   'until [process where event.type == "end"]')
    assert all(e.get("event", {}).get("type") != "end" for e in result.positive)


def test_sample_shares_keys():
    result = check('sample by host.id, process.pid [process where process.name == "x"] '
                   '[network where not cidrmatch(destination.ip, "127.0.0.0/8")]')
    assert len(result.positive) == 2
    assert result.positive[0]["process"]["pid"] == result.positive[1]["process"]["pid"]


def test_unsupported_regex_gives_a_reason_not_a_traceback():
    result = synthesize('process where process.name regex "a&b"')
    assert not result.positive_ok
    assert "intersection" in result.reason


def test_two_values_of_one_field_become_an_array():
    # Elasticsearch matches `==` on any value of a multi-valued field, so both conditions can hold at once
    result = check('process where process.name == "a" and process.name == "b"')
    assert sorted(result.positive[0]["process"]["name"]) == ["a", "b"]


def test_contradiction_is_reported():
    result = synthesize('process where process.name == "a" and process.name != "a"')
    assert not result.ok
    assert "no combination of values" in result.reason


def test_rule_settings_are_used():
    from vigil.rules.synth import synthesize_rule

    class FakeRule:  # the attributes synthesize_rule reads, as a Rule has them
        type, language, query = "eql", "eql", 'process where process.name == "x"'
        event_category_override, timestamp_field, tiebreaker_field = "event.type", None, None
        timestamp_override = "event.ingested"

    result = synthesize_rule(FakeRule())
    assert result.ok
    (event,) = result.positive
    assert event["event"]["type"] == "process" and event["event"]["ingested"] == event["@timestamp"]


def test_build_document_nests_and_keeps_conflicts():
    doc = build_document({"process.parent.name": "a", "process.parent": "oops", "process.name": "b"})
    assert doc["process"]["name"] == "b"
    assert doc["process"]["parent"] == "oops" and doc["process"]["parent.name"] == "a"
