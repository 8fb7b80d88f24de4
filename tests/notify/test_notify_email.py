"""The email channel against a real SMTP server (aiosmtpd) on 127.0.0.1: message parts, STARTTLS + login, errors."""

from __future__ import annotations

import email
import email.policy
import ssl

import pytest

from tests.notify.notify_servers import LOOPBACK, free_port
from vigil.errors import ConfigError
from vigil.notify import Notifiers

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd (test extra) is not installed")
from aiosmtpd.smtp import AuthResult  # noqa: E402


class Recorder:
    """An aiosmtpd handler: records messages; `data_replies` are answered to DATA in order, then 250."""

    def __init__(self, data_replies=(), refuse=()):
        self.messages = []
        self.data_replies = list(data_replies)
        self.refuse = set(refuse)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd API)
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_replies:
            return self.data_replies.pop(0)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session))
        return "250 OK"


@pytest.fixture
def smtp_server():
    started = []

    def start(handler, **params):
        controller = aiosmtpd_controller.Controller(handler, hostname=LOOPBACK, port=free_port(), **params)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


def _email_config(controller, **extra):
    return {"email": {"host": LOOPBACK, "port": controller.port, "from": "vigil@example.org",
                      "to": ["soc@example.org"], "retries": 2, "backoff": 0.01, **extra}}


def test_email_has_text_and_html_parts_with_guide_excerpt(smtp_server, nping):
    alerts, rule = nping
    handler = Recorder()
    controller = smtp_server(handler)
    [result] = Notifiers.from_config(_email_config(controller)).notify(alerts, rule)
    assert result.status == "sent", result.error
    [(sender, recipients, content, _)] = handler.messages
    assert (sender, recipients) == ("vigil@example.org", ["soc@example.org"])
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert message["Subject"] == "[vigil] medium: Nping Process Activity (1 alert on web-01)"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "nping --tcp -p 22,80,443 192.0.2.10" in text and "web-01" in text
    assert "Investigation guide (excerpt)" in text and "## Triage and analysis" in text
    assert "<h2>Nping Process Activity</h2>" in html and "Triage and analysis" in html
    assert len(text) < len(rule.note) + 2000  # an excerpt, not the whole guide


def test_email_temporary_failure_is_retried(smtp_server, nping):
    alerts, rule = nping
    handler = Recorder(data_replies=["451 4.3.0 try again later"])
    controller = smtp_server(handler)
    [result] = Notifiers.from_config(_email_config(controller)).notify(alerts, rule)
    assert (result.status, result.attempts) == ("sent", 2)
    assert len(handler.messages) == 1


def test_email_rejected_recipient_is_permanent_and_dead_lettered(smtp_server, nping, vigil_home):
    alerts, rule = nping
    controller = smtp_server(Recorder(refuse={"soc@example.org"}))
    [result] = Notifiers.from_config(_email_config(controller)).notify(alerts, rule)
    assert (result.status, result.attempts) == ("failed", 1)
    assert "soc@example.org (550)" in result.error
    assert (vigil_home / "notify-dead-letter.ndjson").exists()


def test_email_partial_refusal_still_delivers(smtp_server, nping):
    alerts, rule = nping
    handler = Recorder(refuse={"gone@example.org"})
    controller = smtp_server(handler)
    [result] = Notifiers.from_config(_email_config(controller, to=["soc@example.org", "gone@example.org"])).notify(
        alerts, rule)
    assert result.status == "sent" and "refused: gone@example.org" in result.detail
    assert handler.messages[0][1] == ["soc@example.org"]


def test_email_starttls_and_login(smtp_server, nping, self_signed):
    alerts, rule = nping
    cert, key = self_signed
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"pw", handled=False)

    handler = Recorder()
    controller = smtp_server(handler, tls_context=server_tls, require_starttls=True, authenticator=authenticator,
                             auth_require_tls=True)
    config = _email_config(controller, starttls=True, ca_file=str(cert), username="vigil", password="pw")
    [result] = Notifiers.from_config(config).notify(alerts, rule)
    assert result.status == "sent", result.error
    assert logins == [(b"vigil", b"pw")]
    assert handler.messages[0][3].ssl is not None  # the session ran over TLS

    config["email"].update(password="wrong", timeout=3)
    [result] = Notifiers.from_config(config).notify(alerts, rule)
    assert (result.status, result.attempts) == ("failed", 1), result.error
    assert "535" in result.error


def test_email_config_errors(monkeypatch):
    with pytest.raises(ConfigError) as caught:
        Notifiers.from_config({"email": {"from": "a@b", "to": []}})
    assert caught.value.location.key == "outputs.email.to"
    with pytest.raises(ConfigError) as caught:
        Notifiers.from_config({"email": {"from": "a@b", "to": "x@y", "subject": "{nope}"}})
    assert "unknown placeholder {nope}" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        Notifiers.from_config({"email": {"from": "a@b", "to": "x@y", "ssl": True, "starttls": True}})
    assert caught.value.location.key == "outputs.email.starttls"
    monkeypatch.delenv("VIGIL_TEST_SMTP_PW", raising=False)
    with pytest.raises(ConfigError) as caught:
        Notifiers.from_config({"email": {"from": "a@b", "to": "x@y", "password_env": "VIGIL_TEST_SMTP_PW"}})
    assert "VIGIL_TEST_SMTP_PW is not set" in str(caught.value)
