"""One delivery: attempts with backoff, then the dead-letter file, always ending in a DeliveryResult (never raising)."""

from __future__ import annotations

import time
import typing as t
from pathlib import Path

from vigil.alerts.times import js_iso, utc_now
from vigil.notify.base import DeliveryResult
from vigil.notify.retry import Outcome, RetryPolicy, run_with_retries, write_dead_letter


def deliver(
    *,
    channel: str,
    kind: str,
    target: str,
    alerts: int,
    attempt: t.Callable[[], t.Optional[str]],
    policy: RetryPolicy,
    dead_letter: t.Optional[Path],
    payload: t.Callable[[], t.Any],
) -> DeliveryResult:
    """Run `attempt` under `policy`; when it gives up, append `payload()` to `dead_letter` and report both."""
    started = time.monotonic()
    try:
        outcome = run_with_retries(attempt, policy)
    except Exception as error:  # a bug in a channel must not stop the other channels or the detection loop
        outcome = Outcome(1, error=f"internal error: {type(error).__name__}: {error}")
    result = DeliveryResult(channel=channel, kind=kind, status="sent" if outcome.ok else "failed", alerts=alerts,
                            attempts=outcome.attempts, error=outcome.error, detail=outcome.detail)
    if not outcome.ok and dead_letter is not None:
        try:
            result.dead_letter = write_dead_letter(dead_letter, channel=channel, kind=kind, target=target,
                                                   outcome=outcome, failed_at=js_iso(utc_now()), payload=payload())
        except OSError as error:
            result.error = f"{result.error}; and the dead-letter file {dead_letter} failed too: {error}"
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result
