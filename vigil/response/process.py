"""kill-process / suspend-process (and resume, suspend's undo) for the process an alert names — never another one.

A pid alone is not an identity: pids are reused, so a pid read from an alert minutes ago may now belong to an
unrelated process. vigil therefore proves identity before signalling:

1. `os.pidfd_open(pid)` pins *a* process: whatever happens next, a signal sent through the pidfd reaches that
   process or nobody (pidfd_send_signal fails with ESRCH once it has been reaped).
2. `/proc/<pid>/stat` gives its start time (field 22, clock ticks since boot on CLOCK_BOOTTIME), compared with the
   alert's evidence: its `process.entity_id` when vigil's sensor wrote it (sha256 of host, pid and those very
   ticks: exact), and its `process.start` converted the same way to wall time (within `start_tolerance_ms`, since
   other agents derive it from the whole-second `btime`). At least one piece of evidence must exist and every piece
   present must agree, else the action is refused.
3. A null signal through the pidfd then proves the pinned process was still alive after the /proc read, so the
   /proc entry read in (2) was the pinned process (a live process keeps its pid), not a successor.
4. Only then is the real signal sent through the pidfd.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import select
import signal
import time
import typing as t
from dataclasses import dataclass

from vigil.alerts.reason import get_path
from vigil.alerts.times import parse_time
from vigil.response.outcome import DRY_RUN, FAILED, KILL, REFUSED, RESUME, SUCCEEDED, SUSPEND, Outcome, ResponseError

CLK_TCK = os.sysconf("SC_CLK_TCK")
SIGNALS = {KILL: signal.SIGKILL, SUSPEND: signal.SIGSTOP, RESUME: signal.SIGCONT}
_VIGIL_ENTITY_ID = re.compile(r"^[0-9a-f]{32}$")  # sha256(...)[:32], see vigil/sensor/ecs.py
WAIT_SECONDS = 2.0  # how long to watch for the signal's effect before reporting


@dataclass(frozen=True)
class ProcessTarget:
    """The process an alert identifies, with the evidence of its identity."""

    pid: int
    start: t.Optional[str] = None  # the alert's `<prefix>.start`
    entity_id: t.Optional[str] = None  # the alert's `<prefix>.entity_id`
    host_key: t.Optional[str] = None  # `host.id` else `host.name`: what vigil's sensor hashed into entity ids
    field: str = "process.pid"  # the alert field that named the process

    def to_dict(self) -> dict[str, t.Any]:
        return {"pid": self.pid, "start": self.start, "entity_id": self.entity_id, "field": self.field}


def target_from_alert(alert: t.Mapping[str, t.Any], field: str = "process.pid") -> ProcessTarget:
    """The process named by `field` of the alert: `process.pid` (Kibana's default), or a custom field such as
    `process.entity_id` or `process.parent.pid`; the evidence is read beside it (`<prefix>.start`, `.entity_id`)."""
    prefix, _, leaf = field.rpartition(".")
    if leaf not in ("pid", "entity_id") or not prefix:
        raise ResponseError(f"cannot identify a process by {field!r}",
                            hint="use a process field ending in .pid or .entity_id, e.g. process.entity_id")
    pid = _single(get_path(alert, f"{prefix}.pid"))
    entity_id = _single(get_path(alert, f"{prefix}.entity_id"))
    if leaf == "entity_id" and not entity_id:
        raise ResponseError(f"the alert has no {field}")
    if isinstance(pid, str) and pid.isdigit():
        pid = int(pid)
    if not isinstance(pid, int) or isinstance(pid, bool):
        raise ResponseError(f"the alert has no {prefix}.pid" + (f" beside {field}" if leaf != "pid" else ""))
    host_key = _single(get_path(alert, "host.id")) or _single(get_path(alert, "host.name"))
    start = _single(get_path(alert, f"{prefix}.start"))
    return ProcessTarget(pid, str(start) if start is not None else None,
                         str(entity_id) if entity_id else None, str(host_key) if host_key else None, field)


@dataclass(frozen=True)
class ProcStat:
    comm: str
    state: str
    starttime: int  # clock ticks since boot

    def start_ns(self) -> int:
        """Wall-clock start, nanoseconds since the epoch (boottime offset taken now)."""
        offset = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        return self.starttime * (1_000_000_000 // CLK_TCK) + offset


def read_stat(pid: int, proc_root: str = "/proc") -> t.Optional[ProcStat]:
    try:
        with open(f"{proc_root}/{pid}/stat", "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    # comm sits between the first "(" and the LAST ")": it may contain both
    close_at = text.rindex(")")
    rest = text[close_at + 2:].split()
    return ProcStat(text[text.index("(") + 1:close_at], rest[0], int(rest[19]))


def vigil_entity_id(host_key: str, pid: int, starttime: int) -> str:
    """The id vigil's sensor gives a process (vigil/sensor/ecs.py), recomputed for comparison."""
    return hashlib.sha256(f"{host_key}:{pid}:{starttime}".encode()).hexdigest()[:32]


def verify_identity(target: ProcessTarget, stat: ProcStat, tolerance_ms: int) -> tuple[bool, str, dict]:
    """(same process, why, what was compared). See the module docstring for the rules."""
    evidence: dict[str, t.Any] = {"proc_starttime_ticks": stat.starttime}
    checked = []
    if target.entity_id and _VIGIL_ENTITY_ID.match(target.entity_id) and target.host_key:
        expected = vigil_entity_id(target.host_key, target.pid, stat.starttime)
        evidence["entity_id_now"] = expected
        if expected != target.entity_id:
            return False, (f"pid {target.pid} is now another process: its entity_id would be {expected}, "
                           f"the alert's is {target.entity_id}"), evidence
        checked.append("entity_id")
    if target.start:
        moment = parse_time(target.start)
        if moment is None:
            return False, f"cannot read the alert's start time {target.start!r}", evidence
        alert_ns = int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
        now_ns = stat.start_ns()
        drift_ms = abs(now_ns - alert_ns) / 1e6
        evidence.update(proc_start=_iso_ns(now_ns), start_difference_ms=round(drift_ms, 3))
        if drift_ms > tolerance_ms:
            return False, (f"pid {target.pid} is now another process: it started {_iso_ns(now_ns)}, the alert's "
                           f"process started {target.start} ({drift_ms:.0f} ms apart, tolerance {tolerance_ms} ms)"), \
                evidence
        checked.append("start time")
    if not checked:
        return False, (f"nothing in the alert proves pid {target.pid} is still the same process (no start time, "
                       "no entity_id written by vigil)"), evidence
    return True, "verified by " + " and ".join(checked), evidence


def signal_process(command: str, target: ProcessTarget, *, dry_run: bool, tolerance_ms: int = 1000,
                   proc_root: str = "/proc") -> Outcome:
    """Run kill-process / suspend-process / resume-process on `target` after proving its identity."""
    signum = SIGNALS[command]
    base = target.to_dict()

    def outcome(status: str, message: str, **details: t.Any) -> Outcome:
        return Outcome(command, status, message, base, details)

    if target.pid <= 2 or target.pid in (os.getpid(), os.getppid()):
        return outcome(REFUSED, f"refusing to signal pid {target.pid} (init, kthreadd, or vigil itself)")
    try:
        pidfd = os.pidfd_open(target.pid)
    except ProcessLookupError:
        return outcome(REFUSED, f"pid {target.pid} is gone: the process already exited")
    except OSError as error:
        return outcome(FAILED, f"cannot open pid {target.pid}: {error.strerror}")
    try:
        stat = read_stat(target.pid, proc_root)
        if stat is None:
            return outcome(REFUSED, f"pid {target.pid} is gone: the process already exited")
        same, why, evidence = verify_identity(target, stat, tolerance_ms)
        evidence.update(comm=stat.comm, state=stat.state)
        if not same:
            return outcome(REFUSED, why, **evidence)
        if stat.state in ("Z", "X"):
            return outcome(REFUSED, f"pid {target.pid} ({stat.comm}) already exited (zombie)", **evidence)
        try:
            signal.pidfd_send_signal(pidfd, 0)  # still the pinned process after the /proc read? (step 3)
        except ProcessLookupError:
            return outcome(REFUSED, f"pid {target.pid} exited while being checked", **evidence)
        except PermissionError:
            return _not_permitted(outcome, target, stat, evidence)
        verb = {KILL: "kill", SUSPEND: "suspend", RESUME: "resume"}[command]
        if dry_run:
            return outcome(DRY_RUN, f"would {verb} pid {target.pid} ({stat.comm}); {why}", **evidence)
        try:
            signal.pidfd_send_signal(pidfd, signum)
        except ProcessLookupError:
            return outcome(REFUSED, f"pid {target.pid} exited before the signal", **evidence)
        except PermissionError:
            return _not_permitted(outcome, target, stat, evidence)
        effect = _wait_for_effect(command, pidfd, target.pid, proc_root)
        done = {KILL: "killed", SUSPEND: "suspended", RESUME: "resumed"}[command]
        if effect:
            return outcome(SUCCEEDED, f"{done} pid {target.pid} ({stat.comm}); {why}", **evidence)
        return outcome(SUCCEEDED, f"sent {signal.Signals(signum).name} to pid {target.pid} ({stat.comm}); {why}; "
                                  f"the effect was not seen within {WAIT_SECONDS:g} s", **evidence)
    finally:
        os.close(pidfd)


def _not_permitted(outcome: t.Callable[..., Outcome], target: ProcessTarget, stat: ProcStat,
                   evidence: dict) -> Outcome:
    return outcome(FAILED, f"not permitted to signal pid {target.pid} ({stat.comm}): run vigil as root or as the "
                           "process owner", **evidence)


def _wait_for_effect(command: str, pidfd: int, pid: int, proc_root: str) -> bool:
    """Did the signal take effect: the process exited (kill), shows state T (suspend), or left T (resume)."""
    if command == KILL:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)  # a pidfd polls readable once its process has exited
        return bool(poller.poll(WAIT_SECONDS * 1000))
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        stat = read_stat(pid, proc_root)
        if stat is None:
            return False
        stopped = stat.state in ("T", "t")
        if stopped == (command == SUSPEND):
            return True
        time.sleep(0.01)
    return False


def _single(value: t.Any) -> t.Any:
    if isinstance(value, list):
        return value[0] if len(value) == 1 else None
    return value


def _iso_ns(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(microsecond=rest // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
