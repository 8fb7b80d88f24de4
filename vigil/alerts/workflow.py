"""The alert triage workflow: open → acknowledged → closed, and reopen; who, when and why for every change.

Kibana keeps the status in `kibana.alert.workflow_status` and, since 8.x, who changed it and when in
`kibana.alert.workflow_user` and `kibana.alert.workflow_status_updated_at`. vigil updates the same fields in the
stored document (so an export carries them) and also keeps the full history (Kibana has none) with a reason.
`workflow_user` is Kibana's user-profile id; vigil has no user profiles and writes the OS user name instead.
"""

from __future__ import annotations

import datetime as dt
import getpass
import typing as t

import orjson

from vigil.alerts.store import AlertStore, StatusChange
from vigil.alerts.times import js_iso, utc_now
from vigil.errors import Location, VigilError

OPEN, ACKNOWLEDGED, CLOSED = "open", "acknowledged", "closed"
STATUSES = (OPEN, ACKNOWLEDGED, CLOSED)

# target status → the statuses it may be reached from
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    ACKNOWLEDGED: (OPEN,),
    CLOSED: (OPEN, ACKNOWLEDGED),
    OPEN: (ACKNOWLEDGED, CLOSED),  # reopen
}

_VERB = {ACKNOWLEDGED: "acknowledge", CLOSED: "close", OPEN: "reopen"}


class WorkflowError(VigilError):
    """A status change that the workflow does not allow (e.g. acknowledging a closed alert)."""


def current_user() -> str:
    """The OS user, recorded as who made a change when no one is named."""
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers without passwd entries): still record something
        return "unknown"


def change_status(
    store: AlertStore,
    alert_ids: t.Sequence[str],
    to_status: str,
    *,
    user: t.Optional[str] = None,
    reason: t.Optional[str] = None,
    at: t.Optional[dt.datetime] = None,
) -> list[StatusChange]:
    """Move each alert (ids or unique prefixes) to `to_status`, all in one transaction; return the changes made.

    Alerts already in `to_status` are left alone (no change recorded). A transition the workflow does not allow
    raises `WorkflowError` and changes nothing.
    """
    if to_status not in STATUSES:
        raise WorkflowError(f"unknown status {to_status!r}", hint=f"one of: {', '.join(STATUSES)}")
    who = user or current_user()
    when = js_iso(at or utc_now())
    full_ids = [store.resolve_id(i) for i in alert_ids]
    changes: list[StatusChange] = []
    with store.transaction() as conn:
        for alert_id in dict.fromkeys(full_ids):
            row = conn.execute("SELECT status, document FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            current = row[0]
            if current == to_status:
                continue
            if current not in ALLOWED_FROM[to_status]:
                raise WorkflowError(
                    f"cannot {_VERB[to_status]} an alert that is {current}",
                    Location(key=alert_id),
                    hint="reopen it first" if current == CLOSED else None,
                )
            doc = orjson.loads(row[1])
            doc["kibana.alert.workflow_status"] = to_status
            doc["kibana.alert.workflow_user"] = who
            doc["kibana.alert.workflow_status_updated_at"] = when
            change = StatusChange(alert_id, when, who, current, to_status, reason)
            store.record_status_change(conn, alert_id, doc, change)
            changes.append(change)
    return changes


def acknowledge(store: AlertStore, alert_ids: t.Sequence[str], **kw: t.Any) -> list[StatusChange]:
    return change_status(store, alert_ids, ACKNOWLEDGED, **kw)


def close(store: AlertStore, alert_ids: t.Sequence[str], **kw: t.Any) -> list[StatusChange]:
    return change_status(store, alert_ids, CLOSED, **kw)


def reopen(store: AlertStore, alert_ids: t.Sequence[str], **kw: t.Any) -> list[StatusChange]:
    return change_status(store, alert_ids, OPEN, **kw)


def add_note(store: AlertStore, alert_id: str, text: str, *, user: t.Optional[str] = None,
             at: t.Optional[dt.datetime] = None):
    """Attach a note to an alert (id or unique prefix)."""
    if not text.strip():
        raise WorkflowError("a note needs some text")
    return store.add_note(store.resolve_id(alert_id), text, user or current_user(), at)
