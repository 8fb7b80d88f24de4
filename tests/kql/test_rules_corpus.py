"""Every KQL (`language = "kuery"`) query of the shared Elastic Linux rules parses, compiles and runs."""

from __future__ import annotations

import collections
import functools
import tomllib
from pathlib import Path

import pytest

from tests.conftest import shared_path
from vigil.engine.compiler import compile_predicate
from vigil.eql import parse_expression, to_eql
from vigil.kql import compile_kql


def _kuery_rules() -> list[tuple[Path, dict]]:
    return _load_kuery_rules(shared_path("rules", "elastic"))


@functools.cache  # reading the 384 TOML files takes over a second; do it once per session
def _load_kuery_rules(root: Path) -> list[tuple[Path, dict]]:
    rules = []
    for path in sorted(root.rglob("*.toml")):
        rule = tomllib.loads(path.read_text(encoding="utf-8")).get("rule", {})
        if rule.get("language") == "kuery":
            rules.append((path, rule))
    return rules


def _rule(name: str) -> dict:
    matches = [rule for path, rule in _kuery_rules() if path.name == name]
    if not matches:
        pytest.skip(f"rule {name} not in the shared corpus")
    return matches[0]


def test_every_kuery_rule_parses_compiles_and_prints_as_eql():
    rules = _kuery_rules()
    by_type = collections.Counter(rule["type"] for _, rule in rules)
    by_folder = collections.Counter(path.parent.name for path, _ in rules)
    # docs/rules-corpus.md §3: 59 new_terms, 17 query, 4 threshold = 80 (68 in linux/, 12 building blocks)
    assert by_type == {"new_terms": 59, "query": 17, "threshold": 4}
    assert by_folder == {"linux": 68, "rules_building_block": 12}
    for path, rule in rules:
        condition = compile_kql(rule["query"])
        predicate = compile_predicate(condition)
        assert predicate({}) in (True, False), path.name
        # the condition is ordinary EQL: it prints as text vigil's EQL parser reads back
        parse_expression(to_eql(condition))


def test_kworker_network_rule_excludes_private_networks_and_ports():
    predicate = compile_predicate(compile_kql(_rule("command_and_control_linux_kworker_netcon.toml")["query"]))
    event = {"host": {"os": {"type": "linux"}}, "event": {"category": ["network"], "action": "connection_attempted"},
             "process": {"name": "kworker/1:2"}, "destination": {"ip": "203.0.113.9", "port": 443}}
    assert predicate(event)
    assert not predicate({**event, "destination": {"ip": "10.20.30.40", "port": 443}})
    assert not predicate({**event, "destination": {"ip": "fe80::1", "port": 443}})
    assert not predicate({**event, "destination": {"ip": "203.0.113.9", "port": 2049}})
    assert not predicate({**event, "process": {"name": "Kworker/1:2"}})


def test_segfault_rule_matches_words_of_the_syslog_message():
    predicate = compile_predicate(compile_kql(_rule("credential_access_segfault_from_sensitive_process.toml")["query"]))
    event = {"host": {"os": {"type": "linux"}}, "event": {"dataset": "system.syslog"}, "process": {"name": "kernel"},
             "message": "sshd[4242]: segfault at 0 ip 00007f3a sp 00007ffd error 4 in libc.so.6[7f3a+1b2000]"}
    assert predicate(event)
    assert not predicate({**event, "message": "myapp[4242]: segfault at 0 ip 00007f3a"})
    assert not predicate({**event, "message": "sshd[4242]: session opened"})


def test_curl_from_container_rule_keeps_kibanas_whitespace_split():
    # `process.args:(* curl* or ...)` reaches Elasticsearch as query_string `* curl*` = `* OR curl*`; `*` is an
    # exists query, so any process with arguments satisfies that clause, exactly as in Kibana.
    predicate = compile_predicate(compile_kql(_rule("command_and_control_auditd_curl_wget_from_container.toml")["query"]))
    event = {"host": {"os": {"type": "linux"}}, "data_stream": {"dataset": "auditd_manager.auditd"},
             "event": {"action": "executed"}, "process": {"title": "runc init", "name": "sh", "args": ["sh", "-c"]}}
    assert predicate(event)
    assert not predicate({**event, "process": {**event["process"], "args": ["sh", "http://localhost/x"]}})
