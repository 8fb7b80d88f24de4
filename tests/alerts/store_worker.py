"""A separate process using the alert store, for the concurrency and crash tests (run as a script).

    store_worker.py write DB BATCHES BATCH_SIZE      insert BATCHES batches of fake alerts, one transaction each
    store_worker.py read DB SECONDS OUT              count alerts repeatedly; write every count seen to OUT (JSON)
    store_worker.py hang DB COMMITTED MARKER         commit COMMITTED alerts, then start a batch, create MARKER
                                                     half-way through it and wait to be killed
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from vigil.alerts.store import AlertStore


def fake_alert(n: int) -> dict:
    return {
        "kibana.alert.uuid": f"{n:064x}",
        "kibana.alert.rule.rule_id": "r1",
        "kibana.alert.rule.name": "Test rule",
        "kibana.alert.severity": "low",
        "kibana.alert.risk_score": 21,
        "kibana.alert.workflow_status": "open",
        "@timestamp": f"2026-09-01T12:00:00.{n % 1000:03d}Z",
        "host": {"name": "h1"},
        "payload": "x" * 200,
    }


def main(argv: list[str]) -> None:
    mode, db = argv[0], argv[1]
    if mode == "write":
        batches, size = int(argv[2]), int(argv[3])
        with AlertStore(db) as store:
            for b in range(batches):
                store.insert_alerts(fake_alert(b * size + i) for i in range(size))
    elif mode == "read":
        seconds, out = float(argv[2]), Path(argv[3])
        counts = []
        with AlertStore(db) as store:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                counts.append(store.count())
                time.sleep(0.002)
        out.write_text(json.dumps(counts))
    elif mode == "hang":
        committed, marker = int(argv[2]), Path(argv[3])
        with AlertStore(db) as store:
            store.insert_alerts(fake_alert(i) for i in range(committed))

            def batch():
                for i in range(1000):
                    if i == 500:
                        marker.write_text("mid-batch")
                        time.sleep(60)  # killed here, inside the open transaction
                    yield fake_alert(committed + i)

            store.insert_alerts(batch())


if __name__ == "__main__":
    main(sys.argv[1:])
