"""`vigil run` / `vigil hunt` as real processes: clean stop on SIGTERM, and crash safety under SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vigil.alerts import AlertStore

REPO = Path(__file__).resolve().parents[2]
DEFEND_SAMPLE = REPO / "vigil" / "data" / "samples" / "defend.ndjson"


def vigil_process(home: Path, *args: str, **options) -> subprocess.Popen:
    env = {**os.environ, "VIGIL_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("VIGIL_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "vigil", *args], env=env, text=True, **options)


def many_nping_starts(path: Path, count: int) -> None:
    """`count` distinct Elastic Defend nping starts (the sample's alerting event with new pids and times)."""
    base = json.loads(DEFEND_SAMPLE.read_text().splitlines()[5])
    with path.open("w") as out:
        for n in range(count):
            base["@timestamp"] = f"2026-11-28T14:{n // 6000 % 60:02d}:{n // 100 % 60:02d}.{n % 1000:03d}Z"
            base["process"]["pid"] = 10_000 + n
            base["process"]["entity_id"] = f"8f3c2a10-{10_000 + n}"
            out.write(json.dumps(base) + "\n")


def stored(db: Path) -> list[str]:
    with AlertStore(db, create=False) as store:
        return [a.id for a in store.list_alerts(limit=None)]


def test_sigkill_mid_hunt_loses_nothing_reported_and_duplicates_nothing(tmp_path):
    data = tmp_path / "defend-many.ndjson"
    total = 1500
    many_nping_starts(data, total)
    db = tmp_path / "alerts.db"
    proc = vigil_process(tmp_path / "home", "hunt", "--rule", "builtin", "--json", "--db", str(db), str(data),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    reported = []
    assert proc.stdout is not None
    for line in proc.stdout:  # each line is printed only after its alert is committed
        reported.append(json.loads(line)["kibana.alert.uuid"])
        if len(reported) >= 500:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    on_disk = stored(db)
    assert set(reported) <= set(on_disk)  # nothing reported as created was lost
    assert len(on_disk) < total, "the hunt finished before it was killed: raise `total`"

    rerun = subprocess.run([sys.executable, "-m", "vigil", "hunt", "--rule", "builtin", "--json", "--db", str(db),
                            str(data)], env={**os.environ, "VIGIL_HOME": str(tmp_path / "home")},
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    new = [json.loads(line)["kibana.alert.uuid"] for line in rerun.stdout.splitlines()]
    assert not set(new) & set(on_disk)  # what was stored is not written again
    final = stored(db)
    assert len(final) == len(set(final)) == total == len(on_disk) + len(new)


def test_sigterm_finishes_the_current_execution_and_exits_zero(tmp_path):
    db = tmp_path / "alerts.db"
    proc = vigil_process(tmp_path / "home", "run", "--rule", "builtin", "--db", str(db), str(DEFEND_SAMPLE),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    executions = []
    while time.monotonic() < deadline and not executions:
        time.sleep(0.1)
        if db.exists():
            with AlertStore(db, create=False) as store:
                executions = store.list_executions()
    assert executions, "no execution was recorded"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "SIGTERM" in err and "stopped after 1 execution(s)" in err
    with AlertStore(db, create=False) as store:
        assert len(store.list_executions()) == 1  # no execution was cut half-way
        assert store.get_state("runs.last_started_at:0d69150b-96f8-467c-a86d-a67a3378ce77") is not None


def test_ctrl_c_stops_cleanly_too(tmp_path):
    proc = vigil_process(tmp_path / "home", "run", "--rule", "builtin", "--db", str(tmp_path / "a.db"),
                         str(DEFEND_SAMPLE), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    banner = proc.stderr.readline()  # printed once the stop handlers are installed
    assert "Ctrl-C or SIGTERM" in banner
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "SIGINT" in err and "stopped after" in err
