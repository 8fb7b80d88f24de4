"""The last-resort backend: incremental /proc polling, plus an inotify trigger on the binaries the rules name.

Used when the connector is refused (container, child namespace, old kernel without CAP_NET_ADMIN). What it costs and
misses (docs/live-collection.md §4, §5):

* each poll lists /proc and reads `stat` only for pids not seen before, keyed by (pid, starttime); a process that
  exec's in place (same pid and start, e.g. `exec nping` from a shell) is caught by a comm re-check of every known
  pid, done every `recheck_every` polls;
* the catch rate of a process is about lifetime / interval: at 100 ms, `nping --tcp` (1 s) is always caught,
  `nping --version` (10 ms) about 8 % of the time and `/bin/true` never;
* inotify on the directories holding watched binaries (e.g. /usr/bin for `nping`) fires when the file is opened for
  exec, and triggers an immediate scan (3 retries 1 ms apart): about 2 in 3 very short runs of those binaries are
  caught. inotify cannot tell exec from read, has no pid, and misses renamed copies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import shutil
import struct
import time
import typing as t
from collections import OrderedDict

from vigil.sensor.backend import Backend, Emit
from vigil.sensor.ecs import EventBuilder
from vigil.sensor.enrich import FULL, GONE, ParentCache, read_comm, read_proc

IN_OPEN = 0x20
IN_ACCESS = 0x01
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_INOTIFY_EVENT = struct.Struct("iIII")


def list_pids(proc_root: str = "/proc") -> list[int]:
    return [int(name) for name in os.listdir(proc_root) if name.isdigit()]


class SeenSet:
    """A bounded set of (pid, starttime) keys already emitted, oldest forgotten first."""

    def __init__(self, limit: int = 65536):
        self._keys: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._limit = limit

    def __contains__(self, key: tuple[int, int]) -> bool:
        return key in self._keys

    def comm(self, key: tuple[int, int]) -> t.Optional[str]:
        return self._keys.get(key)

    def add(self, key: tuple[int, int], comm: str) -> None:
        self._keys[key] = comm
        self._keys.move_to_end(key)
        if len(self._keys) > self._limit:
            self._keys.popitem(last=False)

    def keys(self) -> list[tuple[int, int]]:
        return list(self._keys)

    def discard(self, key: tuple[int, int]) -> None:
        self._keys.pop(key, None)


class Inotify:
    """The two inotify calls we need, through libc (no dependency): watch directories, read file names."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        self.fd = fd

    def watch(self, directory: str, mask: int = IN_OPEN) -> None:
        if self._add(self.fd, os.fsencode(directory), mask) < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), directory)

    def read_names(self) -> list[str]:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        names, offset = [], 0
        while offset + _INOTIFY_EVENT.size <= len(data):
            _wd, _mask, _cookie, length = _INOTIFY_EVENT.unpack_from(data, offset)
            start = offset + _INOTIFY_EVENT.size
            names.append(data[start:start + length].rstrip(b"\0").decode("utf-8", "surrogateescape"))
            offset = start + length
        return names

    def close(self) -> None:
        os.close(self.fd)


def watch_directories(names: t.Iterable[str], path: t.Optional[str] = None) -> dict[str, set[str]]:
    """directory → binary names in it, for each name found on PATH (names not installed are simply not watched)."""
    out: dict[str, set[str]] = {}
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            real = os.path.realpath(found)
            for candidate in {found, real}:
                out.setdefault(os.path.dirname(candidate), set()).add(os.path.basename(candidate))
    return out


class ProcScanner:
    """Finds processes not emitted yet and emits them. Shared by the poller and the connector's loss rescan."""

    def __init__(self, builder: EventBuilder, emit: Emit, stats: t.Any, *, proc_root: str = "/proc",
                 tags: t.Sequence[str] = ()):
        self.builder = builder
        self.emit = emit
        self.stats = stats
        self.proc_root = proc_root
        self.seen = SeenSet()
        self.parents = ParentCache(proc_root=proc_root)
        self.tags = tuple(tags)
        self._known_pids: set[int] = set()

    def prime(self) -> None:
        """Remember what runs now without emitting it: only processes started after we began are events."""
        for pid in list_pids(self.proc_root):
            probe = read_comm(pid, self.proc_root)
            if probe is not None:
                self.seen.add((pid, probe[1]), probe[0])
                self._known_pids.add(pid)

    def scan(self, *, recheck: bool = False, since_ticks: t.Optional[int] = None) -> list[str]:
        """Emit new processes (and, with `recheck`, known ones whose comm changed: an exec in place); returns the
        names emitted. `since_ticks` limits new processes to those started at or after that boot-relative tick
        (loss rescan)."""
        found: list[str] = []
        pids = list_pids(self.proc_root)
        current = set(pids)
        for pid in pids:
            if pid in self._known_pids and not recheck:
                continue
            probe = read_comm(pid, self.proc_root)
            if probe is None:
                continue
            comm, starttime = probe
            key = (pid, starttime)
            previous = self.seen.comm(key)
            if previous == comm:
                self._known_pids.add(pid)
                continue
            if previous is None and since_ticks is not None and starttime < since_ticks:
                self.seen.add(key, comm)
                self._known_pids.add(pid)
                continue
            self.seen.add(key, comm)
            self._known_pids.add(pid)
            name = self._emit(pid, exec_in_place=previous is not None)
            if name is not None:
                found.append(name)
        self._known_pids &= current
        return found

    def mark_seen(self, pid: int, starttime: t.Optional[int], comm: t.Optional[str]) -> None:
        if starttime is not None and comm is not None:
            self.seen.add((pid, starttime), comm)
            self._known_pids.add(pid)

    def _emit(self, pid: int, *, exec_in_place: bool) -> t.Optional[str]:
        info = read_proc(pid, self.proc_root)
        if info.outcome == GONE:
            return None
        parent = self.parents.get(info.ppid) if info.ppid else None
        if parent is not None and parent.args == info.args and parent.exe == info.exe and not exec_in_place:
            # Forked but not exec'd yet: the parent's image, not a new program. Its exec changes comm and is
            # caught by the next re-check.
            return None
        # A new process is stamped with its start time (close to its exec); an exec in place with "now".
        when = time.time_ns() if exec_in_place or info.starttime is None else self.builder.clock.from_ticks(
            info.starttime)
        doc = self.builder.build(when, info, parent, wall=True, tags=self.tags)
        self.stats.events += 1
        if info.outcome == FULL:
            self.stats.full += 1
        else:
            self.stats.zombie += 1
        self.emit(self.builder.record(doc))
        return doc["process"].get("name") or ""


class ProcPollBackend(Backend):
    name = "procpoll"
    can_miss = ("short-lived processes: at a 100 ms poll about lifetime/100ms of them are seen (/bin/true never, "
                "a 10 ms nping about 1 in 12, a 1 s nping always); watched binaries (inotify) are caught about 2 "
                "times in 3 even when short; exec'd-in-place processes are seen within one re-check period; "
                "other users' executables and working directories need root")

    def __init__(self, emit: Emit, builder: EventBuilder, *, interval: float = 0.1, recheck_every: int = 10,
                 watch_names: t.Iterable[str] = (), proc_root: str = "/proc", search_path: t.Optional[str] = None):
        super().__init__(emit)
        self.builder = builder
        self.interval = interval
        self.recheck_every = max(1, recheck_every)
        self.scanner = ProcScanner(builder, emit, self.stats, proc_root=proc_root, tags=("procpoll",))
        self.inotify: t.Optional[Inotify] = None
        self.watched: dict[str, set[str]] = {}
        names = set(watch_names)
        if names:
            self.watched = watch_directories(names, search_path)
            if self.watched:
                try:
                    self.inotify = Inotify()
                    for directory in self.watched:
                        self.inotify.watch(directory)
                except OSError as error:
                    self.notes.append(f"inotify trigger unavailable: {error}")
                    if self.inotify is not None:
                        self.inotify.close()
                    self.inotify = None
        if self.inotify is not None:
            self.notes.append("inotify trigger on " + ", ".join(
                f"{d}/{{{','.join(sorted(n))}}}" for d, n in sorted(self.watched.items())))
        self.notes.append(f"poll every {int(interval * 1000)} ms, comm re-check every {self.recheck_every} polls")
        self.scanner.prime()

    def _run(self) -> None:
        polls = 0
        next_poll = time.monotonic() + self.interval
        watched_names = set().union(*self.watched.values()) if self.watched else set()
        while not self.stopping.is_set():
            wait = min(0.2, max(0.0, next_poll - time.monotonic()))  # bounded: a stop request is seen quickly
            if self.inotify is not None:
                ready, _, _ = select.select([self.inotify.fd], [], [], wait)
                if ready and watched_names.intersection(self.inotify.read_names()):
                    self.stats.triggers += 1
                    # The exec has opened the file but the new image may not be in /proc yet (comm and cmdline
                    # change only when execve completes): re-scan with a short backoff, about 30 ms in all.
                    for delay in (0.001, 0.001, 0.002, 0.004, 0.008, 0.016):
                        if watched_names.intersection(self.scanner.scan(recheck=True)):
                            break
                        time.sleep(delay)
                    continue
            else:
                self.stopping.wait(wait)
            if time.monotonic() >= next_poll:
                polls += 1
                self.stats.scans += 1
                self.scanner.scan(recheck=polls % self.recheck_every == 0)
                next_poll = time.monotonic() + self.interval

    def close(self) -> None:
        if self.inotify is not None:
            self.inotify.close()
            self.inotify = None
