"""A sample alert for `vigil notify test`: the built-in Nping rule firing on a made-up `nping` exec event.

The event is marked with the ECS `tags: ["vigil-notify-test"]` so receivers can tell a test from a real alert.
"""

from __future__ import annotations

import socket
import typing as t

from vigil.alerts import AlertContext, build_alerts
from vigil.alerts.times import js_iso, utc_now
from vigil.sources.base import Record

NPING_RULE_ID = "0d69150b-96f8-467c-a86d-a67a3378ce77"
TEST_TAG = "vigil-notify-test"


def nping_rule() -> t.Any:
    from vigil.rules import builtin_rules

    rules = builtin_rules()
    return next((r for r in rules if r.rule_id == NPING_RULE_ID), rules[0])


def sample_event(host: t.Optional[str] = None) -> dict[str, t.Any]:
    host = host or socket.gethostname()
    return {
        "@timestamp": js_iso(utc_now()),
        "tags": [TEST_TAG],
        "agent": {"type": "vigil"},
        "event": {"action": "exec", "category": ["process"], "type": ["start"], "kind": "event",
                  "dataset": "endpoint.events.process", "module": "endpoint"},
        "host": {"name": host, "hostname": host, "os": {"type": "linux", "family": "debian", "name": "Linux"}},
        "process": {"pid": 4207, "name": "nping", "executable": "/usr/bin/nping",
                    "args": ["nping", "--tcp", "-p", "22,80,443", "192.0.2.10"], "args_count": 5,
                    "command_line": "nping --tcp -p 22,80,443 192.0.2.10",
                    "parent": {"pid": 4206, "name": "bash", "executable": "/usr/bin/bash"}},
        "user": {"name": "ana", "id": "1001"},
    }


def sample_alerts(rule: t.Any = None, host: t.Optional[str] = None) -> tuple[list[dict[str, t.Any]], t.Any]:
    """`(alerts, rule)`: one Kibana alert document for the sample event, and the rule that made it."""
    rule = rule or nping_rule()
    record = Record(doc=sample_event(host), index="logs-endpoint.events.process-default", source="sample")
    return build_alerts([record], rule, AlertContext()), rule
