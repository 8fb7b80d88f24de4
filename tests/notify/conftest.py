"""Fixtures for the notification tests: a private data directory, sample alerts, and live local receivers."""

from __future__ import annotations

import shutil
import subprocess

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


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory):
    """A certificate for 127.0.0.1 (IP SAN) made with the openssl command line tool."""
    if not shutil.which("openssl"):
        pytest.skip("openssl command not available to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key
