"""Real local receivers for the notification tests, all bound to 127.0.0.1 on a free port.

* `HttpReceiver`: an http.server in a thread that records every request and answers with scripted statuses;
* `UdpReceiver` / `TcpReceiver`: syslog listeners recording datagrams / the raw TCP byte stream;
* `SmtpReceiver`: aiosmtpd's Controller recording every message (optionally offering STARTTLS).
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
import typing as t
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """`statuses` are answered in order (then 200 forever); each entry is a status or (status, headers)."""

    statuses: list[t.Any] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                answer = receiver.statuses.pop(0) if receiver.statuses else 200
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                payload = b"ok" if status < 400 else b"nope"
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: t.Any) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class UdpReceiver:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]

    def receive(self, count: int) -> list[bytes]:
        return [self.sock.recvfrom(65535)[0] for _ in range(count)]

    def close(self) -> None:
        self.sock.close()


class TcpReceiver:
    """Records each connection's complete byte stream (the connection is read until the client closes it)."""

    def __init__(self) -> None:
        self.streams: list[bytes] = []
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                chunks = []
                while data := self.request.recv(65536):
                    chunks.append(data)
                receiver.streams.append(b"".join(chunks))

        self.server = socketserver.ThreadingTCPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.streams) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.streams

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse_octet_counted(stream: bytes) -> list[bytes]:
    """RFC 6587 octet-counting: `LEN SP MSG` repeated; a framing error fails the test."""
    messages = []
    while stream:
        length, _, rest = stream.partition(b" ")
        assert length.isdigit(), f"bad frame header {length[:20]!r}"
        size = int(length)
        assert len(rest) >= size, "truncated frame"
        messages.append(rest[:size])
        stream = rest[size:]
    return messages


def free_port() -> int:
    """A port nobody listens on (bound then released), for connection-refused tests."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]
