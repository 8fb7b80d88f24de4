"""Real capture on this host: the proc connector (self-test, loss accounting + rescan) and /proc polling (+ inotify).

Only loopback/local processes are started: /bin/true, sleep, and renamed copies of them."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import time

import pytest

from vigil.sensor.connector import ConnectorUnavailable, ProcConnector
from vigil.sensor.ecs import EventBuilder, HostInfo
from vigil.sensor.procpoll import ProcPollBackend


def _connector_or_skip(**kwargs) -> ProcConnector:
    try:
        return ProcConnector(**kwargs)
    except ConnectorUnavailable as error:
        pytest.skip(f"proc connector unavailable here: {error.reason}")


@pytest.fixture
def builder():
    return EventBuilder(HostInfo.detect())


def _spawn_many(n: int) -> list[int]:
    pids = []
    for _ in range(n):
        child = subprocess.Popen(["/bin/true"])
        pids.append(child.pid)
        child.wait()
    return pids


def _collect(q: queue.SimpleQueue, until, timeout: float = 3.0) -> list:
    got, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got.append(q.get(timeout=0.05))
        except queue.Empty:
            pass
        if until(got):
            break
    return got


def test_connector_sees_exec_with_kernel_filter():
    with _connector_or_skip() as conn:
        pids = set(_spawn_many(5))
        events = _collect_execs(conn, pids)
        assert pids <= {e.tgid for e in events}
        assert conn.lost_batches == 0


def _collect_execs(conn: ProcConnector, pids: set[int], timeout: float = 2.0) -> list:
    import select

    events, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline and not pids <= {e.tgid for e in events}:
        select.select([conn], [], [], 0.05)
        events += conn.recv_execs()
    return events


def test_overflow_is_counted_as_loss():
    # A tiny buffer that nobody reads while 300 processes start: the kernel must drop and report ENOBUFS.
    with _connector_or_skip(rcvbuf=4096) as conn:
        pids = _spawn_many(300)
        events = conn.recv_execs(max_datagrams=10_000)
        assert conn.lost_batches >= 1
        assert len({e.tgid for e in events} & set(pids)) < 300


def test_loss_triggers_a_rescan_that_recovers_running_processes(builder):
    from vigil.sensor.reader import ConnectorBackend

    q: queue.SimpleQueue = queue.SimpleQueue()
    try:
        backend = ConnectorBackend(q.put, builder, rcvbuf=4096, self_test=False, realtime=False)
    except ConnectorUnavailable as error:
        pytest.skip(f"proc connector unavailable here: {error.reason}")
    backend.paused = True
    backend.start()
    sleeper = None
    try:
        _spawn_many(300)  # fills the buffer...
        sleeper = subprocess.Popen(["sleep", "5"])  # ...so this exec is dropped by the kernel
        time.sleep(0.05)
        backend.paused = False
        got = _collect(q, lambda recs: any(r.doc["process"]["pid"] == sleeper.pid for r in recs))
        assert backend.stats.lost_batches >= 1 and backend.stats.rescans >= 1
        rescued = [r.doc for r in got if r.doc["process"]["pid"] == sleeper.pid]
        assert rescued and "rescan" in rescued[0]["tags"] and rescued[0]["process"]["name"] == "sleep"
        deadline = time.monotonic() + 1  # the counter is updated once the whole rescan is done
        while backend.stats.rescued < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert backend.stats.rescued >= 1
    finally:
        backend.stop()
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()


@pytest.fixture
def fake_nping(tmp_path):
    """A copy of `sleep` named nping: lives as long as asked, and the rules match it by name."""
    directory = tmp_path / "bin"
    directory.mkdir()
    target = directory / "nping"
    shutil.copy2(shutil.which("sleep"), target)
    return target


def test_procpoll_catches_a_process_living_longer_than_the_interval(builder, fake_nping):
    q: queue.SimpleQueue = queue.SimpleQueue()
    builder.mode = "procpoll"
    backend = ProcPollBackend(q.put, builder, interval=0.05)
    backend.start()
    try:
        child = subprocess.Popen([str(fake_nping), "0.5"])
        got = _collect(q, lambda recs: any(r.doc["process"]["pid"] == child.pid for r in recs))
        child.wait()
        doc = next(r.doc for r in got if r.doc["process"]["pid"] == child.pid)
        assert doc["process"]["name"] == "nping" and doc["process"]["executable"] == str(fake_nping)
        assert doc["process"]["args"] == [str(fake_nping), "0.5"]
        assert doc["process"]["parent"]["pid"] == os.getpid()
        assert doc["event"]["provider"] == "vigil-procpoll" and "procpoll" in doc["tags"]
        assert backend.stats.scans >= 1
    finally:
        backend.stop()


def test_inotify_trigger_catches_a_watched_binary_between_polls(builder, fake_nping):
    q: queue.SimpleQueue = queue.SimpleQueue()
    backend = ProcPollBackend(q.put, builder, interval=30.0, watch_names={"nping"},
                              search_path=str(fake_nping.parent))
    assert backend.inotify is not None and str(fake_nping.parent) in backend.watched
    backend.start()
    try:
        time.sleep(0.05)
        child = subprocess.Popen([str(fake_nping), "0.3"])
        got = _collect(q, lambda recs: any(r.doc["process"]["pid"] == child.pid for r in recs), timeout=2.0)
        child.wait()
        assert any(r.doc["process"]["pid"] == child.pid for r in got), "not caught: the 30 s poll never ran"
        assert backend.stats.triggers >= 1 and backend.stats.scans == 0
    finally:
        backend.stop()
