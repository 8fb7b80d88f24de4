"""Compiled KQL evaluated by vigil's streaming evaluator over hand-written events: Kibana's meaning, case by case."""

from __future__ import annotations

import pytest

from vigil.engine import compile_query
from vigil.engine.compiler import compile_predicate
from vigil.eql import ast
from vigil.errors import UnsupportedError
from vigil.kql import KqlUnsupportedError, compile_kql, kql_query


def matches(query: str, doc: dict, **options) -> bool:
    return compile_predicate(compile_kql(query, **options))(doc)


# ---- keyword values: exact and case-sensitive (a match query through the keyword analyzer)
def test_keyword_values_are_exact_and_case_sensitive():
    assert matches("process.name:nping", {"process": {"name": "nping"}})
    assert not matches("process.name:nping", {"process": {"name": "NPING"}})
    assert not matches("process.name:nping", {"process": {"name": "nping2"}})
    assert matches('process.title:"runc init"', {"process": {"title": "runc init"}})
    assert matches("process.title:runc init", {"process": {"title": "runc init"}})  # unquoted: still one term
    assert not matches("process.title:runc init", {"process": {"title": "runc"}})


def test_flattened_documents_work_too():
    assert matches("process.name:nping", {"process.name": "nping"})


def test_any_value_of_a_multi_valued_field_may_match():
    assert matches("process.args:-i", {"process": {"args": ["ffmpeg", "-i", "x"]}})
    assert not matches("process.args:-i", {"process": {"args": ["ffmpeg", "-y"]}})


def test_numbers_and_booleans():
    assert matches("process.parent.pid:1", {"process": {"parent": {"pid": 1}}})
    assert matches('destination.port:"2049"', {"destination": {"port": 2049}})
    assert matches("user.id:0", {"user": {"id": "0"}})
    assert not matches("user.id:0", {"user": {"id": "00"}})
    assert matches("process.interactive:true", {"process": {"interactive": True}})
    assert not matches("process.interactive:true", {"process": {"interactive": False}})
    assert matches("process.interactive:false", {"process": {"interactive": False}})


def test_quoted_star_is_a_literal_star():
    assert matches('a:"x*"', {"a": "x*"})
    assert not matches('a:"x*"', {"a": "xyz"})


def test_escapes_reach_the_value():
    assert matches(r"file.path:C\:\\Windows", {"file": {"path": "C:\\Windows"}})
    assert matches(r"a:\(x\)", {"a": "(x)"})


# ---- not: bool must_not, so documents without the field match
def test_not_matches_documents_missing_the_field():
    assert matches("not process.parent.name:bash", {"process": {"name": "x"}})
    assert matches("not process.parent.name:bash", {"process": {"parent": {"name": "sh"}}})
    assert not matches("not process.parent.name:bash", {"process": {"parent": {"name": "bash"}}})
    # one matching value is enough to exclude a multi-valued field
    assert not matches("not process.args:-h", {"process": {"args": ["-h", "x"]}})


def test_not_over_a_value_list():
    q = 'not process.args:("-h" or "--help" or "--version")'
    assert matches(q, {"process": {"args": ["-r"]}})
    assert matches(q, {})
    assert not matches(q, {"process": {"args": ["--help"]}})


# ---- exists
def test_star_alone_is_exists():
    assert matches("process.parent.executable:*", {"process": {"parent": {"executable": "/bin/sh"}}})
    assert matches("a:*", {"a": ""})  # an empty string is indexed, so it exists
    for missing in ({}, {"a": None}, {"a": []}, {"a": [None]}):
        assert not matches("a:*", missing)
        assert matches("not a:*", missing)


def test_exists_and_not_in_one_value_list():
    q = "user.id:(* and not 0)"
    assert matches(q, {"user": {"id": "1000"}})
    assert not matches(q, {"user": {"id": "0"}})
    assert not matches(q, {})


# ---- wildcards: `*` only, case-sensitive
@pytest.mark.parametrize(
    "pattern, value, expected",
    [
        ("kworker*", "kworker/0:1", True),
        ("kworker*", "Kworker/0:1", False),
        ("*.so", "/tmp/x.so", True),
        ("*/.ssh/*", "/root/.ssh/id_rsa", True),
        ("/home/*/.ssh/*", "/root/.ssh/id_rsa", False),
        ("python*", "python3.11", True),
        (".*", ".hidden", True),
        (".*", "visible", False),
    ],
)
def test_wildcard_values(pattern, value, expected):
    assert matches(f"f:{pattern}", {"f": value}) is expected


def test_question_mark_is_not_a_wildcard():
    assert matches("f:a?c*", {"f": "a?cde"})
    assert not matches("f:a?c*", {"f": "abcde"})


def test_escaped_star_is_literal_inside_a_wildcard_value():
    assert matches(r"f:a\*b*", {"f": "a*bc"})
    assert not matches(r"f:a\*b*", {"f": "axbc"})


def test_wildcard_values_with_whitespace_split_into_or_terms():
    # Kibana sends query_string, whose parser splits on whitespace and ORs the terms: `* curl*` is `* OR curl*`,
    # and `*` alone is an exists query, so the value matches any document with the field.
    assert matches("process.args:(* curl*)", {"process": {"args": ["anything"]}})
    assert not matches("process.args:(* curl*)", {})
    q = "f:*a.xml\n  */b.json"
    assert matches(q, {"f": "/x/b.json"})
    assert matches(q, {"f": "/x/a.xml"})
    assert not matches(q, {"f": "/x/a.xml.bak"})


def test_wildcards_are_unanchored_only_where_written():
    assert not matches("f:*wget", {"f": "wget2"})
    assert matches("f:*wget*", {"f": "/usr/bin/wget2"})


# ---- value lists, and/or/not, precedence
def test_value_list_precedence():
    q = "a:(x or y and z)"  # x or (y and z)
    assert matches(q, {"a": "x"})
    assert not matches(q, {"a": "y"})
    assert matches(q, {"a": ["y", "z"]})


def test_boolean_structure():
    q = "a:1 and (b:2 or not c:3)"
    assert matches(q, {"a": 1, "b": 2, "c": 3})
    assert matches(q, {"a": 1})
    assert not matches(q, {"a": 1, "c": 3})
    assert not matches(q, {"b": 2})


# ---- ranges
def test_numeric_ranges():
    assert matches("process.args_count >= 3", {"process": {"args_count": 3}})
    assert not matches("process.args_count > 3", {"process": {"args_count": 3}})
    assert matches("process.args_count < 10", {"process": {"args_count": 9}})
    assert not matches("process.args_count < 10", {})
    assert matches("not process.args_count < 10", {})


def test_date_ranges_round_partial_dates_like_elasticsearch():
    at = lambda ts: {"@timestamp": ts}  # noqa: E731
    assert matches("@timestamp >= 2024-05-01", at("2024-05-01T00:00:00Z"))
    assert not matches("@timestamp > 2024-05-01", at("2024-05-01T12:00:00Z"))  # > rounds up to the day's end
    assert matches("@timestamp > 2024-05-01", at("2024-05-02T00:00:00Z"))
    assert matches("@timestamp <= 2024-05", at("2024-05-31T23:00:00Z"))  # <= rounds up to the month's end
    assert not matches("@timestamp < 2024-05", at("2024-05-01T00:00:00Z"))
    assert matches('@timestamp < "2024-05-01T10:00:00+02:00"', at("2024-05-01T07:59:59Z"))
    assert matches("@timestamp >= 1714521600000", at("2024-05-01T00:00:00Z"))  # epoch milliseconds


def test_a_date_value_matches_its_whole_period():
    assert matches('@timestamp:"2024-05-01"', {"@timestamp": "2024-05-01T13:14:15.123Z"})
    assert not matches('@timestamp:"2024-05-01"', {"@timestamp": "2024-05-02T00:00:00Z"})
    assert matches('@timestamp:"2024-05-01T13:14:15.123Z"', {"@timestamp": "2024-05-01T13:14:15.123Z"})


def test_date_math_is_refused_with_a_location():
    with pytest.raises(KqlUnsupportedError) as info:
        compile_kql("a:1 and @timestamp > now-5m")
    assert (info.value.line, info.value.column) == (1, 22)


# ---- ip fields: CIDR blocks and addresses
def test_ip_fields_take_cidr_blocks_and_addresses():
    q = 'destination.ip:(10.0.0.0/8 or "::1" or "FE80::/10")'
    assert matches(q, {"destination": {"ip": "10.1.2.3"}})
    assert matches(q, {"destination": {"ip": "::1"}})
    assert matches(q, {"destination": {"ip": "fe80::1"}})
    assert not matches(q, {"destination": {"ip": "8.8.8.8"}})
    assert matches("not " + q, {"destination": {"ip": "8.8.8.8"}})
    assert matches("not " + q, {})


def test_bad_ip_values_and_ip_wildcards_are_errors():
    with pytest.raises(KqlUnsupportedError, match="not an IP"):
        compile_kql("source.ip:localhost")
    with pytest.raises(KqlUnsupportedError, match="wildcard"):
        compile_kql("source.ip:10.*")


def test_field_types_can_be_given_for_non_ecs_fields():
    assert matches("auditd.data.addr:10.0.0.0/8", {"auditd": {"data": {"addr": "10.0.0.0/8"}}})
    assert matches("auditd.data.addr:10.0.0.0/8", {"auditd": {"data": {"addr": "10.9.9.9"}}},
                   field_types={"auditd.data.addr": "ip"})


# ---- analysed text: message and the .text multi-fields
def test_text_fields_match_words_case_insensitively():
    line = "sshd[1234]: Segfault at 0 ip 00007f sp 00007ffd error 4 in libc.so.6"
    assert matches("message:segfault", {"message": line})
    assert matches("message:(segfault and sshd)", {"message": line})
    assert not matches("message:(segfault and sudo)", {"message": line})
    assert not matches("message:segfault", {"message": "segfaults happen"})
    assert not matches("message:sshd", {"message": "sshdx"})


def test_text_phrases_need_adjacent_words():
    assert matches('message:"segfault at"', {"message": "x: segfault at 0"})
    assert not matches('message:"segfault at"', {"message": "at segfault"})
    # an unquoted value is any of its words
    assert matches("message:segfault nothing", {"message": "a segfault"})


def test_text_wildcards_stay_inside_one_word():
    assert matches("message:segf*", {"message": "kernel: segfault at"})
    assert not matches("message:segf*at", {"message": "segfault at"})  # would need to cross a word boundary
    assert matches("message:segf*t", {"message": "a segfault"})


def test_text_multi_fields_read_their_parent():
    doc = {"process": {"command_line": "/usr/bin/Python3 -c import os"}}
    assert matches("process.command_line.text:python3", doc)
    assert not matches("process.command_line:python3", doc)


# ---- nested
def test_nested_prefixes_field_names():
    q = "user:{ name:alice and id:1 }"
    assert matches(q, {"user": {"name": "alice", "id": 1}})
    assert not matches(q, {"user": {"name": "bob", "id": 1}})


# ---- match-all and unsupported forms
def test_empty_and_star_queries_match_everything():
    for q in ("", "*", "*:*"):
        assert compile_kql(q) == ast.Literal(True)


@pytest.mark.parametrize(
    "query, words, column",
    [
        ("a:1 and nping", "without a field", 9),
        ("process.*:nping", "wildcard field names", 1),
        ("a:1 or b:null", "null", 10),
        ("null:x", "without a field", 6),
    ],
)
def test_unsupported_forms_are_located_errors(query, words, column):
    with pytest.raises(KqlUnsupportedError) as info:
        compile_kql(query)
    error = info.value
    assert isinstance(error, UnsupportedError)
    assert words in str(error) and error.column == column and "^" in str(error)


# ---- whole queries through compile_query
def test_kql_query_runs_through_compile_query():
    cq = compile_query(kql_query("host.os.type:linux and process.name:(nping or nmap) and not user.id:0"))
    assert cq.kind == "event"
    assert cq.matches({"host": {"os": {"type": "linux"}}, "process": {"name": "nmap"}, "user": {"id": "1000"}})
    assert not cq.matches({"host": {"os": {"type": "linux"}}, "process": {"name": "nmap"}, "user": {"id": "0"}})
    events = [
        {"@timestamp": "2024-05-01T00:00:01Z", "host": {"os": {"type": "linux"}}, "process": {"name": "nping"}},
        {"@timestamp": "2024-05-01T00:00:02Z", "host": {"os": {"type": "windows"}}, "process": {"name": "nping"}},
    ]
    assert [m.events[0]["@timestamp"] for m in cq.run(events)] == ["2024-05-01T00:00:01Z"]


def test_value_lists_of_patterns_become_one_list_match_per_field():
    condition = compile_kql("f:(/tmp/* or /var/tmp/* or x) and not g:(a* or b*)")
    first, second = condition.operands
    assert isinstance(first, ast.Or) and isinstance(first.operands[0], ast.Match)
    assert [p.value for p in first.operands[0].patterns] == ["/tmp/*", "/var/tmp/*"]
    assert matches("f:(/tmp/* or /var/tmp/* or x)", {"f": "/var/tmp/q"})
    assert matches("not g:(a* or b*)", {"g": "c"}) and not matches("not g:(a* or b*)", {"g": ["c", "b1"]})
