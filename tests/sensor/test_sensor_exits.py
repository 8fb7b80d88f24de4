"""Naming processes that were reaped before /proc was read (taskstats exit records), the two-phase /proc read,
batched alert commits and the cached timestamp formatter. Real processes, real sockets, a real SQLite store."""

from __future__ import annotations

import datetime as dt
import os
import queue
import shutil
import struct
import subprocess
import time

import pytest

from vigil.alerts import AlertStore
from vigil.rules.registry import builtin_rules
from vigil.sensor import live
from vigil.sensor.connector import ConnectorUnavailable
from vigil.sensor.ecs import EventBuilder, HostInfo, iso_ns
from vigil.sensor.enrich import EXITED, FULL, GONE, ZOMBIE, ProcInfo, apply_exit_record, read_fast, read_rest
from vigil.sensor.taskstats import ExitListener, ExitRecord, TaskstatsUnavailable, decode_exits

NPING_ID = "0d69150b-96f8-467c-a86d-a67a3378ce77"


def _exit_datagram(pid: int, comm: bytes, uid: int, gid: int, ppid: int, btime: int) -> bytes:
    """One TASKSTATS_CMD_NEW message as the kernel sends it: AGGR_PID { PID, STATS }."""
    stats = bytearray(352)
    stats[80:80 + len(comm)] = comm
    struct.pack_into("=IIIII", stats, 120, uid, gid, pid, ppid, btime)
    pid_attr = struct.pack("=HHI", 8, 1, pid)
    stats_attr = struct.pack("=HH", 4 + len(stats), 3) + bytes(stats)
    nested = pid_attr + stats_attr
    aggr = struct.pack("=HH", 4 + len(nested), 4 | 0x8000) + nested
    body = struct.pack("=BBH", 2, 1, 0) + aggr
    return struct.pack("=IHHII", 16 + len(body), 31, 0, 0, 0) + body


def test_decode_exit_records_and_skip_garbage():
    data = _exit_datagram(4242, b"nping", 1000, 100, 17, 1_800_000_000) + _exit_datagram(7, b"true", 0, 0, 1, 5)
    records = decode_exits(data + b"\x01\x02")  # a truncated tail is ignored
    assert records == [ExitRecord(4242, "nping", 1000, 100, 17, 1_800_000_000), ExitRecord(7, "true", 0, 0, 1, 5)]
    assert decode_exits(data[:30]) == []


def _listener_or_skip() -> ExitListener:
    try:
        return ExitListener()
    except TaskstatsUnavailable as error:
        pytest.skip(f"taskstats unavailable here: {error.reason}")


def test_exit_record_of_a_real_process_and_the_pid_reuse_guard():
    listener = _listener_or_skip()
    try:
        child = subprocess.Popen(["/bin/true"])
        child.wait()
        started = time.time()
        deadline = time.monotonic() + 2
        while child.pid not in listener.records and time.monotonic() < deadline:
            listener.drain()
            time.sleep(0.01)
        record = listener.records[child.pid]
        assert (record.comm, record.ppid, record.uid) == ("true", os.getpid(), os.getuid())
        # an exec 10 s later cannot belong to this record (the pid was reused): refused, and kept
        assert listener.take(child.pid, started + 10) is None and child.pid in listener.records
        assert listener.take(child.pid, started) == record and child.pid not in listener.records
    finally:
        listener.close()


def test_two_phase_read_full_zombie_gone_and_named_from_the_exit_record():
    info, fd = read_fast(os.getpid())
    assert fd >= 0 and info.outcome == FULL and info.exe and info.comm
    assert read_rest(info, fd).uids[1] == os.geteuid()
    child = subprocess.Popen(["/bin/true"])
    deadline = time.monotonic() + 5
    while read_rest(*read_fast(child.pid)).outcome != ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.005)
    zombie = read_rest(*read_fast(child.pid))
    assert zombie.outcome == ZOMBIE and zombie.comm == "true" and zombie.exe is None and zombie.uids is not None
    child.wait()
    gone = read_rest(*read_fast(child.pid))
    assert gone.outcome == GONE
    named = apply_exit_record(gone, ExitRecord(child.pid, "nping", 1000, 1000, 1, 0))
    doc = EventBuilder(HostInfo("h", "id", {"type": "linux"})).build(0, named)
    assert named.outcome == EXITED and doc["process"]["name"] == "nping" and doc["process"]["parent"]["pid"] == 1
    assert doc["tags"] == ["enrichment_partial", "from_exit_record"] and doc["event"]["outcome"] == "unknown"
    assert doc["process"]["real_user"]["id"] == "1000" and "user" not in doc  # the effective uid stays unknown


def test_reader_names_a_process_reaped_before_it_looked(tmp_path):
    """Reader paused while a copy of /bin/true named nping runs and is reaped: /proc has nothing left, yet the
    event carries the name, and the Nping rule alerts on it."""
    from vigil.sensor.reader import ConnectorBackend

    fake = tmp_path / "nping"
    shutil.copy2("/bin/true", fake)
    q: queue.SimpleQueue = queue.SimpleQueue()
    try:
        backend = ConnectorBackend(q.put, EventBuilder(HostInfo.detect()), self_test=False, realtime=False)
    except ConnectorUnavailable as error:
        pytest.skip(f"proc connector unavailable here: {error.reason}")
    if backend.exits is None:
        backend.close()
        pytest.skip("taskstats unavailable here: " + "; ".join(backend.notes))
    backend.paused = True
    backend.start()
    try:
        child = subprocess.Popen([str(fake)])
        child.wait()  # reaped before the reader looks
        backend.paused = False
        doc, deadline = None, time.monotonic() + 3
        while doc is None and time.monotonic() < deadline:
            try:
                record = q.get(timeout=0.05)
            except queue.Empty:
                continue
            if record.doc["process"]["pid"] == child.pid:
                doc = record.doc
        assert doc is not None, "the exec was never reported"
        assert doc["process"]["name"] == "nping" and "from_exit_record" in doc["tags"]
        assert doc["process"]["parent"]["pid"] == os.getpid() and backend.stats.exited >= 1
        rule = next(r for r in builtin_rules() if r.rule_id == NPING_ID)
        with AlertStore(tmp_path / "a.db") as store:
            detector = live.LiveDetector(store, live.load_runners([rule]).runners)
            assert len(detector.feed(backend.builder.record(doc))) == 1
    finally:
        backend.stop()


def _nping_record(builder: EventBuilder, pid: int):
    info = ProcInfo(pid=pid, outcome=FULL, comm="nping", ppid=1, starttime=pid, args=["nping"], exe="/usr/bin/nping",
                    uids=(0,) * 4, gids=(0,) * 4)
    return builder.record(builder.build(time.monotonic_ns(), info))


def test_batched_alerts_commit_together_on_flush(tmp_path):
    rule = next(r for r in builtin_rules() if r.rule_id == NPING_ID)
    builder = EventBuilder(HostInfo("h", "id", {"type": "linux"}))
    seen: list[int] = []
    hook = lambda alerts, rule: seen.append(len(alerts))  # noqa: E731
    live.on_alerts.append(hook)
    try:
        with AlertStore(tmp_path / "a.db") as store:
            detector = live.LiveDetector(store, live.load_runners([rule]).runners, batch_ms=60_000)
            assert detector.feed(_nping_record(builder, 11)) == [] and detector.feed(_nping_record(builder, 12)) == []
            assert store.count() == 0 and detector.pending == 2 and seen == []
            assert len(detector.flush()) == 2 and store.count() == 2 and seen == [1, 1] and detector.pending == 0
            due = live.LiveDetector(store, live.load_runners([rule]).runners, batch_ms=0)
            assert len(due.feed(_nping_record(builder, 13))) == 1  # a window of 0 commits at once
            assert detector.close_streams() == []
    finally:
        live.on_alerts.remove(hook)


@pytest.mark.parametrize("ns", [0, 1_795_897_155_000_001_999, 1_795_897_155_999_999_999, time.time_ns()])
def test_cached_iso_formatting_equals_datetime(ns):
    seconds, rest = divmod(ns, 1_000_000_000)
    expected = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(microsecond=rest // 1000)
    assert iso_ns(ns) == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert iso_ns(ns + 1_000_000_000) != iso_ns(ns)  # the next second is not served from the cache
