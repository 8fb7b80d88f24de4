"""`vigil watch` end to end, as a subprocess: the real nping (loopback only), renamed copies, signals, --status."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vigil.alerts import AlertStore

ROOT = os.geteuid() == 0


class Watch:
    def __init__(self, tmp_path: Path, *args: str):
        self.home = tmp_path / "home"
        self.db = tmp_path / "alerts.db"
        self.env = {**os.environ, "VIGIL_HOME": str(self.home)}
        self.stdout = open(tmp_path / "watch.out", "w+")
        self.stderr = open(tmp_path / "watch.err", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vigil", "watch", "--db", str(self.db), "--duration", "60", *args],
            env=self.env, stdout=self.stdout, stderr=self.stderr)
        self.status_path = self.home / "watch-status.json"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status = self.status()
            if status and status.get("pid") == self.proc.pid and status.get("running"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"vigil watch did not start: {self.log()}")

    def status(self) -> dict | None:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return None

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()

    def output(self) -> str:
        self.stdout.seek(0)
        return self.stdout.read()

    def alerts(self) -> list:
        if not self.db.exists():
            return []
        with AlertStore(self.db, create=False) as store:
            return store.list_alerts(limit=None)

    def wait_alert(self, pid: int, timeout: float = 2.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for alert in self.alerts():
                if alert.document["process"]["pid"] == pid:
                    return alert
            time.sleep(0.02)
        return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def bin_dir(tmp_path):
    directory = tmp_path / "bin"
    directory.mkdir()
    return directory


def _copy(source: str, target: Path) -> Path:
    shutil.copy2(shutil.which(source), target)
    return target


def test_real_nping_and_renamed_copies(tmp_path, bin_dir):
    nping = shutil.which("nping")
    if nping is None:
        pytest.skip("nping is not installed (apt-get install -y nmap)")
    watch = Watch(tmp_path, "--mode", "connector")
    try:
        # Loopback only. --tcp (raw SYN) needs root; --tcp-connect works for anyone.
        probe = ["--tcp", "-p", "80"] if ROOT else ["--tcp-connect", "-p", "9"]
        argv = ["nping", *probe, "-c", "1", "127.0.0.1"]
        started = time.monotonic()
        child = subprocess.Popen(argv, executable=nping, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        alert = watch.wait_alert(child.pid, timeout=2.0)
        elapsed = time.monotonic() - started
        child.wait(10)
        assert alert is not None, f"no alert within 2 s: {watch.log()}"
        assert elapsed < 2.0
        process = alert.document["process"]
        assert alert.rule_name == "Nping Process Activity"
        assert (process["name"], process["executable"], process["args"]) == ("nping", os.path.realpath(nping), argv)
        assert process["parent"]["pid"] == os.getpid() and process["parent"]["name"].startswith("python")
        assert alert.document["host"]["os"]["type"] == "linux"

        fake = _copy("true", bin_dir / "nping")  # /bin/true renamed: lives ~1 ms, still matched by name
        decoy = _copy("true", bin_dir / "nping2")
        pids = {}
        for path in (fake, decoy, Path(shutil.which("true"))):
            child = subprocess.Popen([str(path)])
            child.wait()
            pids[path.name] = child.pid
        fake_alert = watch.wait_alert(pids["nping"])
        assert fake_alert is not None
        # /bin/true lives ~1 ms: when it is reaped before /proc is read, the kernel's exit record names it (no
        # executable path then, and the event says so); otherwise /proc gives the path of the renamed copy.
        fake_doc = fake_alert.document
        if "executable" in fake_doc["process"]:
            assert fake_doc["process"]["executable"] == str(fake)
        else:
            assert "from_exit_record" in fake_doc.get("tags", []) and fake_doc["process"]["name"] == "nping"
        time.sleep(0.3)  # give the decoys the same chance
        alerted = {a.document["process"]["pid"] for a in watch.alerts()}
        assert pids["nping2"] not in alerted and pids["true"] not in alerted
        assert "rule='Nping Process Activity'" in watch.output()
    finally:
        code = watch.stop(signal.SIGTERM)
    assert code == 0, watch.log()
    assert "stopped:" in watch.log() and "Traceback" not in watch.log()
    assert len(watch.alerts()) == 2
    assert watch.status()["running"] is False


def test_procpoll_mode_alerts_on_a_long_enough_nping(tmp_path, bin_dir):
    fake = _copy("sleep", bin_dir / "nping")
    watch = Watch(tmp_path, "--mode", "procpoll", "--interval", "0.05")
    try:
        child = subprocess.Popen([str(fake), "0.5"])
        alert = watch.wait_alert(child.pid, timeout=2.0)
        child.wait()
        assert alert is not None, watch.log()
        assert alert.document["event"]["provider"] == "vigil-procpoll"
        assert watch.status()["mode"] == "procpoll"
    finally:
        assert watch.stop(signal.SIGINT) == 0


def test_sighup_reloads_rules(tmp_path, bin_dir):
    fake = _copy("sleep", bin_dir / "nping")
    home = tmp_path / "home"
    home.mkdir()
    nping_id = "0d69150b-96f8-467c-a86d-a67a3378ce77"
    state = home / "rules-state.json"
    state.write_text(json.dumps({"enabled": {nping_id: False}}))
    watch = Watch(tmp_path)
    try:
        child = subprocess.Popen([str(fake), "0.2"])
        assert watch.wait_alert(child.pid, timeout=1.0) is None  # the rule is disabled
        child.wait()
        state.write_text(json.dumps({"enabled": {nping_id: True}}))
        watch.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "reloaded" not in watch.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "reloaded" in watch.log()
        child = subprocess.Popen([str(fake), "0.2"])
        assert watch.wait_alert(child.pid) is not None, watch.log()
        child.wait()
    finally:
        assert watch.stop() == 0


def test_status_of_a_running_and_of_no_watcher(tmp_path):
    watch = Watch(tmp_path)
    try:
        shown = subprocess.run([sys.executable, "-m", "vigil", "watch", "--status", "--json"], env=watch.env,
                               capture_output=True, text=True, timeout=30)
        status = json.loads(shown.stdout)
        assert status["alive"] and status["running"] and status["pid"] == watch.proc.pid
        assert status["mode"] in ("connector", "audit", "procpoll") and status["can_miss"] and status["why"]
        if status["mode"] == "connector":  # the reader runs in its own process, away from the evaluator's GIL
            assert any(note.startswith("reader process pid") for note in status["notes"])
    finally:
        assert watch.stop() == 0
    shown = subprocess.run([sys.executable, "-m", "vigil", "watch", "--status"], env=watch.env,
                           capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stderr
    assert "not running; a watcher started now would use mode" in shown.stdout and "can miss:" in shown.stdout


def test_watch_notifies_configured_outputs(tmp_path, bin_dir):
    """New alerts reach the [outputs] channels, as with `vigil run` and `vigil hunt` (here: an NDJSON file)."""
    config = tmp_path / "vigil.toml"
    config.write_text('[[outputs.file]]\npath = "notified.ndjson"\n')
    fake = _copy("sleep", bin_dir / "nping")
    watch = Watch(tmp_path, "--mode", "procpoll", "--interval", "0.05", "--config", str(config))
    try:
        child = subprocess.Popen([str(fake), "0.5"])
        assert watch.wait_alert(child.pid, timeout=2.0) is not None, watch.log()
        child.wait()
        notified = tmp_path / "notified.ndjson"
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not (notified.exists() and notified.read_text().strip()):
            time.sleep(0.05)
        docs = [json.loads(line) for line in notified.read_text().splitlines()]
        assert [d["process"]["pid"] for d in docs] == [child.pid]
        assert docs[0]["kibana.alert.rule.name"] == "Nping Process Activity"
    finally:
        assert watch.stop(signal.SIGTERM) == 0


def test_watch_kills_the_process_when_the_rule_says_so(tmp_path, bin_dir):
    """The issue's promise end to end: a rule with a kill-process response action, responses enabled in the
    configuration, a live nping start → the process is killed and the outcome is recorded on the alert."""
    builtin = Path(__file__).resolve().parents[2] / "vigil" / "rules" / "builtin" / "discovery_linux_nping_activity.toml"
    rule = tmp_path / "nping_kill.toml"
    rule.write_text(builtin.read_text() + '\n[[rule.response_actions]]\naction_type_id = ".endpoint"\n'
                    '[rule.response_actions.params]\ncommand = "kill-process"\ncomment = "no nping here"\n')
    config = tmp_path / "vigil.toml"
    config.write_text("[response]\nenabled = true\ndry_run = false\n")
    fake = _copy("sleep", bin_dir / "nping")
    watch = Watch(tmp_path, "--mode", "procpoll", "--interval", "0.05", "--config", str(config),
                  "--rule", str(rule))
    try:
        child = subprocess.Popen([str(fake), "30"])
        try:
            assert child.wait(timeout=5) == -signal.SIGKILL, watch.log()
        finally:
            if child.poll() is None:
                child.kill()
        alert = watch.wait_alert(child.pid)
        assert alert is not None
        with AlertStore(watch.db, create=False) as store:
            notes = " ".join(n.text for n in store.notes(alert.id))
        assert "kill-process" in notes and "succeeded" in notes
    finally:
        assert watch.stop(signal.SIGTERM) == 0
