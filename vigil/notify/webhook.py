"""Generic webhook: the batch as JSON, signed with HMAC-SHA256 so the receiver can trust it.

Headers on every request:

    Content-Type: application/json
    X-Vigil-Timestamp: <unix seconds when signed>
    X-Vigil-Delivery: <uuid, the same across retries of one notification: receivers can de-duplicate>
    X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, body)>      (only when a secret is configured)

The body also carries `sent_at`, covered by the signature, so a receiver can reject old (replayed) deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from vigil.notify.base import Batch, ChannelOptions, DeliveryResult
from vigil.notify.delivery import deliver
from vigil.notify.http import HttpPoster, read_url, redact
from vigil.notify.retry import RetryPolicy
from vigil.notify.section import Section

SIGNATURE_HEADER = "X-Vigil-Signature"
TIMESTAMP_HEADER = "X-Vigil-Timestamp"
DELIVERY_HEADER = "X-Vigil-Delivery"


def sign(secret: str, body: bytes) -> str:
    """The `X-Vigil-Signature` value for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (constant-time compare); also documented in docs/notify.md."""
    return hmac.compare_digest(sign(secret, body), signature)


@dataclass
class WebhookChannel:
    options: ChannelOptions
    poster: HttpPoster
    secret: t.Optional[str]
    policy: RetryPolicy
    dead_letter: t.Optional[Path]
    kind: str = "webhook"

    @property
    def name(self) -> str:
        return self.options.name

    def close(self) -> None:
        self.poster.close()

    def send(self, batch: Batch) -> DeliveryResult:
        payload = batch.to_payload()
        body = orjson.dumps(payload, default=str)
        delivery_id = str(uuid.uuid4())

        def attempt() -> str:
            headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(int(time.time())),
                       DELIVERY_HEADER: delivery_id, "User-Agent": "vigil-notify"}
            if self.secret:
                headers[SIGNATURE_HEADER] = sign(self.secret, body)
            return self.poster.post(body, headers)

        return deliver(channel=self.name, kind=self.kind, target=redact(self.poster.url), alerts=len(batch.alerts),
                       attempt=attempt, policy=self.policy, dead_letter=self.dead_letter, payload=lambda: payload)


def build(section: Section, options: ChannelOptions, dead_letter: t.Optional[Path]) -> WebhookChannel:
    url = read_url(section)
    poster = HttpPoster(
        url,
        timeout=float(section.number("timeout", 10.0)),
        verify=section.tls_context(),
        proxy=section.str("proxy", None),
        headers=section.table("headers", {}),
    )
    return WebhookChannel(options, poster, section.secret("secret"), section.retry_policy(), dead_letter)
