"""Wire decoding of connector and audit datagrams, /proc parsing, and the ECS shape: no privileges needed."""

from __future__ import annotations

import os
import struct
import subprocess
import time

from vigil.sensor import connector as cn
from vigil.sensor.audit import as_log_line, decode_audit_datagram
from vigil.sensor.ecs import SENSOR_INDEX, EventBuilder, HostInfo
from vigil.sensor.enrich import FULL, GONE, ZOMBIE, Clock, ProcInfo, parse_stat, read_proc
from vigil.sources.auditd_log import AuditLogParser


def _message(what: int, union: bytes, ts: int = 123_456_789, cpu: int = 1) -> bytes:
    payload = struct.pack("=IIQ", what, cpu, ts) + union
    cn_msg = struct.pack("=IIIIHH", cn.CN_IDX_PROC, cn.CN_VAL_PROC, 0, 0, len(payload), 0) + payload
    return struct.pack("=IHHII", 16 + len(cn_msg), cn.NLMSG_DONE, 0, 0, 0) + cn_msg


def test_decode_exec_fork_exit_and_ack_layouts():
    data = (_message(cn.PROC_EVENT_EXEC, struct.pack("=II", 42, 42), ts=7)
            + _message(cn.PROC_EVENT_FORK, struct.pack("=IIII", 1, 1, 43, 43))
            + _message(cn.PROC_EVENT_EXIT, struct.pack("=IIIIII", 43, 43, 0, 17, 1, 1))
            + _message(cn.PROC_EVENT_NONE, struct.pack("=I", 1)))
    exec_, fork, exit_, ack = cn.decode_datagram(data)
    assert (exec_.what, exec_.pid, exec_.tgid, exec_.timestamp_ns, exec_.cpu) == (cn.PROC_EVENT_EXEC, 42, 42, 7, 1)
    assert (fork.pid, fork.parent_pid) == (43, 1)
    assert (exit_.what, exit_.tgid, exit_.parent_tgid) == (cn.PROC_EVENT_EXIT, 43, 1)
    assert (ack.what, ack.err) == (cn.PROC_EVENT_NONE, 1)


def test_truncated_datagram_keeps_what_is_whole():
    whole = _message(cn.PROC_EVENT_EXEC, struct.pack("=II", 5, 5))
    events = cn.decode_datagram(whole + whole[:20])
    assert [e.pid for e in events] == [5]
    assert cn.decode_datagram(b"") == []


def test_subscribe_messages_legacy_and_filtered():
    legacy = cn.encode_subscribe()
    filtered = cn.encode_subscribe(cn.PROC_CN_MCAST_LISTEN, cn.PROC_EVENT_EXEC)
    assert struct.unpack_from("=I", legacy)[0] == len(legacy) == 16 + 20 + 4
    assert struct.unpack_from("=IIIIHH", legacy, 16)[4] == 4
    assert struct.unpack_from("=IIIIHH", filtered, 16)[4] == 8
    assert struct.unpack_from("=II", filtered, 36) == (cn.PROC_CN_MCAST_LISTEN, cn.PROC_EVENT_EXEC)


def test_parse_stat_with_parentheses_and_spaces_in_comm():
    text = "1234 (we (ird) x) S 1 1234 1234 34816 1234 4194560 " + " ".join(["0"] * 12) + " 98765 0 0"
    stat = parse_stat(text)
    assert stat["comm"] == "we (ird) x"
    assert (stat["state"], stat["ppid"], stat["tty_nr"], stat["starttime"]) == ("S", 1, 34816, 98765)


def test_read_proc_full_zombie_and_gone():
    me = read_proc(os.getpid())
    assert me.outcome == FULL and me.exe and os.path.basename(me.exe).startswith("python")
    assert me.ppid == os.getppid() and me.uids[1] == os.geteuid()
    child = subprocess.Popen(["/bin/true"])
    deadline = time.monotonic() + 5
    while read_proc(child.pid).outcome != ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.005)
    zombie = read_proc(child.pid)  # exited, not reaped yet: comm is all that is left
    assert zombie.outcome == ZOMBIE and zombie.comm == "true" and zombie.exe is None
    child.wait()
    assert read_proc(child.pid).outcome == GONE


def test_clock_places_process_start_within_a_tick():
    clock = Clock()
    before = time.time_ns()
    child = subprocess.Popen(["sleep", "1"])
    try:
        info = read_proc(child.pid)
        start = clock.from_ticks(info.starttime)
        assert abs(start - before) < 50_000_000, (start - before) / 1e6  # 10 ms ticks + spawn time
        assert abs(clock.from_monotonic(time.monotonic_ns()) - time.time_ns()) < 5_000_000
    finally:
        child.kill()
        child.wait()


def test_ecs_document_shape(tmp_path):
    (tmp_path / "os-release").write_text('NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n')
    (tmp_path / "machine-id").write_text("abc123\n")
    host = HostInfo.detect(str(tmp_path))
    builder = EventBuilder(host)
    info = ProcInfo(pid=99, outcome=FULL, comm="nping", ppid=98, starttime=500, args=["nping", "--tcp"],
                    exe="/usr/bin/nping", cwd="/root", uids=(0, 0, 0, 0), gids=(0, 0, 0, 0), sid=7, pgrp=99)
    parent = ProcInfo(pid=98, outcome=FULL, comm="bash", starttime=400, args=["bash"], exe="/usr/bin/bash")
    doc = builder.build(time.monotonic_ns(), info, parent)
    assert (doc["event"]["action"], doc["event"]["type"], doc["event"]["category"], doc["event"]["kind"]) == (
        "exec", ["start"], ["process"], "event")
    assert doc["host"]["os"] == {"type": "linux", "kernel": os.uname().release, "name": "Debian GNU/Linux",
                                 "version": "12", "family": "debian", "platform": "debian"}
    assert doc["host"]["id"] == "abc123"
    process = doc["process"]
    assert (process["name"], process["executable"], process["args_count"], process["command_line"]) == (
        "nping", "/usr/bin/nping", 2, "nping --tcp")
    assert process["parent"]["name"] == "bash" and process["parent"]["pid"] == 98
    assert process["entity_id"] == builder.entity_id(99, 500) != process["parent"]["entity_id"]
    assert doc["user"] == {"id": "0", "name": "root"} and process["session_leader"] == {"pid": 7}
    assert doc["@timestamp"].endswith("Z") and "tags" not in doc
    assert builder.record(doc).index == SENSOR_INDEX


def test_ecs_name_falls_back_to_comm_and_loss_is_tagged():
    builder = EventBuilder(HostInfo("h", "id", {"type": "linux"}))
    zombie = builder.build(0, ProcInfo(pid=5, outcome=ZOMBIE, comm="nping", starttime=1))
    assert zombie["process"]["name"] == "nping" and "executable" not in zombie["process"]
    assert zombie["tags"] == ["enrichment_partial"] and zombie["event"]["outcome"] == "unknown"
    gone = builder.build(0, ProcInfo(pid=6))
    assert gone["process"] == {"pid": 6} and gone["tags"] == ["enrichment_failed"]


def test_audit_multicast_records_become_auditbeat_exec_events():
    records = [
        (1300, 'audit(1795888946.689:74484): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 '
               'items=2 ppid=373 pid=375 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 '
               'tty=(none) ses=1 comm="nping" exe="/usr/bin/nping" key="proc_exec"'),
        (1309, 'audit(1795888946.689:74484): argc=3 a0="nping" a1="--tcp" a2=3132372E302E302E31'),
        (1307, 'audit(1795888946.689:74484): cwd="/root"'),
        (1327, 'audit(1795888946.689:74484): proctitle=6E70696E67'),
    ]
    datagram = b"".join(struct.pack("=IHHII", 16 + len(p) + 1, t, 0, 0, 0) + p.encode() + b"\0"
                        + b"\0" * ((-(16 + len(p) + 1)) % 4) for t, p in records)
    decoded = decode_audit_datagram(datagram)
    assert [t for t, _ in decoded] == [1300, 1309, 1307, 1327]
    parser = AuditLogParser()
    docs = [e.doc for t, p in decoded for e in parser.feed(as_log_line(t, p))] + [e.doc for e in parser.flush()]
    assert len(docs) == 1
    assert docs[0]["process"]["args"] == ["nping", "--tcp", "127.0.0.1"]
    assert docs[0]["event"]["action"] == "executed" and docs[0]["process"]["name"] == "nping"
