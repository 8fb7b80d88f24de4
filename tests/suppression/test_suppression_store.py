"""The two store methods suppression needs: field-level updates in one transaction, and the instance lookup."""

from __future__ import annotations

import pytest

from vigil.alerts import AlertStore
from vigil.alerts.workflow import close
from vigil.errors import StoreError


def alert(n: int, instance: str, start: str, rule_id: str = "r1") -> dict:
    return {"kibana.alert.uuid": f"{n:064x}", "kibana.alert.rule.rule_id": rule_id, "kibana.alert.rule.name": "R",
            "@timestamp": start, "kibana.alert.start": start, "kibana.alert.workflow_status": "open",
            "kibana.alert.instance.id": instance, "kibana.alert.suppression.docs_count": 0,
            "host": {"name": "web-01"}}


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "a.db") as s:
        yield s


def test_updates_change_only_the_named_fields_and_keep_a_triage_change(store):
    store.insert_alerts([alert(1, "i1", "2026-01-01T00:00:00.000Z")])
    close(store, [f"{1:064x}"], user="tester")  # closed by someone else before the update lands
    new = store.write_alerts([alert(2, "i2", "2026-01-01T00:05:00.000Z")],
                             {f"{1:064x}": {"kibana.alert.suppression.docs_count": 7,
                                            "kibana.alert.suppression.end": "2026-01-01T00:04:00.000Z"}})
    assert new == [f"{2:064x}"]
    doc = store.get_alert(f"{1:064x}").document
    assert doc["kibana.alert.suppression.docs_count"] == 7
    assert doc["kibana.alert.suppression.end"] == "2026-01-01T00:04:00.000Z"
    assert doc["kibana.alert.workflow_status"] == "closed" and doc["host"] == {"name": "web-01"}
    assert store.get_alert(f"{1:064x}").status == "closed"


def test_an_update_of_an_unknown_alert_rolls_the_batch_back(store):
    with pytest.raises(StoreError):
        store.write_alerts([alert(3, "i3", "2026-01-01T00:00:00.000Z")],
                           {"f" * 64: {"kibana.alert.suppression.docs_count": 1}})
    assert store.count() == 0


def test_latest_open_alert_per_instance_within_the_window(store):
    store.insert_alerts([
        alert(1, "i1", "2026-01-01T00:00:00.000Z"), alert(2, "i1", "2026-01-01T00:10:00.000Z"),
        alert(3, "i2", "2026-01-01T00:01:00.000Z"), alert(4, "i3", "2026-01-01T00:20:00.000Z"),
        alert(5, "i1", "2026-01-01T00:30:00.000Z", rule_id="other"),
    ])
    close(store, [f"{4:064x}"], user="tester")
    found = store.latest_by_instance("r1", ["i1", "i2", "i3", "nope"])
    assert {k: v["kibana.alert.uuid"][-1] for k, v in found.items()} == {"i1": "2", "i2": "3"}
    found = store.latest_by_instance("r1", ["i1", "i2"], since="2026-01-01T00:05:00.000Z")
    assert list(found) == ["i1"]
    assert list(store.latest_by_instance("r1", ["i3"], include_closed=True)) == ["i3"]
