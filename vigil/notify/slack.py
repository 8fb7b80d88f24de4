"""Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): `text` plus Block Kit `blocks`.

The message is link-less on purpose: vigil runs without Kibana, so there is nothing to link to, and user-controlled
text (command lines, host names) is escaped so it cannot smuggle in `<http://...|links>` or mentions.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

import orjson

from vigil.notify.base import Batch, ChannelOptions, DeliveryResult, alert_facts
from vigil.notify.delivery import deliver
from vigil.notify.http import HttpPoster, read_url, redact
from vigil.notify.retry import RetryPolicy
from vigil.notify.section import Section

SEVERITY_EMOJI = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:",
                  "low": ":large_blue_circle:"}
# Block Kit limits: 50 blocks a message, 3000 characters a text field, 150 for a header.
MAX_ALERT_BLOCKS = 10


def escape(text: t.Any) -> str:
    """Slack's three control characters (`&`, `<`, `>`); with `<` escaped no link or mention can form."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: t.Any, limit: int = 300) -> str:
    value = escape(text)
    value = value if len(value) <= limit else value[: limit - 1] + "…"
    return "`" + value.replace("`", "'") + "`"


def message(batch: Batch) -> dict[str, t.Any]:
    """The Slack message for a batch: a header, one section per alert (at most 10), a context line."""
    rule = batch.rule
    count = len(batch.alerts)
    severity = rule.get("severity") or "unknown"
    title = f"{rule.get('name') or rule.get('rule_id')}: {count} alert{'s' if count != 1 else ''}"
    facts = [alert_facts(alert) for alert in batch.alerts]
    hosts = sorted({str(f["host"]) for f in facts if f["host"]})
    text = escape(f"[{severity}] {title}" + (f" on {', '.join(hosts[:5])}" if hosts else ""))
    blocks: list[dict[str, t.Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
    ]
    for fact in facts[:MAX_ALERT_BLOCKS]:
        sev = fact["severity"] or severity
        fields = [
            f"*Severity*\n{SEVERITY_EMOJI.get(sev, '')} {escape(sev)}"
            + (f" (risk {escape(fact['risk_score'])})" if fact["risk_score"] is not None else ""),
            f"*Rule*\n{escape(fact['rule'] or rule.get('name'))}",
            f"*Host*\n{escape(fact['host'] or '-')}",
            f"*User*\n{escape(fact['user'] or '-')}",
            f"*Process*\n{_code(fact['process'] or '-')}" + (f" pid {escape(fact['pid'])}" if fact["pid"] else ""),
            f"*Time*\n{escape(fact['time'] or '-')}",
        ]
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]})
        detail = []
        if fact["command_line"]:
            detail.append(f"*Command line* {_code(fact['command_line'], 1000)}")
        if fact["reason"]:
            detail.append(escape(fact["reason"]))
        if detail:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(detail)[:3000]}})
        blocks.append({"type": "divider"})
    context = [f"rule_id {escape(rule.get('rule_id'))}", f"sent {escape(batch.sent_at)} by vigil"]
    if count > MAX_ALERT_BLOCKS:
        context.insert(0, f"and {count - MAX_ALERT_BLOCKS} more alerts not shown")
    if batch.held_back:
        context.insert(0, f"{batch.held_back.count} more alerts held back by the throttle since "
                          f"{escape(batch.held_back.since)}")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    return {"text": text, "blocks": blocks}


@dataclass
class SlackChannel:
    options: ChannelOptions
    poster: HttpPoster
    policy: RetryPolicy
    dead_letter: t.Optional[Path]
    kind: str = "slack"

    @property
    def name(self) -> str:
        return self.options.name

    def close(self) -> None:
        self.poster.close()

    def send(self, batch: Batch) -> DeliveryResult:
        body = orjson.dumps(message(batch))
        return deliver(
            channel=self.name, kind=self.kind, target=redact(self.poster.url), alerts=len(batch.alerts),
            attempt=lambda: self.poster.post(body, {"Content-Type": "application/json"}),
            policy=self.policy, dead_letter=self.dead_letter, payload=batch.to_payload,
        )


def build(section: Section, options: ChannelOptions, dead_letter: t.Optional[Path]) -> SlackChannel:
    url = read_url(section)
    poster = HttpPoster(url, timeout=float(section.number("timeout", 10.0)), verify=section.tls_context(),
                        proxy=section.str("proxy", None))
    return SlackChannel(options, poster, section.retry_policy(), dead_letter)
