"""Retries with exponential backoff, and the dead-letter file where a notification goes when every attempt failed.

A channel's `attempt()` raises `TransientFailure` (worth retrying: connection refused, timeout, HTTP 5xx/429, SMTP
4xx) or `PermanentFailure` (retrying cannot help: HTTP 4xx, SMTP 5xx, a rejected recipient). Nothing is lost: the
payload of a failed delivery is appended to the dead-letter NDJSON file with what failed and why, so it can be
replayed by hand.
"""

from __future__ import annotations

import random
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

import orjson

from vigil.notify.appendfile import append_lines


class DeliveryFailure(Exception):
    """A delivery attempt failed; the message says why in one line."""


class TransientFailure(DeliveryFailure):
    """Worth another attempt. `retry_after` (seconds) is the server's own hint, when it gave one."""

    def __init__(self, message: str, retry_after: t.Optional[float] = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(DeliveryFailure):
    """Another attempt would fail the same way."""


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` extra attempts after the first; the n-th wait is `backoff * factor**(n-1)`, capped at `max_backoff`.

    A little jitter (±10 %) keeps many vigil hosts from retrying in lock-step against one receiver.
    """

    retries: int = 3
    backoff: float = 1.0
    factor: float = 2.0
    max_backoff: float = 60.0
    jitter: float = 0.1

    def delay(self, attempt: int, retry_after: t.Optional[float] = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        base = min(self.max_backoff, self.backoff * self.factor ** (attempt - 1))
        if retry_after is not None:
            base = min(self.max_backoff, max(base, retry_after))
        return max(0.0, base * (1 + random.uniform(-self.jitter, self.jitter)))


@dataclass
class Outcome:
    attempts: int
    error: t.Optional[str] = None
    detail: t.Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_with_retries(
    attempt: t.Callable[[], t.Optional[str]],
    policy: RetryPolicy,
    *,
    sleep: t.Callable[[float], None] = time.sleep,
) -> Outcome:
    """Call `attempt` until it returns (its return value is a short detail such as "HTTP 200") or gives up."""
    tries = 0
    while True:
        tries += 1
        try:
            return Outcome(tries, detail=attempt())
        except PermanentFailure as failure:
            return Outcome(tries, error=str(failure))
        except TransientFailure as failure:
            if tries > policy.retries:
                return Outcome(tries, error=str(failure))
            sleep(policy.delay(tries, failure.retry_after))


def write_dead_letter(
    path: t.Union[str, Path],
    *,
    channel: str,
    kind: str,
    target: str,
    outcome: Outcome,
    failed_at: str,
    payload: t.Any,
) -> str:
    """Append one dead-letter record (what failed, why, the payload) and return the file path."""
    record = {
        "failed_at": failed_at,
        "channel": channel,
        "kind": kind,
        "target": target,
        "attempts": outcome.attempts,
        "error": outcome.error,
        "payload": payload,
    }
    append_lines(path, [orjson.dumps(record, default=str)])
    return str(path)
