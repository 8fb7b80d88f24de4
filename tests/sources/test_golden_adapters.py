"""Golden tests: raw vendor records → the ECS documents Elastic's integrations produce (shared/datasets, used in place).

Every field of Elastic's expected output is compared. Fields vigil does not produce are listed below with the
reason; anything else missing, different, or extra fails.
"""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import shared_path
from vigil.sources.adapters import ADAPTERS, sniff_adapter
from vigil.sources.adapters import auditd_manager, crowdstrike_fdr, endgame, sentinel_one_cloud_funnel


def flatten(doc: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def compare(got: dict, want: dict, known_unmapped: dict[str, str]) -> list[str]:
    """Differences between flattened documents, ignoring fields under a known-unmapped prefix."""
    got_flat, want_flat = flatten(got), flatten(want)
    problems = []
    for key in sorted(set(got_flat) | set(want_flat)):
        if any(key == p or key.startswith(p + ".") for p in known_unmapped):
            continue
        if got_flat.get(key, "<absent>") != want_flat.get(key, "<absent>"):
            problems.append(f"{key}: got {got_flat.get(key, '<absent>')!r}, want {want_flat.get(key, '<absent>')!r}")
    return problems


def load_pairs(folder: str, log: str) -> list[tuple[dict, dict]]:
    raws = [json.loads(line) for line in shared_path("datasets", folder, log).read_text().splitlines() if line]
    expected = json.loads(shared_path("datasets", folder, log + "-expected.json").read_text())["expected"]
    assert len(raws) == len(expected)
    return list(zip(raws, expected))


# ------------------------------------------------------------------------------------------------ CrowdStrike FDR

CROWDSTRIKE_UNMAPPED = {
    "event.original": "kept only with the `preserve_original_event` tag; vigil keeps file:line instead",
    "tags": "the pipeline test's `preserve_original_event` option, not data",
    "observer.geo": "GeoIP enrichment of `aip` needs MaxMind's database, which vigil does not ship",
    "process.uptime": "derivation not documented in the research; no prebuilt rule reads it",
}


def test_crowdstrike_fdr_matches_elastic_pipeline_output():
    pairs = load_pairs("crowdstrike_fdr", "test-linux.log")
    for raw, want in pairs:
        assert crowdstrike_fdr.sniff(raw) and sniff_adapter(raw) is ADAPTERS["crowdstrike_fdr"]
        got = crowdstrike_fdr.normalize(raw)
        assert compare(got, want, CROWDSTRIKE_UNMAPPED) == [], raw["event_simpleName"]
        assert crowdstrike_fdr.index(got) == "logs-crowdstrike.fdr-default"


def test_crowdstrike_fdr_rule_fields_of_the_runc_process_start():
    raw = load_pairs("crowdstrike_fdr", "test-linux.log")[-1][0]
    doc = crowdstrike_fdr.normalize(raw)
    assert doc["@timestamp"] == "2025-10-14T01:41:14.201Z"
    assert doc["event"]["action"] == "ProcessRollup2" and doc["event"]["type"] == ["start"]
    assert doc["host"]["os"]["type"] == "linux"
    # ImageFileName "/" (runc self-clone): the name comes from the first argument.
    assert doc["process"]["executable"] == "/" and doc["process"]["name"] == "runc"
    assert doc["process"]["args"] == ["runc", "init"] and doc["process"]["pid"] == 1234


def test_crowdstrike_fdr_does_not_change_the_callers_record():
    raw = load_pairs("crowdstrike_fdr", "test-linux.log")[-1][0]
    before = json.dumps(raw, sort_keys=True)
    crowdstrike_fdr.normalize(raw)
    assert json.dumps(raw, sort_keys=True) == before


# ------------------------------------------------------------------------------------------------ SentinelOne

SENTINEL_ONE_UNMAPPED = {
    "event.original": "kept only with the `preserve_original_event` tag; vigil keeps file:line instead",
    "tags": "the pipeline test's options, not data",
    "sentinel_one_cloud_funnel": "vendor namespace (snake_case copy of every raw key); no prebuilt rule reads it",
}


def test_sentinel_one_matches_elastic_pipeline_output():
    for raw, want in load_pairs("sentinel_one_cloud_funnel", "test-process.log"):
        assert sniff_adapter(raw) is ADAPTERS["sentinel_one_cloud_funnel"]
        got = sentinel_one_cloud_funnel.normalize(raw)
        assert compare(got, want, SENTINEL_ONE_UNMAPPED) == []
        assert got["event"]["action"] == ["start"]  # an array, copied from event.type
        assert got["host"]["os"]["type"] == "windows"


def test_sentinel_one_linux_variant_of_the_golden_event():
    raw, _ = load_pairs("sentinel_one_cloud_funnel", "test-process.log")[0]
    raw = dict(raw, **{"endpoint.os": "linux", "src.process.user": "root", "tgt.process.name": "nping",
                       "tgt.process.cmdline": "nping --tcp 10.0.0.1"})
    doc = sentinel_one_cloud_funnel.normalize(raw)
    assert doc["host"]["os"]["type"] == "linux"
    assert doc["process"]["name"] == "nping" and doc["process"]["args"] == ["nping", "--tcp", "10.0.0.1"]
    assert doc["user"] == {"name": "root", "domain": "root"}  # no backslash: the pipeline copies it to both


# ------------------------------------------------------------------------------------------------ Elastic Defend


def test_defend_real_linux_exec_passes_through_to_its_data_stream():
    hit = json.loads(shared_path("datasets", "endpoint", "0030-linux-event-model.real-world-exec-event.json")
                     .read_text())
    source = hit["_source"]
    adapter = sniff_adapter(source)
    assert adapter is ADAPTERS["defend"]
    doc = adapter.normalize(source)
    assert doc == source
    assert hit["_index"].startswith(".ds-" + adapter.index(doc))  # .ds-logs-endpoint.events.process-default-...


def test_defend_windows_sample_event_index():
    sample = json.loads(shared_path("datasets", "endpoint", "sample_event.json").read_text())
    adapter = sniff_adapter(sample)
    assert adapter is ADAPTERS["defend"]
    assert adapter.index(adapter.normalize(sample)) == "logs-endpoint.events.process-default"
    assert sample["host"]["os"]["type"] == "windows"


def test_defend_ingest_pipeline_test_is_the_only_known_unmapped_field():
    # The package pipeline only stamps event.ingested with the ingest time: not reproducible offline, so not set.
    events = json.loads(shared_path("datasets", "endpoint", "test-ingest-timestamp.json").read_text())["events"]
    doc = ADAPTERS["defend"].normalize(events[0])
    assert "ingested" not in doc.get("event", {})


# ------------------------------------------------------------------------------------------------ Auditd Manager


def test_auditd_manager_sample_event_is_a_fixed_point_of_the_tidy_ups():
    sample = json.loads(shared_path("datasets", "auditd_manager", "sample_event.json").read_text())
    adapter = sniff_adapter(sample)
    assert adapter is ADAPTERS["auditd_manager"]
    doc = adapter.normalize(sample)
    assert doc == sample  # already through the pipeline: nothing left to change
    assert adapter.index(doc) == "logs-auditd_manager.auditd-ep"
    assert "os" not in doc["host"]  # the research's caveat: this real document cannot match Linux rules


def test_auditd_manager_applies_the_pipeline_tidy_ups_to_an_agent_document():
    golden = json.loads(shared_path("datasets", "auditbeat", "go-libaudit",
                                    "ubuntu-20.04.6-linux-5.15.0-1034-gcp.json.golden").read_text())[0]["event"]
    lines = ["type=SYSCALL msg=audit(1686666551.525:28860764): arch=c000003e syscall=59 success=yes",
             'type=EXECVE msg=audit(1686666551.525:28860764): argc=2 a0="dash" a1="-p"']
    process = golden["process"]
    agent_doc = {
        "@timestamp": golden["@timestamp"],
        "agent": {"type": "auditbeat", "version": "8.17.0"}, "elastic_agent": {"id": "x", "version": "8.17.0"},
        "event": {"action": golden["summary"]["action"], "category": golden["ecs"]["event"]["category"],
                  "type": golden["ecs"]["event"]["type"], "module": "auditd", "outcome": "fail", "original": lines},
        "process": {"pid": process["pid"], "parent": {"pid": process["ppid"]}, "name": process["name"],
                    "executable": process["exe"], "args": process["args"], "title": process["title"]},
        "user": {"id": golden["user"]["ids"]["uid"], "audit": {"id": golden["user"]["ids"]["auid"]},
                 "selinux": golden["user"]["selinux"], "effective": {"id": "0"}},
        "auditd": {"sequence": golden["sequence"], "session": golden["session"],
                   "data": dict(golden["data"], id="42", **{"a-x": ""})},
        "error": {"message": "failed to parse PATH"},
        "host": {"name": "gcp-1", "os": {"type": "linux"}},
    }
    doc = auditd_manager.normalize(agent_doc)
    assert doc["event"]["original"] == "\n".join(lines) and doc["auditd"]["messages"] == lines
    assert doc["auditd"]["warnings"] == ["failed to parse PATH"] and "error" not in doc
    assert doc["auditd"]["user"] == {"audit": {"id": "1005"}, "selinux": {"user": "unconfined"}}
    assert doc["user"] == {"id": "1005", "effective": {"id": "0"}}
    assert doc["event"]["sequence"] == 28860764 and "sequence" not in doc["auditd"]
    assert doc["event"]["id"] == "42" and "a_x" not in doc["auditd"]["data"]  # empty value dropped
    assert doc["event"]["outcome"] == "failure"
    assert doc["process"]["pid"] == 2380168 and doc["process"]["parent"]["pid"] == 2380071
    assert (doc["event"]["action"], doc["event"]["type"], doc["process"]["name"]) == ("executed", ["start"], "dash")
    assert auditd_manager.index(doc) == "logs-auditd_manager.auditd-default"
    assert agent_doc["event"]["original"] == lines  # the caller's record is not modified


# ------------------------------------------------------------------------------------------------ Auditbeat


@pytest.mark.parametrize("path", [("auditd", "execve.json"), ("system_process", "data.json")])
def test_auditbeat_legacy_documents_pass_through_unchanged(path):
    doc = json.loads(shared_path("datasets", "auditbeat", *path).read_text())
    adapter = sniff_adapter(doc)
    assert adapter is ADAPTERS["auditbeat"]
    assert adapter.normalize(doc) == doc
    assert adapter.index(doc).startswith("auditbeat-")


# ------------------------------------------------------------------------------------------------ Endgame

# Elasticsearch field type → the Python types a JSON value of that field may have.
_TYPES = {"keyword": str, "wildcard": str, "constant_keyword": str, "match_only_text": str, "date": str,
          "ip": str, "long": int, "float": (int, float), "boolean": bool}


def test_endgame_native_events_map_onto_the_endgame_ecs_schema():
    schema = json.loads(gzip.decompress(shared_path("datasets", "endgame", "endgame_ecs_mapping.json.gz")
                                        .read_bytes()))
    events = json.loads(shared_path("datasets", "endgame", "test_data.json").read_text())
    produced = set()
    for raw in events:
        assert sniff_adapter(raw) is ADAPTERS["endgame"]
        doc = endgame.normalize(raw)
        for key, value in flatten(doc).items():
            if key.startswith("endgame."):
                continue
            assert key in schema, f"{key} is not a field of endgame-* ({raw.get('serial_event_id')})"
            for item in value if isinstance(value, list) else [value]:
                assert isinstance(item, _TYPES[schema[key]]), (key, item, schema[key])
            produced.add(key)
    rule_fields = {"@timestamp", "event.action", "event.category", "event.type", "host.os.type", "process.name",
                   "process.pid", "process.executable", "process.args", "process.command_line",
                   "process.parent.pid", "process.parent.name", "user.name"}
    assert rule_fields <= produced


def test_endgame_native_subtypes_categorise_as_expected():
    events = json.loads(shared_path("datasets", "endgame", "test_data.json").read_text())
    seen = {}
    for raw in events:
        doc = endgame.normalize(raw)
        seen[raw["event_subtype_full"]] = (doc["event"]["category"], doc["event"].get("type"))
    assert seen["creation_event"] == (["process"], ["start"])
    assert seen["termination_event"] == (["process"], ["end"])
    assert seen["already_running"] == (["process"], ["info"])
    assert seen["file_create_event"] == (["file"], ["creation"])
    # All of the shared data is Windows: a drive-letter path marks the host.
    creation = next(r for r in events if r["event_subtype_full"] == "creation_event")
    assert endgame.normalize(creation)["host"]["os"]["type"] == "windows"
    assert endgame.index(endgame.normalize(creation)) == "endgame-8.x"
