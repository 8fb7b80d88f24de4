"""Alerts: Kibana alert documents (alerts-as-data), deterministic ids, the SQLite store, the triage workflow.

    from vigil.alerts import AlertContext, build_alerts, AlertStore
    docs = build_alerts([record], rule, AlertContext())      # one event, or a sequence's events
    with AlertStore() as store:
        new_ids = store.insert_alerts(docs)                  # atomic, idempotent
"""

from __future__ import annotations

from vigil.alerts.document import (
    KIBANA_VERSION,
    AlertContext,
    alerts_index,
    build_alerts,
    build_event_alert,
    build_sequence_alerts,
)
from vigil.alerts.export import bulk_lines, write_bulk
from vigil.alerts.reason import build_reason
from vigil.alerts.store import AlertStore, Execution, Note, StatusChange, StoredAlert

__all__ = [
    "KIBANA_VERSION",
    "AlertContext",
    "AlertStore",
    "Execution",
    "Note",
    "StatusChange",
    "StoredAlert",
    "alerts_index",
    "build_alerts",
    "build_event_alert",
    "build_reason",
    "build_sequence_alerts",
    "bulk_lines",
    "write_bulk",
]
