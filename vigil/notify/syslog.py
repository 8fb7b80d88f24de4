"""Syslog (RFC 5424) over UDP (RFC 5426), TCP with octet-counting framing (RFC 6587), or TLS (RFC 5425).

One message per alert:

    <PRI>1 TIMESTAMP HOSTNAME vigil PROCID alert [vigil@32473 rule_id="…" severity="medium" host="…" …] MSG

PRI = facility × 8 + severity (critical → 2 crit, high → 3 err, medium → 4 warning, low → 5 notice). MSG is the
alert's reason (`format = "rfc5424"`) or the alert as a CEF line (`format = "cef"`, see `cef.py`). 32473 is the
private enterprise number RFC 5612 reserves for examples; set `sd_id` to your own `name@<PEN>` if you have one.
"""

from __future__ import annotations

import os
import socket
import ssl
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from vigil.alerts.times import js_iso, parse_time, utc_now
from vigil.notify import cef
from vigil.notify.base import Batch, ChannelOptions, DeliveryResult, alert_facts
from vigil.notify.delivery import deliver
from vigil.notify.retry import RetryPolicy, TransientFailure
from vigil.notify.section import Section

FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8, "cron": 9,
    "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14, "solaris-cron": 15,
    **{f"local{n}": 16 + n for n in range(8)},
}
SEVERITY_CODE = {"critical": 2, "high": 3, "medium": 4, "low": 5}
DEFAULT_SD_ID = "vigil@32473"
_SD_VALUE_LIMIT = 512  # keeps one long command line from pushing the rest out of a UDP datagram


def _header_token(value: t.Any, limit: int) -> str:
    """HOSTNAME / APP-NAME / PROCID / MSGID: printable US-ASCII without spaces, or the NILVALUE `-`."""
    text = "".join(ch for ch in str(value or "") if 33 <= ord(ch) <= 126)[:limit]
    return text or "-"


def escape_sd_value(value: t.Any) -> str:
    """PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\\` and `]` get a backslash."""
    text = str(value)
    if len(text) > _SD_VALUE_LIMIT:
        text = text[: _SD_VALUE_LIMIT - 1] + "…"
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def structured_data(alert: t.Mapping[str, t.Any], sd_id: str) -> str:
    fact = alert_facts(alert)
    params = [
        ("alert_id", fact["id"]), ("rule_id", fact["rule_id"]), ("rule", fact["rule"]),
        ("severity", fact["severity"]), ("risk_score", fact["risk_score"]), ("time", fact["time"]),
        ("host", fact["host"]), ("user", fact["user"]), ("process", fact["process"]), ("pid", fact["pid"]),
        ("parent", fact["parent"]), ("command_line", fact["command_line"]),
    ]
    body = " ".join(f'{name}="{escape_sd_value(value)}"' for name, value in params if value is not None)
    return f"[{sd_id}{' ' + body if body else ''}]"


def _truncate_utf8(data: bytes, limit: int) -> bytes:
    return data[:limit].decode("utf-8", errors="ignore").encode("utf-8")


@dataclass
class SyslogFormat:
    facility: int = FACILITIES["local0"]
    app_name: str = "vigil"
    hostname: str = field(default_factory=socket.gethostname)
    sd_id: str = DEFAULT_SD_ID
    message_format: str = "rfc5424"
    max_size: int = 0

    def message(self, alert: t.Mapping[str, t.Any]) -> bytes:
        """One RFC 5424 message, cut to `max_size` bytes (0: no limit) by shortening MSG, never the header/SD."""
        fact = alert_facts(alert)
        pri = self.facility * 8 + SEVERITY_CODE.get(fact["severity"], 4)
        moment = parse_time(fact["created"]) or utc_now()
        head = (f"<{pri}>1 {js_iso(moment)} {_header_token(self.hostname, 255)} {_header_token(self.app_name, 48)} "
                f"{_header_token(os.getpid(), 128)} alert {structured_data(alert, self.sd_id)}").encode("utf-8")
        text = cef.format_alert(alert) if self.message_format == "cef" else str(fact["reason"] or fact["rule"] or "")
        msg = text.encode("utf-8")
        if self.max_size and len(head) + 1 + len(msg) > self.max_size:
            msg = _truncate_utf8(msg, max(0, self.max_size - len(head) - 1))
        return head + (b" " + msg if msg else b"")


def frame_octet_counting(message: bytes) -> bytes:
    """RFC 6587 §3.4.1: `MSG-LEN SP SYSLOG-MSG`, so messages may contain newlines."""
    return str(len(message)).encode("ascii") + b" " + message


@dataclass
class SyslogChannel:
    options: ChannelOptions
    host: str
    port: int
    protocol: str
    fmt: SyslogFormat
    policy: RetryPolicy
    dead_letter: t.Optional[Path]
    timeout: float = 10.0
    tls_context: t.Optional[ssl.SSLContext] = None
    kind: str = "syslog"

    @property
    def name(self) -> str:
        return self.options.name

    def send(self, batch: Batch) -> DeliveryResult:
        messages = [self.fmt.message(alert) for alert in batch.alerts]
        progress = {"sent": 0}  # a retry resends only what did not go out

        def attempt() -> str:
            try:
                if self.protocol == "udp":
                    self._send_udp(messages, progress)
                else:
                    self._send_stream(messages, progress)
            except OSError as error:
                raise TransientFailure(f"{self.protocol} {self.host}:{self.port}: {error.strerror or error}") from None
            return f"{len(messages)} messages over {self.protocol}"

        return deliver(channel=self.name, kind=self.kind, target=f"{self.protocol}://{self.host}:{self.port}",
                       alerts=len(batch.alerts), attempt=attempt, policy=self.policy, dead_letter=self.dead_letter,
                       payload=batch.to_payload)

    def _send_udp(self, messages: list[bytes], progress: dict[str, int]) -> None:
        family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(self.timeout)
            for message in messages[progress["sent"]:]:
                sock.sendto(message, address)
                progress["sent"] += 1

    def _send_stream(self, messages: list[bytes], progress: dict[str, int]) -> None:
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as raw:
            sock = self.tls_context.wrap_socket(raw, server_hostname=self.host) if self.tls_context else raw
            with sock:
                for message in messages[progress["sent"]:]:
                    sock.sendall(frame_octet_counting(message))
                    progress["sent"] += 1


def build(section: Section, options: ChannelOptions, dead_letter: t.Optional[Path]) -> SyslogChannel:
    protocol = section.choice("protocol", ("udp", "tcp", "tls"), "udp")
    host = section.str("host", "127.0.0.1")
    port = section.number("port", 6514 if protocol == "tls" else 514, minimum=1, integer=True)
    if port > 65535:
        raise section.error(f"must be a port number (1-65535), not {port}", "port")
    facility = section.choice("facility", tuple(FACILITIES), "local0")
    sd_id = section.str("sd_id", DEFAULT_SD_ID)
    if not (1 <= len(sd_id) <= 32) or any(ch in sd_id for ch in '= ]"') or not sd_id.isascii():
        raise section.error(f"must be 1-32 printable ASCII characters without = ] \" or space, not {sd_id!r}",
                            "sd_id")
    fmt = SyslogFormat(
        facility=FACILITIES[facility],
        app_name=section.str("app_name", "vigil"),
        hostname=section.str("hostname", socket.gethostname()),
        sd_id=sd_id,
        message_format=section.choice("format", ("rfc5424", "cef"), "rfc5424"),
        # RFC 5426: every receiver takes 2048-byte UDP messages; streams have no such limit
        max_size=section.number("max_size", 2048 if protocol == "udp" else 0, integer=True),
    )
    tls_context = section.tls_context()
    return SyslogChannel(options, host, port, protocol, fmt, section.retry_policy(), dead_letter,
                         timeout=float(section.number("timeout", 10.0)),
                         tls_context=tls_context if protocol == "tls" else None)
