"""Triage workflow: transitions, history, the stored document's workflow fields, notes; the _bulk export."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from tests.alerts.alert_fixtures import fixed_context
from tests.alerts.store_worker import fake_alert
from vigil.alerts import build_event_alert, workflow
from vigil.alerts.export import write_bulk
from vigil.alerts.store import AlertStore

T1 = dt.datetime(2026, 9, 1, 13, 0, tzinfo=dt.timezone.utc)
T2 = dt.datetime(2026, 9, 1, 14, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "a.db") as s:
        s.insert_alerts([fake_alert(1), fake_alert(2)])
        yield s


def test_ack_close_reopen_with_history(store):
    a = f"{1:064x}"
    [c1] = workflow.acknowledge(store, [a], user="ana", reason="looking", at=T1)
    assert (c1.from_status, c1.to_status, c1.user, c1.reason) == ("open", "acknowledged", "ana", "looking")
    workflow.close(store, [a], user="ana", reason="admin testing nping", at=T2)
    workflow.reopen(store, [a], user="bob", at=T2)
    history = store.history(a)
    assert [(h.from_status, h.to_status) for h in history] == [
        ("open", "acknowledged"), ("acknowledged", "closed"), ("closed", "open"),
    ]
    assert history[1].changed_at == "2026-09-01T14:00:00.000Z" and history[2].user == "bob"
    stored = store.get_alert(a)
    assert stored.status == "open"
    assert stored.document["kibana.alert.workflow_status"] == "open"
    assert stored.document["kibana.alert.workflow_user"] == "bob"
    assert stored.document["kibana.alert.workflow_status_updated_at"] == "2026-09-01T14:00:00.000Z"
    assert store.get_alert(f"{2:064x}").status == "open"  # the other alert untouched


def test_default_user_is_the_os_user(store):
    [change] = workflow.close(store, [f"{2:064x}"])
    assert change.user == workflow.current_user() and change.user


def test_forbidden_transition_changes_nothing(store):
    a, b = f"{1:064x}", f"{2:064x}"
    workflow.close(store, [a])
    with pytest.raises(workflow.WorkflowError, match="cannot acknowledge an alert that is closed"):
        workflow.acknowledge(store, [b, a])
    assert store.get_alert(b).status == "open"  # same transaction: b not acknowledged either
    assert workflow.close(store, [a]) == []  # already closed: no change, no history
    assert len(store.history(a)) == 1


def test_notes(store):
    a = f"{1:064x}"
    workflow.add_note(store, a, "talked to the admin", user="ana", at=T1)
    workflow.add_note(store, a, "pentest ticket 42", user="bob", at=T2)
    assert [(n.user, n.text) for n in store.notes(a)] == [("ana", "talked to the admin"), ("bob", "pentest ticket 42")]
    with pytest.raises(workflow.WorkflowError):
        workflow.add_note(store, a, "   ")


def test_bulk_export_is_create_actions_then_documents(tmp_path, rule, event):
    alert = build_event_alert(event, rule, fixed_context())
    with AlertStore(tmp_path / "a.db") as store:
        store.insert_alerts([alert, fake_alert(5)])
        out = io.BytesIO()
        assert write_bulk(store.iter_documents(), out) == 2
    lines = out.getvalue().decode().splitlines()
    assert len(lines) == 4 and out.getvalue().endswith(b"\n")
    actions = [json.loads(line) for line in lines[0::2]]
    docs = [json.loads(line) for line in lines[1::2]]
    assert [a["create"]["_id"] for a in actions] == [d["kibana.alert.uuid"] for d in docs]
    assert {a["create"]["_index"] for a in actions} == {".alerts-security.alerts-default"}
    assert alert in docs
