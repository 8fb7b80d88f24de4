"""What every capture backend offers: a thread that emits Records, counters, and an honest account of its blind spots."""

from __future__ import annotations

import threading
import typing as t
from dataclasses import dataclass, field

from vigil.sensor.ecs import SENSOR_INDEX
from vigil.sources.base import Record

Emit = t.Callable[[Record], None]


@dataclass
class SensorStats:
    """Counters shared by the backends (read from other threads: plain ints, updated by one writer)."""

    events: int = 0  # exec events emitted
    full: int = 0  # enriched completely
    zombie: int = 0  # only comm/ids left: the process exited before we read it
    exited: int = 0  # reaped before we looked, named from the kernel's exit record (comm, real ids, ppid)
    gone: int = 0  # reaped before we looked and no exit record: pid only
    exit_lost_batches: int = 0  # ENOBUFS on the exit-record socket: some names were dropped (never events)
    lost_batches: int = 0  # kernel buffer overruns (ENOBUFS): one or more events dropped each time
    rescans: int = 0  # /proc rescans run after a loss
    rescued: int = 0  # processes found by those rescans
    scans: int = 0  # /proc polls (procpoll)
    triggers: int = 0  # inotify triggers (procpoll)
    extra: dict[str, t.Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, t.Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        out.update(self.extra)
        return out


class Backend:
    """A running capture. Subclasses implement `_run()` (the thread body; return when `self.stopping` is set)."""

    name = "?"
    index = SENSOR_INDEX  # the data stream its events land in: it decides which rules' index patterns apply
    # What this backend can miss, in one sentence a user can act on (shown by `vigil watch --status`).
    can_miss = ""

    def __init__(self, emit: Emit):
        self.emit = emit
        self.stats = SensorStats()
        self.stopping = threading.Event()
        self.error: t.Optional[BaseException] = None
        self.notes: list[str] = []  # facts found while starting (filter active, priority, buffer size)
        self._thread: t.Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._guarded, name=f"vigil-{self.name}", daemon=True)
        self._thread.start()

    def _guarded(self) -> None:
        try:
            self._run()
        except BaseException as error:  # surfaced by the live loop, which logs it and stops
            self.error = error

    def _run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.close()

    def close(self) -> None:
        """Release OS resources (sockets, fds)."""
