"""Notifications: deliver new alerts to webhooks, Slack, syslog/CEF, email and NDJSON files, throttled per rule.

    from vigil.notify import Notifiers
    notifiers = Notifiers.from_config(config["outputs"], source="vigil.toml")   # ConfigError on a bad key
    results = notifiers.notify(new_alert_docs, rule)                           # never raises for delivery

Every channel is one module with `build(section, options, dead_letter)`; `notifiers.KINDS` lists them.
"""

from __future__ import annotations

from vigil.notify.base import Batch, DeliveryResult, HeldBack
from vigil.notify.notifiers import KINDS, Notifiers
from vigil.notify.webhook import sign as sign_webhook
from vigil.notify.webhook import verify as verify_webhook

__all__ = ["KINDS", "Batch", "DeliveryResult", "HeldBack", "Notifiers", "sign_webhook", "verify_webhook"]
