"""The adapter registry, the declarative mapping compiler, converters and Windows argument splitting."""

from __future__ import annotations

import pytest

from vigil.errors import SourceError
from vigil.sources.adapters import ADAPTERS, get_adapter, sniff_adapter
from vigil.sources.adapters import auditbeat, convert, ecs
from vigil.sources.adapters.cmdline import windows_argv
from vigil.sources.adapters.mapping import Copy, First, Lookup, Set, compile_mapping, lookup, put
from vigil.sources.base import Adapter


def test_registry_holds_the_six_sources_and_the_generic_fallback_last():
    assert list(ADAPTERS)[-1] == "ecs"
    assert set(ADAPTERS) == {"defend", "endgame", "auditbeat", "auditd_manager", "crowdstrike_fdr",
                             "sentinel_one_cloud_funnel", "ecs"}
    for name, adapter in ADAPTERS.items():
        assert isinstance(adapter, Adapter) and adapter.name == name and adapter.description


def test_get_adapter_resolves_names_and_aliases_and_names_the_choices_otherwise():
    assert get_adapter("CrowdStrike") is ADAPTERS["crowdstrike_fdr"]
    assert get_adapter("s1") is ADAPTERS["sentinel_one_cloud_funnel"]
    assert get_adapter("endpoint") is ADAPTERS["defend"]
    with pytest.raises(SourceError) as error:
        get_adapter("splunk")
    assert "splunk" in str(error.value) and "crowdstrike_fdr" in str(error.value)


def test_generic_ecs_never_steals_a_vendor_document():
    defend_doc = {"@timestamp": "2026-11-28T14:00:00Z", "agent": {"type": "endpoint"}, "event": {"action": "exec"}}
    assert ecs.sniff(defend_doc)  # it would accept it...
    assert sniff_adapter(defend_doc) is ADAPTERS["defend"]  # ...but the registry asks the specific adapter first
    auditbeat_doc = {"@timestamp": "2026-11-28T14:00:00Z", "agent": {"type": "auditbeat"}, "event": {}}
    assert sniff_adapter(auditbeat_doc) is ADAPTERS["auditbeat"]


def test_generic_ecs_takes_unknown_shippers_and_indexes_by_data_stream():
    doc = {"@timestamp": "2026-11-28T14:00:00Z", "agent": {"type": "filebeat"}, "event": {"category": ["process"]}}
    assert sniff_adapter(doc) is ADAPTERS["ecs"]
    assert ecs.index(doc) == "logs-generic-default"
    doc["data_stream"] = {"type": "logs", "dataset": "system.auth", "namespace": "prod"}
    assert ecs.index(doc) == "logs-system.auth-prod"
    flat = {"@timestamp": "2026-11-28T14:00:00Z", "event.action": "x"}
    assert sniff_adapter(flat) is ADAPTERS["ecs"]


def test_records_no_adapter_knows_are_not_claimed():
    assert sniff_adapter({"hello": "world"}) is None
    assert sniff_adapter(["not", "an", "object"]) is None
    assert sniff_adapter({"event_simpleName": "ProcessRollup2"}) is None  # no aid/cid/platform: not FDR


def test_auditd_manager_and_auditbeat_are_told_apart():
    agent = {"agent": {"type": "auditbeat"}, "elastic_agent": {"id": "x"}, "event": {"module": "auditd"}}
    assert sniff_adapter(agent) is ADAPTERS["auditd_manager"]
    beat = {"agent": {"type": "auditbeat"}, "event": {"module": "auditd"}}
    assert sniff_adapter(beat) is ADAPTERS["auditbeat"]
    metricbeat = {"agent": {"type": "metricbeat"}, "event": {"module": "system"}, "service": {"type": "system"}}
    assert not auditbeat.sniff(metricbeat)


def test_auditbeat_index_names():
    assert auditbeat.index({"agent": {"version": "8.17.0"}, "@timestamp": "2026-11-28T14:00:00Z"}) \
        == "auditbeat-8.17.0-2026.11.28"
    assert auditbeat.index({"@timestamp": "2026-11-28T14:00:00Z"}) == "auditbeat-2026.11.28"
    assert auditbeat.index({}) == "auditbeat-default"


# ------------------------------------------------------------------------------------------------ mapping compiler


def test_compile_mapping_builds_nested_documents_from_a_table():
    fn = compile_mapping("t", [
        Copy("Name", ("process.name", "process.title")),
        Copy("Pid", "process.pid", convert.to_int),
        First(("Primary", "Fallback"), "host.id"),
        Set("event.category", ["process"]),
        Lookup("Kind", {"start": (["start"], "event")}, ("event.type", "event.kind")),
        Copy("Empty", "process.parent.name"),
        Copy("Bad", "process.parent.pid", convert.to_int),
    ])
    doc = fn({"Name": "nping", "Pid": "42", "Fallback": "h1", "Primary": "", "Kind": "start", "Empty": "",
              "Bad": "x"})
    assert doc == {"process": {"name": "nping", "title": "nping", "pid": 42}, "host": {"id": "h1"},
                   "event": {"category": ["process"], "type": ["start"], "kind": "event"}}
    # Lists from constants and tables are fresh per document.
    other = fn({"Kind": "start"})
    other["event"]["category"].append("x")
    other["event"]["type"].append("x")
    assert fn({"Kind": "start"})["event"] == {"category": ["process"], "type": ["start"], "kind": "event"}


def test_vendor_namespace_keeps_what_was_not_renamed_and_what_was_copied():
    fn = compile_mapping("v", [Copy("A", "x.a"), Copy("B", "x.b", keep=True), Copy("A", "x.a2")],
                         vendor="vendor", vendor_convert={"T": convert.comma_list})
    raw = {"A": "1", "B": "2", "C": "3", "T": "a, b", "E": ""}
    doc = fn(raw)
    assert doc == {"x": {"a": "1", "b": "2", "a2": "1"}, "vendor": {"B": "2", "C": "3", "T": ["a", "b"]}}
    assert raw == {"A": "1", "B": "2", "C": "3", "T": "a, b", "E": ""}  # input untouched


def test_lookup_and_put_handle_nested_and_flat_keys():
    assert lookup({"a": {"b": {"c": 1}}}, "a.b.c") == 1
    assert lookup({"a.b": 2}, "a.b") == 2
    assert lookup({"a": {"b.c": 3}}, "a.b.c") == 3
    assert lookup({"a": 1}, "a.b") is None
    doc: dict = {}
    put(doc, "a.b.c", 1)
    assert doc == {"a": {"b": {"c": 1}}}


# ------------------------------------------------------------------------------------------------ converters


@pytest.mark.parametrize("value,want", [
    ("1760406074201", "2025-10-14T01:41:14.201Z"),
    (1664811149470, "2022-10-03T15:32:29.470Z"),
    ("2026-11-28T14:00:00.000Z", "2026-11-28T14:00:00.000Z"),
    ("yesterday", None),
    (None, None),
])
def test_epoch_ms(value, want):
    assert convert.epoch_ms(value) == want


@pytest.mark.parametrize("value,want", [
    ("1760406073.568", "2025-10-14T01:41:13.568Z"),
    ("1760406073.5", "2025-10-14T01:41:13.500Z"),
    ("1760406073", "2025-10-14T01:41:13.000Z"),
    ("17604x", None),
])
def test_epoch_seconds(value, want):
    assert convert.epoch_seconds(value) == want


def test_filetime_and_small_converters():
    assert convert.filetime(131509374294209140) == "2017-09-26T22:10:29.420Z"  # 1601-01-01 + 13150937429.4209140 s
    assert convert.filetime("nope") is None
    assert convert.basename("C:\\Windows\\System32\\cmd.exe") == "cmd.exe"
    assert convert.basename("/usr/bin/nping") == "nping"
    assert convert.dirname("/812/0bb09d") == "/812" and convert.dirname("/x") == "/"
    assert convert.nonzero_hash("0" * 40) is None and convert.nonzero_hash("ab") == "ab"
    assert convert.to_int("12") == 12 and convert.to_int("x") is None


# ------------------------------------------------------------------------------------------------ argument splitting


@pytest.mark.parametrize("line,want", [
    ("runc init", ["runc", "init"]),
    ("nping  --tcp\t-p 80 10.0.0.1", ["nping", "--tcp", "-p", "80", "10.0.0.1"]),
    ('"C:\\Program Files\\Nmap\\nping.exe" --tcp', ["C:\\Program Files\\Nmap\\nping.exe", "--tcp"]),
    ('a\\\\"b c"', ["a\\b c"]),
    ("C:\\dir\\stuff.EXE\\", ["C:\\dir\\stuff.EXE\\"]),  # backslashes are literal unless before a quote
    ("sh -c 'echo hi'", ["sh", "-c", "'echo", "hi'"]),  # single quotes do not group (Windows rules, even on Linux)
    ("", []),
])
def test_windows_argv(line, want):
    assert windows_argv(line) == want
