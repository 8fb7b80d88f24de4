"""Fixtures for the response tests: real child processes, real alerts in a real store, real network namespaces."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import typing as t

import pytest

from vigil.alerts import AlertContext, AlertStore, build_alerts
from vigil.response.process import _iso_ns, read_stat, vigil_entity_id
from vigil.rules.model import Rule
from vigil.sources.base import Record


def response_rule(*actions: dict) -> Rule:
    return Rule.from_document({"rule": {
        "rule_id": "resp-test-rule", "name": "Sleep Process Activity", "description": "test", "type": "eql",
        "severity": "high", "risk_score": 73, "language": "eql", "index": ["logs-endpoint.events.process-*"],
        "query": 'process where process.name == "sleep"', "response_actions": list(actions),
    }}, location="rules/sleep.toml")


def process_fields(pid: int, *, start: bool = True, entity: bool = False, host_key: str = "") -> dict:
    """`process.*` as vigil's sensor writes it for a live pid (start time from /proc)."""
    stat = read_stat(pid)
    assert stat is not None, f"pid {pid} vanished"
    fields: dict[str, t.Any] = {"pid": pid, "name": stat.comm}
    if start:
        fields["start"] = _iso_ns(stat.start_ns())
    if entity:
        fields["entity_id"] = vigil_entity_id(host_key, pid, stat.starttime)
    return fields


def alert_for(process: dict, *, host: t.Optional[dict] = None, rule: t.Optional[Rule] = None,
              event_id: t.Optional[str] = None) -> dict:
    """A real alert document (build_alerts) for an exec event of `process` on this host."""
    doc = {
        "@timestamp": _iso_ns(time.time_ns()),
        "event": {"action": "exec", "category": ["process"], "type": ["start"], "kind": "event"},
        "host": host if host is not None else {"name": socket.gethostname(), "os": {"type": "linux"}},
        "process": process,
    }
    record = Record(doc=doc, index="logs-endpoint.events.process-default",
                    id=event_id or secrets.token_hex(8), source="sensor")
    [alert] = build_alerts([record], rule or response_rule(), AlertContext())
    return alert


def stopped(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.state in ("T", "t")


@pytest.fixture
def sleeper():
    """A real `sleep 60` child; always reaped at the end."""
    proc = subprocess.Popen(["sleep", "60"])
    deadline = time.monotonic() + 5
    while (read_stat(proc.pid) is None or read_stat(proc.pid).comm != "sleep") and time.monotonic() < deadline:
        time.sleep(0.005)  # until the exec is done: before it, comm is still python's
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "vigil.db") as s:
        yield s


# --------------------------------------------------------------------------------------------- network namespaces
def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class TestNet:
    """Two namespaces joined by a veth pair: `inner` (the host to isolate) 10.R.0.1, `peer` 10.R.0.2 and 10.R.0.3.

    Nothing is configured on this machine's own interfaces: both veth ends live inside the test namespaces.
    """

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.inner, self.peer = f"vigiltest-{tag}", f"vigiltest-{tag}-p"
        octet = 16 + secrets.randbelow(200)
        self.inner_addr, self.peer_addr, self.mgmt_addr = (f"10.{octet}.0.{i}" for i in (1, 2, 3))
        self.port = 18000 + secrets.randbelow(1000)
        self.servers: list[subprocess.Popen] = []
        self.tag = tag

    def setup(self) -> None:
        tag = self.tag
        _ip("netns", "add", self.inner)
        _ip("netns", "add", self.peer)
        a, b = f"vt{tag}a", f"vt{tag}b"
        _ip("link", "add", a, "netns", self.inner, "type", "veth", "peer", "name", b, "netns", self.peer)
        _ip("-n", self.inner, "addr", "add", f"{self.inner_addr}/24", "dev", a)
        _ip("-n", self.peer, "addr", "add", f"{self.peer_addr}/24", "dev", b)
        _ip("-n", self.peer, "addr", "add", f"{self.mgmt_addr}/24", "dev", b)
        for ns, dev in ((self.inner, a), (self.peer, b)):
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", dev, "up")

    def serve(self, ns: str, host: str) -> None:
        """A TCP listener on host:port inside `ns`, accepting forever."""
        code = ("import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                f"s.bind(({host!r},{self.port}));s.listen(64);print('ready',flush=True)\n"
                "while True:\n c,_=s.accept();c.close()\n")
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code], stdout=subprocess.PIPE,
                                text=True)
        self.servers.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    def can_connect(self, host: str, ns: t.Optional[str] = None, timeout: float = 0.6) -> bool:
        code = f"import socket\nsocket.create_connection(({host!r},{self.port}),timeout={timeout}).close()"
        done = subprocess.run(["ip", "netns", "exec", ns or self.inner, sys.executable, "-c", code],
                              capture_output=True, timeout=30)
        return done.returncode == 0

    def close(self) -> None:
        for proc in self.servers:
            proc.kill()
            proc.wait()
        for ns in (self.inner, self.peer):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


@pytest.fixture
def testnet():
    if os.geteuid() != 0:
        pytest.skip("isolation tests need root (network namespaces and nftables)")
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            pytest.skip(f"isolation tests need `{tool}` (install iproute2 and nftables)")
    net = TestNet()
    try:
        try:
            net.setup()
        except subprocess.CalledProcessError as error:
            pytest.skip(f"cannot create test network namespaces: {error.stderr.decode(errors='replace').strip()}")
        yield net
    finally:
        net.close()
