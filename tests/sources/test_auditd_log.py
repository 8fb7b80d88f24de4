"""Raw audit.log → ECS, checked against go-libaudit / Auditbeat golden data and hand-written edge cases."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from vigil.sources.auditd_log import AuditLogParser, looks_like_audit_line, normalize_group, parse_lines
from vigil.sources.readers import Line, iter_lines


def yaml_tests(path) -> dict[str, list[str]]:
    """The `tests:` block scalars of a go-libaudit testdata .yaml (a tiny reader: no YAML dependency)."""
    out: dict[str, list[str]] = {}
    name = None
    for raw in path.read_text().splitlines():
        if raw.startswith("  ") and not raw.startswith("   ") and raw.rstrip().endswith(": |"):
            name = raw.strip()[:-3]
            out[name] = []
        elif name and raw.startswith("    type="):
            out[name].append(raw[4:])
    return out


def events(lines: list[str], **options) -> list[dict]:
    return [e.doc for e in parse_lines((Line(i + 1, 0, 0, s.encode()) for i, s in enumerate(lines)), **options)]


def golden(path, test_name: str) -> dict:
    return next(item["event"] for item in json.loads(path.read_text()) if item["test_name"] == test_name)


@pytest.mark.parametrize(
    "stem, test_name",
    [("ubuntu-20.04.6-linux-5.15.0-1034-gcp", "file_mode_preservation"), ("ubuntu-16.10-linux-4.8.0", "EXECVE")],
)
def test_exec_matches_go_libaudit_golden(shared, stem, test_name):
    folder = shared("datasets", "auditbeat", "go-libaudit")
    lines = yaml_tests(folder / f"{stem}.yaml")[test_name]
    want = golden(folder / f"{stem}.json.golden", test_name)
    [doc] = events(lines)
    process, gp = doc["process"], want["process"]
    assert doc["event"]["action"] == want["summary"]["action"] == "executed"
    assert doc["event"]["category"] == want["ecs"]["event"]["category"]
    assert doc["event"]["type"] == want["ecs"]["event"]["type"]
    assert doc["event"]["outcome"] == "success" and want["result"] == "success"
    assert process["pid"] == int(gp["pid"]) and process["parent"]["pid"] == int(gp["ppid"])
    assert process["name"] == gp["name"] and process["executable"] == gp["exe"]
    assert process["args"] == gp["args"] and process["title"] == gp["title"]
    assert process.get("working_directory") == gp.get("cwd")
    ids = want["user"]["ids"]
    assert doc["user"]["id"] == ids["uid"] and doc["user"]["audit"]["id"] == ids["auid"]
    assert doc["user"]["group"]["id"] == ids["gid"]
    if ids["euid"] != ids["uid"]:
        assert doc["user"]["effective"]["id"] == ids["euid"]
    else:
        assert "effective" not in doc["user"]  # Auditbeat drops a user.effective equal to user
    auditd = doc["auditd"]
    assert auditd["sequence"] == want["sequence"] and auditd["session"] == want["session"]
    assert auditd["result"] == want["result"]
    assert auditd["data"] == want["data"]
    assert auditd["paths"] == want["paths"]
    assert auditd["summary"]["actor"] == want["summary"]["actor"]
    assert auditd["summary"]["object"] == want["summary"]["object"] and auditd["summary"]["how"] == want["summary"]["how"]
    assert doc["file"] == want["file"]
    assert doc["tags"] == want["tags"]
    assert doc["@timestamp"] == want["@timestamp"]
    assert doc["host"]["os"]["type"] == "linux" and doc["event"]["module"] == "auditd"


def test_exec_matches_auditbeat_document(shared):
    """The same raw EXECVE event as Auditbeat indexed it (beats auditbeat/module/auditd/_meta/execve.json)."""
    indexed = json.loads(shared("datasets", "auditbeat", "auditd", "execve.json").read_text())
    lines = yaml_tests(shared("datasets", "auditbeat", "go-libaudit", "ubuntu-16.10-linux-4.8.0.yaml"))["EXECVE"]
    [doc] = events(lines)
    assert doc["process"] == indexed["process"]
    assert doc["event"]["action"] == indexed["event"]["action"]
    assert doc["event"]["module"] == indexed["event"]["module"]
    for key in ("id", "audit", "group"):
        assert doc["user"][key] == indexed["user"][key]
    for key in ("saved", "filesystem"):
        assert doc["user"][key] == indexed["user"][key]
    assert doc["auditd"]["data"] == indexed["auditd"]["data"]
    assert doc["auditd"]["paths"] == indexed["auditd"]["paths"]
    assert doc["auditd"]["sequence"] == indexed["auditd"]["sequence"]
    assert doc["auditd"]["summary"]["object"] == indexed["auditd"]["summary"]["object"]
    assert doc["tags"] == indexed["tags"] and doc["service"] == indexed["service"]
    assert {k: doc["file"][k] for k in ("path", "inode", "mode", "uid", "gid", "device")} == \
        {k: indexed["file"][k] for k in ("path", "inode", "mode", "uid", "gid", "device")}


def test_non_exec_golden_events_are_not_executed(shared):
    lines = yaml_tests(shared("datasets", "auditbeat", "go-libaudit", "ubuntu-16.10-linux-4.8.0.yaml"))
    for name in ("ANOM_PROMISCUOUS", "connect syscall", "USER_START", "CONFIG_CHANGE update rules"):
        docs = events(lines[name])
        assert len(docs) == 1, name
        assert docs[0]["event"].get("action") != "executed"


S = "msg=audit(1700000000.123:{serial}):"


def syscall(serial, *, pid=100, comm='"nping"', exe='"/usr/bin/nping"', success="yes", extra=""):
    return (f"type=SYSCALL {S.format(serial=serial)} arch=c000003e syscall=59 success={success} exit=0 a0=1 a1=2 a2=3 a3=4 "
            f"items=2 ppid=1 pid={pid} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 "
            f"fsgid=1000 tty=pts0 ses=2 comm={comm} exe={exe} key=\"exec\"{extra}")


def test_hex_and_split_arguments_and_proctitle_with_nuls():
    hello = "hello world".encode().hex().upper()
    title = "nping\0--data-string=x y z".encode().hex().upper()
    lines = [
        syscall(7),
        f'type=EXECVE {S.format(serial=7)} argc=3 a0="nping" a1_len=20 a1[0]={"--data-str".encode().hex().upper()} '
        f'a1[1]={"ing=x y z".encode().hex().upper()} a2={hello}',
        f"type=PROCTITLE {S.format(serial=7)} proctitle={title}",
    ]
    [doc] = events(lines)
    assert doc["process"]["args"] == ["nping", "--data-string=x y z", "hello world"]
    assert doc["process"]["title"] == "nping --data-string=x y z"
    assert doc["auditd"]["data"]["argc"] == "3"
    assert doc["auditd"]["data"]["a0"] == "1"  # SYSCALL registers stay as they are, not hex-decoded


def test_hex_encoded_exe_and_cwd_and_quoted_proctitle():
    lines = [syscall(8, exe="2F746D702F6D7920646972"), f'type=CWD {S.format(serial=8)} cwd=2F686F6D652F61206220',
             f'type=PROCTITLE {S.format(serial=8)} proctitle="(sshd)"']
    [doc] = events(lines)
    assert doc["process"]["executable"] == "/tmp/my dir"
    assert doc["process"]["working_directory"] == "/home/a b "
    assert doc["process"]["title"] == "(sshd)"


def test_enriched_names_and_node_prefix():
    gs = "\x1d"
    lines = [f"node=web-1 {syscall(9)}{gs}ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"alice\" GID=\"alice\" EUID=\"alice\"",
             f'node=web-1 type=EXECVE {S.format(serial=9)} argc=1 a0="nping"']
    [doc] = events(lines)
    assert doc["user"]["name"] == "alice" and doc["user"]["audit"]["name"] == "alice"
    assert doc["user"]["group"]["name"] == "alice"
    assert doc["host"]["name"] == "web-1" and doc["process"]["args"] == ["nping"]


def test_events_without_eoe_flush_on_new_serial_eof_and_interleaving():
    lines = [
        syscall(10, pid=10),
        syscall(11, pid=11, comm='"ls"', exe='"/usr/bin/ls"'),  # 11 starts before 10 is finished
        f'type=EXECVE {S.format(serial=10)} argc=1 a0="nping"',
        f'type=EXECVE {S.format(serial=11)} argc=1 a0="ls"',
        f"type=PROCTITLE {S.format(serial=11)} proctitle=6C73",
        f"type=PROCTITLE {S.format(serial=10)} proctitle=6E70696E67",
        syscall(12, pid=12),  # no EOE, no PROCTITLE: flushed at end of input
    ]
    docs = events(lines)
    assert [d["process"]["pid"] for d in docs] == [10, 11, 12]  # order of first lines
    assert docs[0]["process"]["args"] == ["nping"] and docs[1]["process"]["args"] == ["ls"]
    assert docs[2]["process"]["name"] == "nping" and "args" not in docs[2]["process"]


def test_parser_holds_back_incomplete_event_and_reports_resume_point():
    parser = AuditLogParser()
    assert parser.feed(syscall(20), 1, 0) == []
    assert parser.pending_start() == (0, 1)
    done = parser.feed(f"type=PROCTITLE {S.format(serial=20)} proctitle=6E70696E67", 2, 300)
    assert len(done) == 1 and done[0].line == 1 and parser.pending_start() is None


def test_failed_execve_is_executed_with_failure_outcome():
    [doc] = events([syscall(30, success="no", comm='"env"', exe='"/usr/bin/env"')])
    assert doc["event"]["action"] == "executed" and doc["event"]["outcome"] == "failure"
    assert doc["process"]["name"] == "env"


def test_bad_lines_are_reported_and_good_ones_flow():
    bad: list[tuple[int, str]] = []
    docs = events(["garbage here", syscall(40), "", f"type=EOE {S.format(serial=40)}"],
                  on_bad=lambda line, reason: bad.append((line, reason)))
    assert len(docs) == 1 and bad and bad[0][0] == 1 and "not an audit record" in bad[0][1]


def test_host_os_type_is_configurable():
    [doc] = events([syscall(50)], host_os_type=None)
    assert "host" not in doc
    assert normalize_group(None, "1700000000.123:1", [("EOE", "")]) is None


def test_looks_like_audit_line():
    assert looks_like_audit_line(syscall(1).encode())
    assert looks_like_audit_line(b"node=a type=EOE msg=audit(1.2:3): ")
    assert not looks_like_audit_line(b'{"type": "SYSCALL"}')


def test_bundled_sample_has_exactly_one_nping_exec():
    sample = resources.files("vigil") / "data" / "samples" / "auditd.log"
    docs = [e.doc for e in parse_lines(iter_lines(str(sample)))]
    assert len(docs) >= 30

    def rule(d):  # the Nping Process Activity query, written out by hand
        e = d["event"]
        return (d.get("host", {}).get("os", {}).get("type") == "linux" and "start" in e.get("type", [])
                and e.get("action") in ("exec", "exec_event", "start", "ProcessRollup2", "executed", "process_started")
                and d.get("process", {}).get("name") == "nping")

    hits = [d for d in docs if rule(d)]
    assert len(hits) == 1
    assert hits[0]["process"]["args"][-1] == "127.0.0.1"
    names = {d.get("process", {}).get("name") for d in docs}
    assert {"nping2", "NPING", "sudo"} <= names
    assert any("nping" in d["process"].get("args", []) and d["process"]["name"] == "sudo" for d in docs if "process" in d)
    last = docs[-1]  # the half-written final event (no PROCTITLE, no EOE) still comes out
    assert last["process"]["args"] == ["ls", "/var/tmp"] and "title" not in last["process"]
