"""Scheduler state kept in the alert store, so a restart computes gaps and catch-up from the real last start.

The last start of a rule is written only after its execution has finished and its alerts are committed: a run
killed half-way leaves the previous start in place, so the next run covers that time again (alert ids are
deterministic, so covering it twice never duplicates an alert).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from vigil.alerts.times import js_iso, parse_time

_LAST_START = "runs.last_started_at:"


def last_started_at(store: t.Any, rule_id: str) -> t.Optional[dt.datetime]:
    return parse_time(store.get_state(_LAST_START + rule_id))


def set_last_started_at(store: t.Any, rule_id: str, started_at: dt.datetime) -> None:
    store.set_state(_LAST_START + rule_id, js_iso(started_at))
