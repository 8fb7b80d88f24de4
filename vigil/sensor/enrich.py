"""What /proc still says about a process right after its exec: name, argv, executable, ids, cwd, start time.

Speed matters more than anywhere else in vigil: a short-lived process (`/bin/true` lives ~1 ms, a static binary
~0.1 ms) exits and is reaped soon after its exec event. The reader opens `/proc/<pid>` once as a directory fd and
reads relative to it, in two phases (`read_fast` for every event of a batch, then `read_rest`):

1. what vanishes at EXIT: `exe`, `cmdline`, `cwd` (the mm and fs are released in do_exit); then `stat`, which
   survives into the zombie state (comm, ppid, start time);
2. what survives until REAP: `status` (uids/gids; the most expensive read, ~18 us on the test VM).

Outcomes:

* full:   the image was still there (exe or argv read);
* zombie: only `stat` readable (comm known): exited, not reaped yet;
* exited: reaped before we looked, but the kernel's exit record (taskstats.py) gave comm, real uid/gid and ppid;
* gone:   reaped, and no exit record: the pid is all that is left.
"""

from __future__ import annotations

import grp
import os
import pwd
import time
import typing as t
from dataclasses import dataclass, field

CLK_TCK = os.sysconf("SC_CLK_TCK")
FULL, ZOMBIE, EXITED, GONE = "full", "zombie", "exited", "gone"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass(slots=True)
class ProcInfo:
    pid: int
    outcome: str = GONE
    comm: t.Optional[str] = None
    state: t.Optional[str] = None
    ppid: t.Optional[int] = None
    pgrp: t.Optional[int] = None
    sid: t.Optional[int] = None
    tty_nr: int = 0
    starttime: t.Optional[int] = None  # clock ticks since boot (stat field 22)
    args: list[str] = field(default_factory=list)
    exe: t.Optional[str] = None
    cwd: t.Optional[str] = None
    uids: t.Optional[tuple[int, int, int, int]] = None  # real, effective, saved, fs
    gids: t.Optional[tuple[int, int, int, int]] = None
    real_ids: t.Optional[tuple[int, int]] = None  # (uid, gid) of an exit record, when `status` was never read


def parse_stat(text: str) -> dict[str, t.Any]:
    """Fields of `/proc/<pid>/stat`. comm is between the first '(' and the LAST ')' (it may contain both)."""
    open_at = text.index("(")
    close_at = text.rindex(")")
    rest = text[close_at + 2:].split()
    return {
        "comm": text[open_at + 1:close_at],
        "state": rest[0],
        "ppid": int(rest[1]),
        "pgrp": int(rest[2]),
        "sid": int(rest[3]),
        "tty_nr": int(rest[4]),
        "starttime": int(rest[19]),
    }


def parse_status_ids(text: str) -> tuple[t.Optional[tuple], t.Optional[tuple]]:
    uids = gids = None
    for line in text.splitlines():
        if line.startswith("Uid:"):
            uids = tuple(int(x) for x in line.split()[1:5])
        elif line.startswith("Gid:"):
            gids = tuple(int(x) for x in line.split()[1:5])
            break  # Gid follows Uid
    return uids, gids


def _read(name: str, dir_fd: int) -> bytes:
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return os.read(fd, 1 << 17)
    finally:
        os.close(fd)


def _link(name: str, dir_fd: int) -> t.Optional[str]:
    try:
        target = os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return None  # zombie (ENOENT) or another user's process read without root (EACCES)
    return target[:-10] if target.endswith(" (deleted)") else target


def read_fast(pid: int, proc_root: str = "/proc") -> tuple[ProcInfo, int]:
    """Phase 1: what is lost when the process exits, then `stat`. Returns (info, dir fd or -1); pass both to
    `read_rest`, which closes the fd. Never raises for a vanished or unreadable process."""
    info = ProcInfo(pid)
    try:
        dir_fd = os.open(f"{proc_root}/{pid}", _DIR_FLAGS)
    except OSError:
        return info, -1
    info.exe = _link("exe", dir_fd)
    try:
        raw = _read("cmdline", dir_fd)
    except OSError:
        raw = b""
    if raw:
        info.args = [a.decode("utf-8", "surrogateescape") for a in raw.rstrip(b"\0").split(b"\0")]
    info.cwd = _link("cwd", dir_fd)
    try:
        stat = parse_stat(_read("stat", dir_fd).decode("utf-8", "replace"))
    except (OSError, ValueError, IndexError):
        stat = None
    if stat is not None:
        info.comm, info.state, info.ppid = stat["comm"], stat["state"], stat["ppid"]
        info.pgrp, info.sid, info.tty_nr, info.starttime = stat["pgrp"], stat["sid"], stat["tty_nr"], stat["starttime"]
    if info.args or info.exe:
        info.outcome = FULL
    elif stat is not None:
        info.outcome = ZOMBIE
    return info, dir_fd


def read_rest(info: ProcInfo, dir_fd: int) -> ProcInfo:
    """Phase 2: uids/gids from `status` (readable until the process is reaped); closes `dir_fd`."""
    if dir_fd < 0:
        return info
    try:
        if info.outcome != GONE:
            try:
                info.uids, info.gids = parse_status_ids(_read("status", dir_fd).decode("utf-8", "replace"))
            except OSError:
                pass
    finally:
        os.close(dir_fd)
    return info


def read_proc(pid: int, proc_root: str = "/proc") -> ProcInfo:
    """Everything readable about `pid` now (both phases). Never raises for a vanished or unreadable process."""
    return read_rest(*read_fast(pid, proc_root))


def apply_exit_record(info: ProcInfo, record: t.Any) -> ProcInfo:
    """Fill a `gone` reading from the kernel's exit record (taskstats.ExitRecord): comm, real ids, parent."""
    info.outcome = EXITED
    info.comm = record.comm or None
    info.ppid = record.ppid or None
    info.real_ids = (record.uid, record.gid)
    return info


def read_comm(pid: int, proc_root: str = "/proc") -> t.Optional[tuple[str, int]]:
    """(comm, starttime) of `pid`, or None when it is gone: the cheap probe of the /proc poller."""
    try:
        fd = os.open(f"{proc_root}/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        stat = parse_stat(os.read(fd, 4096).decode("utf-8", "replace"))
    except (OSError, ValueError, IndexError):
        return None
    finally:
        os.close(fd)
    return stat["comm"], stat["starttime"]


# ------------------------------------------------------------------------------------------------------- clocks
class Clock:
    """Converts kernel clocks to wall time, with offsets captured once at start.

    The connector stamps events with CLOCK_MONOTONIC; process start times are ticks of CLOCK_BOOTTIME. `/proc/stat
    btime` is NOT used: it is truncated to whole seconds (0.79 s off on the test machine)."""

    def __init__(self) -> None:
        wall = time.time_ns()
        self.monotonic_offset_ns = wall - time.monotonic_ns()
        self.boottime_offset_ns = wall - time.clock_gettime_ns(time.CLOCK_BOOTTIME)

    def from_monotonic(self, ns: int) -> int:
        return ns + self.monotonic_offset_ns

    def from_ticks(self, ticks: int) -> int:
        return ticks * (1_000_000_000 // CLK_TCK) + self.boottime_offset_ns


# --------------------------------------------------------------------------------------------------- name caches
class NameCache:
    """uid/gid → name, cached (the passwd database rarely changes while we run; SIGHUP builds a new cache)."""

    def __init__(self) -> None:
        self._users: dict[int, t.Optional[str]] = {}
        self._groups: dict[int, t.Optional[str]] = {}

    def user(self, uid: int) -> t.Optional[str]:
        if uid not in self._users:
            try:
                self._users[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                self._users[uid] = None
        return self._users[uid]

    def group(self, gid: int) -> t.Optional[str]:
        if gid not in self._groups:
            try:
                self._groups[gid] = grp.getgrgid(gid).gr_name
            except KeyError:
                self._groups[gid] = None
        return self._groups[gid]


class ParentCache:
    """Parents are long-lived and exec many children: cache their /proc reading by (pid, starttime)."""

    def __init__(self, limit: int = 4096, proc_root: str = "/proc") -> None:
        self._cache: dict[tuple[int, int], ProcInfo] = {}
        self._limit = limit
        self._proc_root = proc_root

    def get(self, ppid: int) -> ProcInfo:
        probe = read_comm(ppid, self._proc_root)
        if probe is None:
            return ProcInfo(ppid)
        key = (ppid, probe[1])
        hit = self._cache.get(key)
        # A parent that exec'd itself since (same pid and start, new comm) must be re-read.
        if hit is not None and hit.comm == probe[0]:
            return hit
        info = read_proc(ppid, self._proc_root)
        if info.outcome == FULL:
            if len(self._cache) >= self._limit:
                self._cache.clear()
            self._cache[key] = info
        return info
