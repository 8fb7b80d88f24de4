"""The SQLite alert store: dedupe, filters, migrations, concurrency across processes, crash safety."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.alerts.alert_fixtures import fixed_context, nping_event
from tests.alerts.store_worker import fake_alert
from vigil.alerts import AlertContext, build_event_alert, schema
from vigil.alerts.store import AlertStore
from vigil.errors import StoreError

WORKER = Path(__file__).parent / "store_worker.py"


def _worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *args], stderr=subprocess.PIPE)


def test_store_file_is_wal_and_versioned(tmp_path):
    with AlertStore(tmp_path / "a.db") as store:
        assert store.schema_version == schema.SCHEMA_VERSION
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_default_path_comes_from_vigil_home(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    with AlertStore() as store:
        assert store.path == tmp_path / "home" / "vigil.db"
    assert (tmp_path / "home" / "vigil.db").exists()


def test_overlapping_windows_never_duplicate(tmp_path, rule, event):
    # the same event found by two overlapping runs (different execution, different time) has one alert
    first = build_event_alert(event, rule, fixed_context())
    later = build_event_alert(nping_event(), rule, AlertContext(execution_uuid="run-2"))
    assert first["kibana.alert.uuid"] == later["kibana.alert.uuid"]
    with AlertStore(tmp_path / "a.db") as store:
        assert store.insert_alerts([first]) == [first["kibana.alert.uuid"]]
        assert store.insert_alerts([later]) == []
        assert store.count() == 1
        # the first stored document wins (Kibana's `create` keeps the existing alert)
        stored = store.get_alert(first["kibana.alert.uuid"])
        assert stored.document["@timestamp"] == first["@timestamp"]
        assert stored.rule_name == "Nping Process Activity" and stored.host_name == "web-01"
        assert stored.process_name == "nping" and stored.user_name == "root" and stored.status == "open"


def test_insert_returns_only_new_ids_in_order(tmp_path):
    with AlertStore(tmp_path / "a.db") as store:
        assert store.insert_alerts([fake_alert(1), fake_alert(2)]) == [f"{1:064x}", f"{2:064x}"]
        assert store.insert_alerts([fake_alert(3), fake_alert(2), fake_alert(3)]) == [f"{3:064x}"]


def test_a_bad_document_rolls_back_the_whole_batch(tmp_path):
    with AlertStore(tmp_path / "a.db") as store:
        with pytest.raises(StoreError, match="kibana.alert.uuid"):
            store.insert_alerts([fake_alert(1), {"no": "id"}])
        assert store.count() == 0


def test_list_filters_and_prefixes(tmp_path):
    docs = []
    for n, (sev, host, minute) in enumerate([("low", "h1", 1), ("high", "h2", 2), ("high", "h1", 3)]):
        doc = fake_alert(n + 0xABC000)
        doc |= {"kibana.alert.severity": sev, "host": {"name": host}, "@timestamp": f"2026-09-01T12:0{minute}:00.000Z"}
        docs.append(doc)
    docs[2]["kibana.alert.rule.name"] = "Other 100% rule"
    with AlertStore(tmp_path / "a.db") as store:
        store.insert_alerts(docs)
        assert [a.host_name for a in store.list_alerts()] == ["h1", "h2", "h1"]  # newest first
        assert len(store.list_alerts(severity="high")) == 2
        assert len(store.list_alerts(severity=["high"], host="h1")) == 1
        assert len(store.list_alerts(since="2026-09-01T12:02:00.000Z")) == 2
        assert len(store.list_alerts(rule="100%")) == 1
        assert len(store.list_alerts(rule="r1")) == 3
        assert len(store.list_alerts(limit=1)) == 1
        with pytest.raises(StoreError, match="ambiguous"):
            store.resolve_id("0000")
        full = "f00d" + "1" * 60
        store.insert_alerts([fake_alert(99) | {"kibana.alert.uuid": full}])
        assert store.resolve_id("f00d") == full and store.resolve_id("F00D1") == full
        assert store.resolve_id(docs[1]["kibana.alert.uuid"]) == docs[1]["kibana.alert.uuid"]
        with pytest.raises(StoreError, match="no alert"):
            store.resolve_id("ffff")
        with pytest.raises(StoreError, match="not an alert id"):
            store.resolve_id("xyz")


def test_executions_and_state(tmp_path):
    with AlertStore(tmp_path / "a.db") as store:
        store.record_execution(
            "r1", started_at="2026-09-01T12:00:00.000Z", status="succeeded", duration_ms=12.5,
            window_from="2026-09-01T11:51:00.000Z", window_to="2026-09-01T12:00:00.000Z",
            message="Rule execution completed successfully", events_searched=1000, alerts_created=2,
        )
        store.record_execution("r1", started_at="2026-09-01T12:05:00.000Z", status="failed", gap_ms=60000,
                               details={"errors": ["gap"]})
        store.record_execution("r2", started_at="2026-09-01T12:05:00.000Z", status="succeeded")
        runs = store.list_executions("r1")
        assert [r.status for r in runs] == ["failed", "succeeded"]
        assert runs[0].details == {"errors": ["gap"]} and runs[1].alerts_created == 2
        assert len(store.list_executions()) == 3
        assert store.get_state("last_run:r1") is None
        store.set_state("last_run:r1", {"started_at": "2026-09-01T12:05:00.000Z"})
        store.set_state("last_run:r1", {"started_at": "2026-09-01T12:10:00.000Z"})
        assert store.get_state("last_run:r1") == {"started_at": "2026-09-01T12:10:00.000Z"}


def test_old_schema_is_upgraded(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    schema.apply(conn, 0, target=1)
    conn.execute("COMMIT")
    doc = fake_alert(7) | {"user": {"name": "alice"}}
    conn.execute(
        "INSERT INTO alerts (id, rule_id, rule_name, status, created_at, updated_at, document) "
        "VALUES (?, 'r1', 'Test rule', 'open', ?, ?, ?)",
        (doc["kibana.alert.uuid"], doc["@timestamp"], doc["@timestamp"], json.dumps(doc)),
    )
    conn.close()
    with AlertStore(path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        assert store.get_alert(doc["kibana.alert.uuid"]).user_name == "alice"  # backfilled by migration 2
        store.add_note(doc["kibana.alert.uuid"], "upgraded", "me")
        assert [n.text for n in store.notes(doc["kibana.alert.uuid"])] == ["upgraded"]


def test_newer_store_is_refused(tmp_path):
    path = tmp_path / "new.db"
    with AlertStore(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as info:
        AlertStore(path)
    assert "newer vigil" in str(info.value) and str(path) in str(info.value)


def test_missing_or_broken_store(tmp_path):
    with pytest.raises(StoreError, match="no alert store"):
        AlertStore(tmp_path / "missing.db", create=False)
    with pytest.raises(StoreError, match="does not exist"):
        AlertStore(tmp_path / "no-dir" / "a.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as info:
        AlertStore(junk)
    assert str(junk) in str(info.value)


def test_one_writer_and_readers_in_parallel_processes(tmp_path):
    db = tmp_path / "shared.db"
    AlertStore(db).close()
    batches, size = 40, 25
    readers = [_worker("read", str(db), "1.5", str(tmp_path / f"r{i}.json")) for i in range(2)]
    writer = _worker("write", str(db), str(batches), str(size))
    for proc in [writer, *readers]:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with AlertStore(db) as store:
        assert store.count() == batches * size
    for i in range(2):
        counts = json.loads((tmp_path / f"r{i}.json").read_text())
        assert counts, "reader saw nothing"
        # readers only ever see whole batches, and never go backwards
        assert all(c % size == 0 for c in counts)
        assert counts == sorted(counts)


def test_killed_writer_leaves_no_partial_batch(tmp_path):
    db = tmp_path / "crash.db"
    marker = tmp_path / "marker"
    proc = _worker("hang", str(db), "10", str(marker))
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "worker never reached the middle of its batch"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with AlertStore(db) as store:
        assert store.count() == 10  # the committed batch, nothing of the killed one
        assert store.insert_alerts(fake_alert(i) for i in range(10, 20))  # and the store is still writable
