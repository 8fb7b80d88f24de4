"""What every notification channel shares: the batch it is handed, the result it returns, the fields it shows.

A `Batch` is one rule's alerts from one run (after throttling), plus the summary of alerts a throttle held back.
It mirrors the context Kibana gives a rule action (`{rule, results_link, alerts}`, kibana-engine.md §8). Channels
never raise for a delivery problem: `Channel.send` returns a `DeliveryResult` saying what happened.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass, field

from vigil import __version__
from vigil.alerts.reason import get_path
from vigil.alerts.times import js_iso

SEVERITIES = ("low", "medium", "high", "critical")


def severity_rank(severity: t.Any) -> int:
    """0..3 for low..critical; an unknown severity ranks as low, so a filter never hides it as "below" anything."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass(frozen=True)
class HeldBack:
    """Alerts a throttle held back since the last notification of this rule on this channel."""

    count: int
    since: str
    alert_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, t.Any]:
        return {"count": self.count, "since": self.since, "alert_ids": list(self.alert_ids)}


@dataclass(frozen=True)
class Batch:
    """What one channel delivers for one rule run.

    Attributes:
        rule: the rule summary (`rule_summary`): id, name, severity, risk score, tags, investigation guide.
        alerts: the Kibana alert documents (flat `kibana.alert.*` keys plus the event's ECS fields).
        sent_at: when the notification was produced (ISO 8601, UTC).
        held_back: what a throttle held back before this notification, or None.
    """

    rule: dict[str, t.Any]
    alerts: tuple[dict[str, t.Any], ...]
    sent_at: str
    held_back: t.Optional[HeldBack] = None

    def to_payload(self) -> dict[str, t.Any]:
        """The JSON document a webhook receives (and the dead-letter file keeps)."""
        return {
            "source": "vigil",
            "vigil_version": __version__,
            "sent_at": self.sent_at,
            "rule": self.rule,
            "alerts_count": len(self.alerts),
            "alerts": list(self.alerts),
            "held_back": self.held_back.to_dict() if self.held_back else None,
        }


@dataclass
class DeliveryResult:
    """The outcome of one channel for one rule run.

    status is one of: `sent` (delivered), `throttled` (held back by notify_when/throttle), `skipped` (nothing to
    send after filters), `failed` (every attempt failed; the payload went to the dead-letter file).
    """

    channel: str
    kind: str
    status: str
    alerts: int = 0
    attempts: int = 0
    error: t.Optional[str] = None
    dead_letter: t.Optional[str] = None
    detail: t.Optional[str] = None
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, t.Any]:
        return {
            "channel": self.channel, "kind": self.kind, "status": self.status, "alerts": self.alerts,
            "attempts": self.attempts, "error": self.error, "dead_letter": self.dead_letter, "detail": self.detail,
            "duration_ms": self.duration_ms,
        }


class Channel(t.Protocol):
    """One configured output. `name` is unique across the config; `kind` is the `[[outputs.<kind>]]` table."""

    name: str
    kind: str

    def send(self, batch: Batch) -> DeliveryResult: ...


@dataclass(frozen=True)
class ChannelOptions:
    """The keys every `[[outputs.<kind>]]` table takes, besides its own."""

    name: str
    enabled: bool = True
    notify_when: t.Optional[str] = None
    throttle: t.Optional[str] = None
    min_severity: str = "low"
    rules: tuple[str, ...] = field(default=())

    def wants(self, alert: t.Mapping[str, t.Any]) -> bool:
        """Whether this channel takes the alert (its severity and rule filters)."""
        if severity_rank(get_path(alert, "kibana.alert.severity")) < severity_rank(self.min_severity):
            return False
        if self.rules:
            rule_id = get_path(alert, "kibana.alert.rule.rule_id")
            name = get_path(alert, "kibana.alert.rule.name")
            return rule_id in self.rules or name in self.rules
        return True


# ------------------------------------------------------------------------------------ what a person wants to see
def rule_summary(rule: t.Any, guide_chars: int = 1500) -> dict[str, t.Any]:
    """The rule fields every channel shows, from a `vigil.rules.Rule` (or anything with the same attributes)."""
    note = getattr(rule, "note", None) or ""
    return {
        "rule_id": getattr(rule, "rule_id", None),
        "name": getattr(rule, "name", None),
        "severity": getattr(rule, "severity", None),
        "risk_score": getattr(rule, "risk_score", None),
        "description": getattr(rule, "description", None),
        "tags": list(getattr(rule, "tags", None) or ()),
        "references": list(getattr(rule, "references", None) or ()),
        "investigation_guide": guide_excerpt(note, guide_chars),
    }


def guide_excerpt(note: str, limit: int = 1500) -> str:
    """The start of the investigation guide, cut at a paragraph (or line) boundary so Markdown stays readable."""
    note = note.strip()
    if len(note) <= limit:
        return note
    head = note[:limit]
    cut = head.rfind("\n\n")
    if cut < limit // 2:
        cut = head.rfind("\n")
    if cut < limit // 2:
        cut = limit
    return head[:cut].rstrip() + "\n…"


def _first(value: t.Any) -> t.Any:
    return value[0] if isinstance(value, list) and value else value


def alert_facts(alert: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The few fields a notification shows about one alert; missing ones are None."""
    return {
        "id": get_path(alert, "kibana.alert.uuid"),
        "rule": get_path(alert, "kibana.alert.rule.name"),
        "rule_id": get_path(alert, "kibana.alert.rule.rule_id"),
        "severity": get_path(alert, "kibana.alert.severity"),
        "risk_score": get_path(alert, "kibana.alert.risk_score"),
        "reason": get_path(alert, "kibana.alert.reason"),
        "time": get_path(alert, "kibana.alert.original_time") or get_path(alert, "@timestamp"),
        "created": get_path(alert, "@timestamp"),
        "host": _first(get_path(alert, "host.name")),
        "host_ip": _first(get_path(alert, "host.ip")),
        "user": _first(get_path(alert, "user.name")),
        "process": get_path(alert, "process.name"),
        "pid": get_path(alert, "process.pid"),
        "command_line": get_path(alert, "process.command_line"),
        "executable": get_path(alert, "process.executable"),
        "parent": get_path(alert, "process.parent.name"),
        "action": _first(get_path(alert, "event.action")),
    }


def now_iso(moment: dt.datetime) -> str:
    return js_iso(moment)
