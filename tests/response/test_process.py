"""kill / suspend / resume a real child process from an alert, and every refusal that protects other processes."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from vigil.response.outcome import DRY_RUN, FAILED, KILL, REFUSED, RESUME, SUCCEEDED, SUSPEND, ResponseError
from vigil.response.process import ProcessTarget, read_stat, signal_process, target_from_alert

from .conftest import alert_for, process_fields, stopped


def test_kill_a_real_process_verified_by_start_time(sleeper):
    target = target_from_alert(alert_for(process_fields(sleeper.pid)))
    outcome = signal_process(KILL, target, dry_run=False)
    assert outcome.status == SUCCEEDED, outcome
    assert "killed pid" in outcome.message and "start time" in outcome.message
    assert sleeper.wait(timeout=5) == -9
    assert outcome.details["comm"] == "sleep"


def test_suspend_then_resume(sleeper):
    target = target_from_alert(alert_for(process_fields(sleeper.pid)))
    assert signal_process(SUSPEND, target, dry_run=False).status == SUCCEEDED
    assert stopped(sleeper.pid)
    assert signal_process(RESUME, target, dry_run=False).status == SUCCEEDED
    assert not stopped(sleeper.pid)
    assert sleeper.poll() is None  # suspend/resume never kill


def test_vigil_entity_id_is_exact_evidence(sleeper):
    host = socket.gethostname()
    fields = process_fields(sleeper.pid, start=False, entity=True, host_key=host)
    alert = alert_for(fields)
    outcome = signal_process(SUSPEND, target_from_alert(alert, "process.entity_id"), dry_run=False)
    assert outcome.status == SUCCEEDED and "entity_id" in outcome.message
    assert stopped(sleeper.pid)


def test_reused_pid_is_refused_by_start_time(sleeper):
    fields = process_fields(sleeper.pid)
    fields["start"] = "2021-03-04T05:06:07.000Z"  # the alert's process started long ago: this pid is someone else
    outcome = signal_process(KILL, target_from_alert(alert_for(fields)), dry_run=False)
    assert outcome.status == REFUSED and "another process" in outcome.message
    time.sleep(0.05)
    assert sleeper.poll() is None and not stopped(sleeper.pid)


def test_start_time_just_outside_tolerance_is_refused(sleeper):
    fields = process_fields(sleeper.pid)
    target = target_from_alert(alert_for(fields))
    moved = ProcessTarget(target.pid, _shift(target.start, 2.5), None, target.host_key)
    assert signal_process(KILL, moved, dry_run=False, tolerance_ms=1000).status == REFUSED
    assert signal_process(KILL, moved, dry_run=True, tolerance_ms=3000).status == DRY_RUN
    assert sleeper.poll() is None


def test_mismatched_vigil_entity_id_is_refused(sleeper):
    host = socket.gethostname()
    fields = process_fields(sleeper.pid, entity=True, host_key=host)
    fields["entity_id"] = "0" * 32  # vigil format, different process
    outcome = signal_process(KILL, target_from_alert(alert_for(fields)), dry_run=False)
    assert outcome.status == REFUSED and "entity_id" in outcome.message
    assert sleeper.poll() is None


def test_no_evidence_is_refused(sleeper):
    outcome = signal_process(KILL, ProcessTarget(sleeper.pid), dry_run=False)
    assert outcome.status == REFUSED and "nothing in the alert proves" in outcome.message
    assert sleeper.poll() is None


def test_dry_run_changes_nothing(sleeper):
    target = target_from_alert(alert_for(process_fields(sleeper.pid)))
    for command in (KILL, SUSPEND):
        outcome = signal_process(command, target, dry_run=True)
        assert outcome.status == DRY_RUN and outcome.message.startswith("would ")
    time.sleep(0.05)
    assert sleeper.poll() is None and not stopped(sleeper.pid)


def test_exited_process_is_refused():
    proc = subprocess.Popen(["sleep", "60"])
    time.sleep(0.05)
    fields = process_fields(proc.pid)
    proc.kill()
    # not reaped yet: a zombie keeps its pid and start time, and must not be reported as killed by us
    time.sleep(0.05)
    zombie = signal_process(KILL, target_from_alert(alert_for(fields)), dry_run=False)
    assert zombie.status == REFUSED and "zombie" in zombie.message
    proc.wait()
    gone = signal_process(KILL, target_from_alert(alert_for(fields)), dry_run=False)
    assert gone.status == REFUSED and "gone" in gone.message


def test_init_and_self_are_never_signalled():
    for pid in (1, os.getpid()):
        outcome = signal_process(KILL, ProcessTarget(pid, start="2020-01-01T00:00:00Z"), dry_run=True)
        assert outcome.status == REFUSED


def test_not_permitted_is_a_failure(sleeper):
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    target = target_from_alert(alert_for(process_fields(sleeper.pid)))
    # a forked child running as nobody may not signal our sleeper: the outcome must be `failed`, not a crash
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            outcome = signal_process(KILL, target, dry_run=False)
            code = 0 if outcome.status == FAILED and "not permitted" in outcome.message else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sleeper.poll() is None


def test_target_from_alert_fields():
    alert = alert_for({"pid": 4242, "start": "2026-01-01T00:00:00.000Z", "entity_id": "e1",
                       "parent": {"pid": 4000, "entity_id": "e0"}})
    assert target_from_alert(alert).pid == 4242
    parent = target_from_alert(alert, "process.parent.entity_id")
    assert (parent.pid, parent.entity_id, parent.start) == (4000, "e0", None)
    with pytest.raises(ResponseError, match="cannot identify a process"):
        target_from_alert(alert, "user.name")
    with pytest.raises(ResponseError, match="no process.group_leader.pid"):
        target_from_alert(alert, "process.group_leader.pid")


def test_read_stat_handles_parentheses_in_comm(tmp_path):
    (tmp_path / "77").mkdir()
    line = "77 (we (ird) x) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 200"
    (tmp_path / "77" / "stat").write_text(line)
    stat = read_stat(77, str(tmp_path))
    assert stat is not None and (stat.comm, stat.state, stat.starttime) == ("we (ird) x", "S", 123456)


def _shift(iso: str, seconds: float) -> str:
    from vigil.alerts.times import parse_time
    from vigil.response.process import _iso_ns

    moment = parse_time(iso)
    assert moment is not None
    return _iso_ns(int((moment.timestamp() + seconds) * 1e9))
