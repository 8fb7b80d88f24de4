"""The append-only NDJSON file channel: one line per alert, many concurrent writers, nothing torn or lost."""

from __future__ import annotations

import multiprocessing
import os

import orjson

from vigil.notify import Notifiers
from vigil.notify.appendfile import append_lines


def test_file_channel_writes_alert_documents(nping, tmp_path):
    alerts, rule = nping
    path = tmp_path / "alerts.ndjson"
    [result] = Notifiers.from_config({"file": {"path": str(path)}}).notify(alerts * 3, rule)
    assert (result.status, result.alerts) == ("sent", 3)
    docs = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [d["kibana.alert.uuid"] for d in docs] == [alerts[0]["kibana.alert.uuid"]] * 3
    assert docs[0]["process"]["name"] == "nping"


def test_relative_path_is_relative_to_the_config_directory(nping, tmp_path):
    alerts, rule = nping
    Notifiers.from_config({"file": {"path": "out/alerts.ndjson"}}, base_dir=tmp_path).notify(alerts, rule)
    assert (tmp_path / "out" / "alerts.ndjson").exists()


def test_unwritable_file_fails_without_raising_and_dead_letters(nping, tmp_path, vigil_home):
    alerts, rule = nping
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    [result] = Notifiers.from_config({"file": {"path": str(blocker / "alerts.ndjson")}}).notify(alerts, rule)
    assert result.status == "failed" and "cannot append" in result.error
    assert (vigil_home / "notify-dead-letter.ndjson").exists()


def _writer(path: str, worker: int, batches: int) -> None:
    for batch in range(batches):
        lines = [orjson.dumps({"worker": worker, "batch": batch, "n": n, "pad": "x" * 3000}) for n in range(5)]
        append_lines(path, lines)


def test_concurrent_appenders_never_interleave(tmp_path):
    path = str(tmp_path / "shared.ndjson")
    context = multiprocessing.get_context("fork") if hasattr(os, "fork") else multiprocessing.get_context()
    workers = [context.Process(target=_writer, args=(path, w, 40)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(30)
        assert process.exitcode == 0
    records = [orjson.loads(line) for line in open(path, "rb").read().splitlines()]  # a torn line fails here
    assert len(records) == 4 * 40 * 5
    # each batch is one write: its five lines stay together and in order
    for start in range(0, len(records), 5):
        batch = records[start:start + 5]
        assert {(r["worker"], r["batch"]) for r in batch} == {(batch[0]["worker"], batch[0]["batch"])}
        assert [r["n"] for r in batch] == list(range(5))
