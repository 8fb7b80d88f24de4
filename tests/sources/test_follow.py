"""Follow mode with real files: append, partial lines, rotation, truncation, checkpoints, SIGKILL and restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from vigil.sources import SourceStats, open_sources
from vigil.sources.follow import Checkpoint, FileFollower, Position


def event(serial: int) -> str:
    """One exec event (SYSCALL, EXECVE, PROCTITLE) whose pid is its serial, so outputs can be checked one by one."""
    s = f"msg=audit(1700000000.{serial % 1000:03d}:{serial}):"
    return (f'type=SYSCALL {s} arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1 '
            f'pid={serial} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 '
            f'tty=pts0 ses=2 comm="nping" exe="/usr/bin/nping" key="exec"\n'
            f'type=EXECVE {s} argc=2 a0="nping" a1="127.0.0.1"\n'
            f"type=PROCTITLE {s} proctitle=6E70696E67003132372E302E302E31\n")


def texts(lines):
    return [ln.data.decode() for ln in lines]


def test_append_waits_for_partial_last_line(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntw")
    follower = FileFollower(str(path))
    assert texts(follower.poll()) == ["one"]
    assert follower.position.offset == 4 and follower.position.line == 2
    with open(path, "ab") as fh:
        fh.write(b"o\nthree")
    assert texts(follower.poll()) == ["two"]
    with open(path, "ab") as fh:
        fh.write(b"\n")
    [line] = follower.poll()
    assert (line.number, line.start, line.end, line.data) == (3, 8, 14, b"three")
    follower.close()


def test_rotation_by_rename_drains_old_file_then_reads_new(tmp_path):
    path = tmp_path / "audit.log"
    path.write_text("a1\n")
    follower = FileFollower(str(path), rotate_grace=0.05)
    assert texts(follower.poll()) == ["a1"]
    writer = open(path, "a")  # a writer still holding the old file after the rename
    os.rename(path, tmp_path / "audit.log.1")
    path.write_text("b1\nb2\n")
    writer.write("a2\na3-no-newline")
    writer.close()
    seen, generation = [], follower.generation
    deadline = time.monotonic() + 5
    while len(seen) < 5 and time.monotonic() < deadline:
        seen += texts(follower.poll())
        time.sleep(0.02)
    assert seen == ["a2", "a3-no-newline", "b1", "b2"] or seen[:4] == ["a2", "a3-no-newline", "b1", "b2"]
    assert follower.generation == generation + 1
    st = os.stat(path)
    assert (follower.position.dev, follower.position.inode) == (st.st_dev, st.st_ino)
    follower.close()


def test_copytruncate_restarts_at_zero(tmp_path):
    path = tmp_path / "t.log"
    path.write_text("old line 1\nold line 2\n")
    follower = FileFollower(str(path))
    assert len(follower.poll()) == 2
    with open(path, "r+") as fh:
        fh.truncate(0)
    with open(path, "a") as fh:
        fh.write("new\n")
    got = follower.poll() or follower.poll()
    assert [(ln.number, ln.start, ln.data) for ln in got] == [(1, 0, b"new")]
    follower.close()


def test_checkpoint_is_atomic_json_and_rejects_garbage(tmp_path):
    ck = Checkpoint(tmp_path / "ck.json")
    ck.save({"x.log": Position(1, 2, 30, 4)}, {"output_bytes": 10})
    again = Checkpoint(tmp_path / "ck.json")
    assert again.get("x.log") == Position(1, 2, 30, 4) and again.extra == {"output_bytes": 10}
    assert [p.name for p in tmp_path.iterdir()] == ["ck.json"]  # no temporary left behind
    (tmp_path / "bad.json").write_text("{nope")
    try:
        Checkpoint(tmp_path / "bad.json")
    except Exception as error:  # noqa: BLE001
        assert "checkpoint cannot be read" in str(error) and "bad.json" in str(error)
    else:
        raise AssertionError("garbage checkpoint accepted")


def pids(records):
    return [r.doc["process"]["pid"] for r in records]


def test_checkpoint_resume_reads_only_new_events_even_across_rotation(tmp_path):
    log, ck = tmp_path / "audit.log", tmp_path / "ck.json"
    log.write_text(event(1) + event(2) + "type=SYSCALL msg=audit(1700000000.003:3): arch=c0")  # half a line
    assert pids(open_sources([str(log)], checkpoint=ck)) == [1, 2]
    with open(log, "a") as fh:
        fh.write("00003e syscall=59 success=yes pid=3 comm=\"x\"\n" + event(4))
    assert pids(open_sources([str(log)], checkpoint=ck)) == [3, 4]
    assert pids(open_sources([str(log)], checkpoint=ck)) == []
    with open(log, "a") as fh:
        fh.write(event(5))
    os.rename(log, tmp_path / "audit.log.1")  # rotated while vigil was not running
    log.write_text(event(6))
    stats = SourceStats()
    assert pids(open_sources([str(log)], checkpoint=ck, stats=stats)) == [5, 6]
    assert any("rotated while stopped" in note for note in stats.notes)


def test_follow_stream_sees_appends_and_rotation(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text(event(1))
    stream = open_sources([str(log)], follow=True)
    stream.poll_interval, stream.rotate_grace = 0.02, 0.1
    try:
        got = [next(stream).doc["process"]["pid"]]
        with open(log, "a") as fh:
            fh.write(event(2))
        got.append(next(stream).doc["process"]["pid"])
        os.rename(log, tmp_path / "audit.log.1")
        log.write_text(event(3))
        got.append(next(stream).doc["process"]["pid"])
    finally:
        stream.close()
    assert got == [1, 2, 3]


def test_sigkill_and_restart_outputs_every_event_exactly_once(tmp_path):
    log, ck, out = tmp_path / "audit.log", tmp_path / "ck.json", tmp_path / "out.ndjson"
    log.write_text("")
    command = [sys.executable, "-m", "vigil", "sources", "normalize", "--follow", "--checkpoint", str(ck),
               "--output", str(out), str(log)]
    total = 600

    def start():
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def output_pids():
        if not out.exists():
            return []
        text = out.read_text()
        return [json.loads(line)["_source"]["process"]["pid"] for line in text.splitlines()[:-1 if not text.endswith("\n") else None] if line]

    proc = start()
    try:
        serial = 0
        kills = 0
        with open(log, "a") as fh:
            while serial < total:
                chunk = "".join(event(serial + i + 1) for i in range(20))
                serial += 20
                middle = len(chunk) // 2 + 7  # write in two parts, the first ending mid-line
                fh.write(chunk[:middle])
                fh.flush()
                time.sleep(0.01)
                fh.write(chunk[middle:])
                fh.flush()
                if serial == 300:  # rotate once, mid-stream
                    fh.close()
                    os.rename(log, tmp_path / "audit.log.1")
                    fh = open(log, "a")
                if serial % 140 == 0:  # kill -9 once this process is busy, then restart
                    before = len(output_pids())
                    deadline = time.monotonic() + 20
                    while len(output_pids()) <= before and time.monotonic() < deadline:
                        time.sleep(0.01)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    proc = start()
            fh.close()
        deadline = time.monotonic() + 60
        while len(output_pids()) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # a duplicate would show up after the last expected line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    got = output_pids()
    assert kills >= 3
    missing = sorted(set(range(1, total + 1)) - set(got))
    duplicated = sorted(p for p in set(got) if got.count(p) > 1)
    assert not missing and not duplicated, (len(got), missing[:5], missing[-5:], duplicated[:20], ck.read_text(), sorted(p.name for p in tmp_path.iterdir()))
    assert len(got) == total
