"""Fixtures for the notification tests: a private data directory, sample alerts, and live local receivers."""

from __future__ import annotations

import pytest

from tests.notify.notify_servers import HttpReceiver, TcpReceiver, UdpReceiver
from vigil.notify.sample import sample_alerts


@pytest.fixture(autouse=True)
def vigil_home(tmp_path, monkeypatch):
    """Every test gets its own data directory: throttle state and dead letters never leak between tests."""
    home = tmp_path / "home"
    monkeypatch.setenv("VIGIL_HOME", str(home))
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    return home


@pytest.fixture(scope="session")
def nping():
    """(alerts, rule): one Nping alert document from the built-in rule on host `web-01`."""
    return sample_alerts(host="web-01")


@pytest.fixture
def http_receiver():
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def udp_receiver():
    receiver = UdpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def tcp_receiver():
    receiver = TcpReceiver()
    yield receiver
    receiver.close()
