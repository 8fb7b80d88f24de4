"""Syslog (RFC 5424 over UDP and TCP) and CEF against real local listeners and files."""

from __future__ import annotations

import re

import pytest

from tests.notify.notify_servers import free_port, parse_octet_counted
from vigil.notify import Notifiers
from vigil.notify.cef import cef_severity, escape_extension, escape_header, format_alert
from vigil.notify.syslog import SyslogFormat, escape_sd_value

# RFC 5424 §6: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
RFC5424 = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z) (?P<host>[!-~]{1,255}) "
    rb"(?P<app>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) "
    rb"(?P<sd>-|(\[[^ =\]\"]{1,32}( [^ =\]\"]{1,32}=\"([^\"\\\]]|\\.)*\")*\])+)( (?P<msg>.*))?$",
    re.S,
)


def _sd_params(sd: bytes) -> dict[str, str]:
    pairs = re.findall(rb' (\w+)="((?:[^"\\]|\\.)*)"', sd)
    return {k.decode(): re.sub(rb"\\(.)", rb"\1", v).decode() for k, v in pairs}


def test_udp_message_is_rfc5424_with_alert_structured_data(udp_receiver, nping):
    alerts, rule = nping
    [result] = Notifiers.from_config({"syslog": {"host": "127.0.0.1", "port": udp_receiver.port,
                                                 "hostname": "sensor-1", "facility": "auth"}}).notify(alerts, rule)
    assert result.status == "sent"
    [datagram] = udp_receiver.receive(1)
    match = RFC5424.match(datagram)
    assert match, datagram
    assert int(match["pri"]) == 4 * 8 + 4  # facility auth (4), severity medium → warning (4)
    assert (match["host"], match["app"], match["msgid"]) == (b"sensor-1", b"vigil", b"alert")
    assert match["sd"].startswith(b"[vigil@32473 ")
    params = _sd_params(match["sd"])
    assert params["rule_id"] == rule.rule_id and params["host"] == "web-01" and params["process"] == "nping"
    assert params["severity"] == "medium" and params["risk_score"] == "47"
    assert match["msg"].decode().startswith("process event with process nping")


def test_tcp_uses_octet_counting_one_frame_per_alert(tcp_receiver, nping):
    alerts, rule = nping
    second = {**alerts[0], "kibana.alert.uuid": "second", "kibana.alert.severity": "critical",
              "kibana.alert.reason": "line one\nline two"}
    [result] = Notifiers.from_config({"syslog": {"protocol": "tcp", "port": tcp_receiver.port}}).notify(
        [alerts[0], second], rule)
    assert result.status == "sent" and result.alerts == 2
    [stream] = tcp_receiver.wait(1)
    messages = parse_octet_counted(stream)
    assert len(messages) == 2
    assert all(RFC5424.match(m) for m in messages)
    assert RFC5424.match(messages[1])["pri"] == str(16 * 8 + 2).encode()  # local0, critical → crit
    assert messages[1].endswith(b"line one\nline two")  # framing lets a message carry newlines


def test_tcp_refused_retries_then_dead_letters(nping, vigil_home):
    alerts, rule = nping
    [result] = Notifiers.from_config({"syslog": {"protocol": "tcp", "port": free_port(), "retries": 1,
                                                 "backoff": 0.01}}).notify(alerts, rule)
    assert (result.status, result.attempts) == ("failed", 2)
    assert "tcp 127.0.0.1" in result.error
    assert (vigil_home / "notify-dead-letter.ndjson").exists()


def test_syslog_cef_format_carries_cef_as_msg(udp_receiver, nping):
    alerts, rule = nping
    Notifiers.from_config({"syslog": {"port": udp_receiver.port, "format": "cef"}}).notify(alerts, rule)
    [datagram] = udp_receiver.receive(1)
    assert RFC5424.match(datagram)["msg"].startswith(b"CEF:0|vigil|vigil|")


def test_sd_value_escaping_and_udp_size_limit(nping):
    assert escape_sd_value('a"b\\c]d') == 'a\\"b\\\\c\\]d'
    alerts, _ = nping
    long_reason = {**alerts[0], "kibana.alert.reason": "é" * 5000}
    data = SyslogFormat(max_size=2048, hostname="h").message(long_reason)
    assert len(data) <= 2048
    data.decode("utf-8")  # never cut inside a character
    assert RFC5424.match(data)


def test_cef_escaping():
    assert escape_header("a|b\\c\nd") == "a\\|b\\\\c d"
    assert escape_extension("x=1\\y|z\r\nw") == "x\\=1\\\\y|z\\nw"
    assert (cef_severity(47, "medium"), cef_severity(None, "high"), cef_severity(99, None)) == (5, 8, 10)


def test_cef_line_round_trips_hostile_values(nping):
    alerts, _ = nping
    hostile = {**alerts[0], "kibana.alert.rule.name": "A|B", "process": {"name": "x=y", "pid": 1,
                                                                          "command_line": "a\\b = c\nd"}}
    line = format_alert(hostile)
    # split the header on unescaped pipes: exactly 8 parts, the name kept whole
    parts = re.split(r"(?<!\\)\|", line)
    assert len(parts) == 8 and parts[5] == "A\\|B"
    extension = parts[7]
    pairs = dict(re.findall(r"(\w+)=((?:[^=\\]|\\.)*?)(?= \w+=|$)", extension))
    assert pairs["dproc"] == "x\\=y"
    assert pairs["cs2"] == "a\\\\b \\= c\\nd"
    assert "\n" not in line


def test_cef_file_channel_appends_lines(nping, tmp_path):
    alerts, rule = nping
    path = tmp_path / "out" / "alerts.cef"
    notifiers = Notifiers.from_config({"cef": {"path": str(path)}})
    notifiers.notify(alerts, rule)
    notifiers.notify(alerts, rule)
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("CEF:0|vigil|vigil|") for line in lines)
    assert f"|{alerts[0]['kibana.alert.rule.rule_id']}|Nping Process Activity|5|" in lines[0]


@pytest.mark.parametrize("bad, key", [({"protocol": "smoke"}, "protocol"), ({"port": 70000}, "port"),
                                      ({"facility": "local9"}, "facility"), ({"sd_id": "a b"}, "sd_id")])
def test_syslog_config_errors_name_the_key(bad, key):
    from vigil.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        Notifiers.from_config({"syslog": bad})
    assert caught.value.location.key == f"outputs.syslog.{key}"


def test_tls_transport_with_ca_file(nping, self_signed):
    import socket
    import ssl
    import threading

    alerts, rule = nping
    cert, key = self_signed
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    received = []

    def serve():
        conn, _ = listener.accept()
        with server_tls.wrap_socket(conn, server_side=True) as tls:
            chunks = []
            while data := tls.recv(65536):
                chunks.append(data)
            received.append(b"".join(chunks))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        [result] = Notifiers.from_config({"syslog": {"protocol": "tls", "port": listener.getsockname()[1],
                                                     "ca_file": str(cert)}}).notify(alerts, rule)
        thread.join(5)
    finally:
        listener.close()
    assert result.status == "sent", result.error
    [message] = parse_octet_counted(received[0])
    assert RFC5424.match(message)["msg"].startswith(b"process event with process nping")
