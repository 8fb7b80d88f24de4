"""`vigil query` and `vigil check` end to end on real files: output, exit codes, tables, errors without tracebacks."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from vigil.cli import cli

NPING = 'process where host.os.type == "linux" and event.type == "start" and process.name == "nping"'


def ev(i: int, name: str, *, kind: str = "start", host: str = "h1", os_type: str = "linux") -> dict:
    return {"@timestamp": f"2024-01-01T00:00:{i:02d}.000Z", "event": {"category": ["process"], "type": [kind],
            "action": "exec", "id": str(i)}, "host": {"name": host, "os": {"type": os_type}},
            "process": {"name": name, "pid": i, "command_line": f"{name} -x", "args_count": i % 5}}


@pytest.fixture
def events(tmp_path):
    docs = [ev(i, "nping" if i in (3, 7) else "bash") for i in range(10)] + [ev(10, "NPING"), ev(11, "nping", os_type="windows")]
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


def run(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def ids(output: str) -> list[str]:
    return [orjson.loads(line)["event"]["id"] for line in output.splitlines() if line.strip()]


def test_matches_print_ndjson_exit_0(events):
    result = run("query", NPING, str(events))
    assert result.exit_code == 0
    assert ids(result.stdout) == ["3", "7"]
    assert orjson.loads(result.stdout.splitlines()[0])["process"]["command_line"] == "nping -x"  # full documents


def test_no_match_exit_1(events):
    result = run("query", 'process where process.name == "nmap"', str(events))
    assert result.exit_code == 1 and result.stdout == ""


def test_no_literal_query_and_pipes(events):
    result = run("query", 'process where event.type == "start" and process.args_count >= 3 | head 2', str(events))
    assert result.exit_code == 0 and ids(result.stdout) == ["3", "4"]
    result = run("query", 'process where event.type == "start" and process.args_count >= 3 | tail 1', str(events))
    assert ids(result.stdout) == ["9"]


def test_stdin_gzip_and_stats(events):
    result = run("query", NPING, "--stats", input=gzip.compress(events.read_bytes()))
    assert result.exit_code == 0 and ids(result.stdout) == ["3", "7"]
    assert "lines 12" in result.stderr and "prefilter: nping" in result.stderr


def test_table(events):
    result = run("query", NPING, str(events), "--table")
    assert result.exit_code == 0
    assert "process.name" in result.stdout and "nping -x" in result.stdout and "{" not in result.stdout
    result = run("query", NPING, str(events), "--table", "--fields", "event.id,host.name")
    assert "event.id" in result.stdout and "process.name" not in result.stdout


def test_bad_lines_exit_3_and_good_lines_still_match(tmp_path, events):
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(events.read_bytes() + b'{"host": "linux start process", "process": {"name": "nping"\n' + orjson.dumps(ev(20, "nping")) + b"\n")
    result = run("query", NPING, str(bad), str(tmp_path / "missing.ndjson"))
    assert result.exit_code == 3
    assert ids(result.stdout) == ["3", "7", "20"]
    assert f"{bad}:13: malformed JSON" in result.stderr
    assert "missing.ndjson" in result.stderr and "cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_query_exit_2_with_caret(events):
    result = run("query", 'process where process.name == ', str(events))
    assert result.exit_code == 2
    assert "line 1:" in result.stderr and "^" in result.stderr and "Traceback" not in result.stderr


def test_sequence_with_sort(tmp_path):
    docs = [ev(5, "curl", host="h1"), ev(1, "nping", host="h1"), ev(3, "nping", host="h2")]
    path = tmp_path / "unsorted.ndjson"
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    query = 'sequence by host.name [process where process.name == "nping"] [process where process.name == "curl"]'
    assert run("query", query, str(path), "--sort").stdout.count("\n") == 2
    result = run("query", query, str(path), "--sort")
    assert result.exit_code == 0 and ids(result.stdout) == ["1", "5"]
    table = run("query", query, str(path), "--sort", "--table")
    assert "#" in table.stdout and "curl" in table.stdout


def test_check_prints_normalized_query():
    result = run("check", 'process  where process.name:"nping"  and  event.type=="start"')
    assert result.exit_code == 0
    assert result.stdout.strip() == 'process where process.name : "nping" and event.type == "start"'


def test_check_json():
    result = run("check", NPING, "--json")
    report = orjson.loads(result.stdout)
    assert report["valid"] and report["kind"] == "event"
    assert report["required_literals"]["best"] == ["nping"]
    assert "process.name" in report["fields"]
    assert report["ast"]["node"] == "Query"


def test_check_bad_query():
    result = run("check", "process where process.name = ")
    assert result.exit_code == 2 and "^" in result.stderr and "Traceback" not in result.stderr
    result = run("check", "process where process.name = ", "--json")
    assert result.exit_code == 2 and orjson.loads(result.stdout)["valid"] is False


def test_help_documents_exit_codes():
    result = run("query", "--help")
    assert "Exit status" in result.stdout and "input errors" in result.stdout


def test_event_query_sort_and_weak_prefilter(tmp_path):
    """A query with only common literals (`start`, `process`) still skips the lines lacking them, prints exactly
    what a full scan prints, and --sort orders an event query's matches by timestamp."""
    docs = [ev(i, "bash", kind="start" if i % 3 else "end") for i in (5, 1, 9, 3, 7, 2, 8, 4, 6)]
    docs += [{"@timestamp": "2024-01-01T00:00:00Z", "network": {"bytes": n}} for n in range(20)]  # neither word
    path = tmp_path / "unsorted.ndjson"
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    query = 'process where event.type == "start" and process.args_count >= 2'
    full = run("query", "--no-prefilter", query, str(path))
    fast = run("query", "--stats", query, str(path))
    assert fast.stdout == full.stdout and ids(fast.stdout) == ["7", "2", "8", "4"]
    assert "skipped by prefilter 23" in fast.stderr and "prefilter: process AND start" in fast.stderr
    assert ids(run("query", "--sort", query, str(path)).stdout) == ["2", "4", "7", "8"]


SAMPLES = Path(__file__).resolve().parents[2] / "vigil" / "data" / "samples"
NPING_RULE = ('process where host.os.type == "linux" and event.type == "start" and event.action in ("exec", '
              '"exec_event", "start", "ProcessRollup2", "executed", "process_started") and process.name == "nping"')


def test_source_auto_normalizes_every_format_in_a_directory():
    """--source auto: vendor raw events, audit.log and ECS files alike; one Nping start per bundled format."""
    result = run("query", "--source", "auto", NPING_RULE, str(SAMPLES))
    assert result.exit_code == 0, result.output
    docs = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert sorted(d["event"]["action"] if isinstance(d["event"]["action"], str) else d["event"]["action"][0]
                  for d in docs) == sorted(["exec", "exec_event", "executed", "executed", "executed",
                                            "ProcessRollup2", "start"])


def test_source_auto_reads_what_sources_normalize_prints():
    normalized = run("sources", "normalize", str(SAMPLES / "crowdstrike_fdr.ndjson"))
    assert normalized.exit_code == 0
    result = run("query", "--source", "auto", 'process where process.name == "nping"', "-",
                 input=normalized.stdout.encode())
    assert result.exit_code == 0 and len(result.stdout.splitlines()) >= 1
    assert all(orjson.loads(line)["process"]["name"] == "nping" for line in result.stdout.splitlines())


def test_query_reads_directories_and_skips_their_documentation(tmp_path, events):
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "events.ndjson").write_bytes(events.read_bytes())
    (folder / "README.md").write_text("# not telemetry\n")
    result = run("query", NPING, str(folder))
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2
