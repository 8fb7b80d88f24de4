"""Per-file format detection, forced formats, located errors, and the `vigil sources` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import pytest
from click.testing import CliRunner

from vigil.cli import cli
from vigil.errors import SourceError
from vigil.sources import SourceStats, open_sources
from vigil.sources.base import Adapter
from vigil.sources.detect import detect_file, resolve

FDR = Adapter(name="fdr", description="CrowdStrike-like", sniff=lambda d: "event_simpleName" in d,
              normalize=lambda d: {"event": {"action": d["event_simpleName"]}, "process": {"name": d["name"]}},
              index=lambda d: "logs-crowdstrike.fdr-default", aliases=("crowdstrike",))
ECS = Adapter(name="ecs", description="ECS documents", sniff=lambda d: "event" in d or "@timestamp" in d,
              normalize=lambda d: d, index=lambda d: "logs-generic-default")
REGISTRY = {"fdr": FDR, "ecs": ECS}  # specific first, generic last
SAMPLE = str(resources.files("vigil") / "data" / "samples" / "auditd.log")


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_majority_of_sniffed_documents_wins(tmp_path):
    rows = [{"event": {"x": 1}, "event_simpleName": "ProcessRollup2", "name": "a"}] * 3 + [{"@timestamp": "t"}]
    assert detect_file(write(tmp_path / "f.ndjson", rows), REGISTRY).name == "fdr"
    assert detect_file(write(tmp_path / "e.ndjson", [{"@timestamp": "t"}] * 2), REGISTRY).name == "ecs"


def test_audit_log_detected_from_text():
    assert detect_file(SAMPLE, REGISTRY).name == "auditd_log"


def test_unknown_format_names_file_and_formats_tried(tmp_path):
    path = write(tmp_path / "u.ndjson", [{"foo": 1}])
    with pytest.raises(SourceError) as info:
        detect_file(path, REGISTRY)
    message = str(info.value)
    assert path in message and "fdr" in message and "ecs" in message and "auditd_log" in message
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(SourceError, match="neither JSON documents nor audit records"):
        detect_file(str(text), REGISTRY)
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n")
    with pytest.raises(SourceError, match="empty input"):
        detect_file(str(empty), REGISTRY)


def test_source_forces_a_format_and_aliases_resolve(tmp_path):
    path = write(tmp_path / "f.ndjson", [{"event_simpleName": "ProcessRollup2", "name": "nping", "@timestamp": "t"}])
    stats = SourceStats()
    records = list(open_sources([path], source="ecs", registry=REGISTRY, stats=stats))
    assert records[0].source == "ecs" and stats.formats[path] == "ecs"
    records = list(open_sources([path], registry=REGISTRY))
    assert records[0].source == "fdr" and records[0].doc["process"]["name"] == "nping"
    assert resolve("crowdstrike", REGISTRY) is FDR
    with pytest.raises(SourceError, match="unknown source format 'nope'") as info:
        resolve("nope", REGISTRY)
    assert "fdr" in str(info.value)


def test_mixed_inputs_each_detected(tmp_path):
    path = write(tmp_path / "f.ndjson", [{"event_simpleName": "P", "name": "x"}])
    stats = SourceStats()
    records = list(open_sources([path, SAMPLE], registry=REGISTRY, stats=stats))
    assert stats.per_source["fdr"] == 1 and stats.per_source["auditd_log"] == len(records) - 1
    assert stats.formats == {path: "fdr", SAMPLE: "auditd_log"}
    assert all(r.index == "auditbeat-default" for r in records if r.source == "auditd_log")


def test_bad_file_fails_before_any_record(tmp_path):
    good = write(tmp_path / "a.ndjson", [{"@timestamp": "t"}])
    bad = write(tmp_path / "b.ndjson", [{"foo": 1}])
    with pytest.raises(SourceError):
        open_sources([good, bad], registry=REGISTRY)


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_list_and_detect(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(cli, ["sources", "list"])
    assert listed.exit_code == 0 and "auditd_log" in listed.output
    detected = runner.invoke(cli, ["sources", "detect", SAMPLE])
    assert detected.exit_code == 0 and detected.output.strip() == f"{SAMPLE}: auditd_log"
    junk = tmp_path / "junk.txt"
    junk.write_text("what is this\n")
    failed = runner.invoke(cli, ["sources", "detect", str(junk), SAMPLE])
    assert failed.exit_code == 1 and f"{junk}:1:" in failed.output and "Traceback" not in failed.output
    missing = runner.invoke(cli, ["sources", "detect", str(tmp_path / "nope.log")])
    assert missing.exit_code == 2 and "no such file" in missing.output and "Traceback" not in missing.output


def test_cli_normalize_prints_hits_that_vigil_reads_back(tmp_path):
    result = CliRunner().invoke(cli, ["sources", "normalize", SAMPLE])
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert hits and all(h["_index"] == "auditbeat-default" for h in hits)
    assert sum(h["_source"].get("process", {}).get("name") == "nping" for h in hits) == 1
    out = tmp_path / "hits.ndjson"
    out.write_text("".join(json.dumps(h) + "\n" for h in hits))
    again = list(open_sources([str(out)], source="ecs", registry=REGISTRY))
    assert [r.doc for r in again] == [h["_source"] for h in hits] and again[0].index == "auditbeat-default"


def test_cli_normalize_stdin_and_unknown_source():
    data = open(SAMPLE, "rb").read()
    proc = subprocess.run([sys.executable, "-m", "vigil", "sources", "normalize", "-"], input=data,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(b"\n") >= 30 and b"record(s)" in proc.stderr
    bad = subprocess.run([sys.executable, "-m", "vigil", "sources", "normalize", "--source", "nope", SAMPLE],
                         capture_output=True, timeout=60)
    assert bad.returncode == 2 and b"unknown source format" in bad.stderr and b"Traceback" not in bad.stderr
