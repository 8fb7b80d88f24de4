"""Email over SMTP (smtplib): a plain-text and an HTML part, with the rule's investigation guide excerpt.

Transport security: `ssl = true` for implicit TLS (port 465), `starttls = true` to upgrade a plain connection
(port 587); STARTTLS is then required, never silently skipped. SMTP 4xx replies and connection problems are retried,
5xx replies (rejected sender or recipients, failed login) are not.
"""

from __future__ import annotations

import html
import smtplib
import ssl
import string
import typing as t
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from vigil.notify.base import Batch, ChannelOptions, DeliveryResult, alert_facts
from vigil.notify.delivery import deliver
from vigil.notify.retry import PermanentFailure, RetryPolicy, TransientFailure
from vigil.notify.section import Section

DEFAULT_SUBJECT = "[vigil] {severity}: {rule} ({count} alert{plural}{on_hosts})"
SUBJECT_FIELDS = ("severity", "rule", "rule_id", "count", "plural", "hosts", "on_hosts", "risk_score")
MAX_ALERTS_IN_BODY = 25
_ROWS = (("reason", "Reason"), ("time", "Event time"), ("host", "Host"), ("user", "User"),
         ("process", "Process"), ("pid", "PID"), ("command_line", "Command line"), ("parent", "Parent process"),
         ("id", "Alert id"))


def subject_values(batch: Batch) -> dict[str, t.Any]:
    hosts = sorted({str(f["host"]) for f in map(alert_facts, batch.alerts) if f["host"]})
    count = len(batch.alerts)
    return {
        "severity": batch.rule.get("severity") or "unknown", "rule": batch.rule.get("name") or "",
        "rule_id": batch.rule.get("rule_id") or "", "risk_score": batch.rule.get("risk_score"),
        "count": count, "plural": "" if count == 1 else "s", "hosts": ", ".join(hosts),
        "on_hosts": f" on {', '.join(hosts[:3])}{' …' if len(hosts) > 3 else ''}" if hosts else "",
    }


def render_text(batch: Batch) -> str:
    rule = batch.rule
    lines = [f"{rule.get('name')}: {len(batch.alerts)} alert(s), severity {rule.get('severity')}, "
             f"risk score {rule.get('risk_score')}", ""]
    if batch.held_back:
        lines += [f"{batch.held_back.count} earlier alert(s) were held back by the throttle since "
                  f"{batch.held_back.since}.", ""]
    shown = batch.alerts[:MAX_ALERTS_IN_BODY]
    for number, alert in enumerate(shown, 1):
        fact = alert_facts(alert)
        lines.append(f"Alert {number} of {len(batch.alerts)}")
        lines += [f"  {label + ':':<16}{fact[key]}" for key, label in _ROWS if fact[key] is not None]
        lines.append("")
    if len(batch.alerts) > len(shown):
        lines += [f"… and {len(batch.alerts) - len(shown)} more alerts (see the alert store: vigil alerts list).", ""]
    guide = rule.get("investigation_guide")
    if guide:
        lines += ["Investigation guide (excerpt)", "-" * 29, guide, ""]
    lines.append(f"rule_id {rule.get('rule_id')} · sent {batch.sent_at} by vigil")
    return "\n".join(lines) + "\n"


def render_html(batch: Batch) -> str:
    e = html.escape
    rule = batch.rule
    parts = [
        "<html><body style=\"font-family:sans-serif\">",
        f"<h2>{e(str(rule.get('name')))}</h2>",
        f"<p>{len(batch.alerts)} alert(s), severity <b>{e(str(rule.get('severity')))}</b>, "
        f"risk score {e(str(rule.get('risk_score')))}</p>",
    ]
    if batch.held_back:
        parts.append(f"<p>{batch.held_back.count} earlier alert(s) were held back by the throttle since "
                     f"{e(batch.held_back.since)}.</p>")
    shown = batch.alerts[:MAX_ALERTS_IN_BODY]
    for number, alert in enumerate(shown, 1):
        fact = alert_facts(alert)
        rows = "".join(f"<tr><th align=\"left\">{e(label)}</th><td><code>{e(str(fact[key]))}</code></td></tr>"
                       for key, label in _ROWS if fact[key] is not None)
        parts.append(f"<h3>Alert {number} of {len(batch.alerts)}</h3><table>{rows}</table>")
    if len(batch.alerts) > len(shown):
        parts.append(f"<p>… and {len(batch.alerts) - len(shown)} more alerts.</p>")
    guide = rule.get("investigation_guide")
    if guide:
        parts.append(f"<h3>Investigation guide (excerpt)</h3><pre style=\"white-space:pre-wrap\">{e(guide)}</pre>")
    parts.append(f"<p style=\"color:#777\">rule_id {e(str(rule.get('rule_id')))} · sent {e(batch.sent_at)} "
                 "by vigil</p></body></html>")
    return "\n".join(parts)


@dataclass
class EmailChannel:
    options: ChannelOptions
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    subject: str
    policy: RetryPolicy
    dead_letter: t.Optional[Path]
    security: str = "none"  # none | starttls | ssl
    username: t.Optional[str] = None
    password: t.Optional[str] = None
    tls_context: t.Optional[ssl.SSLContext] = None
    timeout: float = 30.0
    kind: str = "email"

    @property
    def name(self) -> str:
        return self.options.name

    def build_message(self, batch: Batch) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = self.subject.format_map(subject_values(batch))
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="vigil.local")
        message.set_content(render_text(batch))
        message.add_alternative(render_html(batch), subtype="html")
        return message

    def send(self, batch: Batch) -> DeliveryResult:
        message = self.build_message(batch)
        return deliver(channel=self.name, kind=self.kind, target=f"smtp://{self.host}:{self.port}",
                       alerts=len(batch.alerts), attempt=lambda: self._attempt(message), policy=self.policy,
                       dead_letter=self.dead_letter, payload=batch.to_payload)

    def _attempt(self, message: EmailMessage) -> str:
        try:
            if self.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                        context=self.tls_context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=self.tls_context)
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(message, from_addr=self.sender, to_addrs=list(self.recipients))
        except smtplib.SMTPNotSupportedError as error:  # e.g. the server does not offer STARTTLS
            raise PermanentFailure(f"SMTP: {error}") from None
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            text = "all recipients refused: " + ", ".join(f"{r} ({c})" for r, (c, _) in error.recipients.items())
            if all(400 <= code < 500 for code in codes):
                raise TransientFailure(text) from None
            raise PermanentFailure(text) from None
        except smtplib.SMTPResponseException as error:
            reply = error.smtp_error
            if isinstance(reply, bytes):
                reply = reply.decode("utf-8", "replace")
            text = f"SMTP {error.smtp_code} {reply}".strip()
            if 400 <= error.smtp_code < 500:
                raise TransientFailure(text) from None
            raise PermanentFailure(text) from None
        except (smtplib.SMTPException, OSError) as error:  # disconnected, refused, timeout, TLS handshake
            raise TransientFailure(f"SMTP {self.host}:{self.port}: {type(error).__name__}: {error}") from None
        if refused:
            return f"accepted by {len(self.recipients) - len(refused)} of {len(self.recipients)} recipients " \
                   f"(refused: {', '.join(refused)})"
        return f"accepted for {len(self.recipients)} recipient(s)"


def build(section: Section, options: ChannelOptions, dead_letter: t.Optional[Path]) -> EmailChannel:
    use_ssl = section.bool("ssl", False)
    starttls = section.bool("starttls", False)
    if use_ssl and starttls:
        raise section.error("set either ssl (implicit TLS, port 465) or starttls (port 587), not both", "starttls")
    security = "ssl" if use_ssl else "starttls" if starttls else "none"
    port = section.number("port", {"ssl": 465, "starttls": 587, "none": 25}[security], minimum=1, integer=True)
    recipients = section.strings("to")
    if not recipients:
        raise section.error("needs at least one address", "to")
    subject = section.str("subject", DEFAULT_SUBJECT)
    _check_template(section, subject)
    username = section.str("username", None)
    password = section.secret("password")
    tls_context = section.tls_context()
    return EmailChannel(
        options, host=section.str("host", "127.0.0.1"), port=port, sender=section.str("from"),
        recipients=recipients, subject=subject, policy=section.retry_policy(), dead_letter=dead_letter,
        security=security, username=username, password=password,
        tls_context=tls_context if security != "none" else None,
        timeout=float(section.number("timeout", 30.0)),
    )


def _check_template(section: Section, subject: str) -> None:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(subject)]
    except ValueError as error:  # an unbalanced brace
        raise section.error(f"is not a valid template: {error}", "subject",
                            hint="write a literal brace as {{ or }}") from None
    for name in fields:
        if name is not None and name not in SUBJECT_FIELDS:
            raise section.error(f"unknown placeholder {{{name}}}", "subject",
                                hint=f"placeholders: {', '.join('{' + f + '}' for f in SUBJECT_FIELDS)}")
