"""The connector backend: a high-priority reader thread that enriches each exec from /proc the moment it arrives.

Why a dedicated real-time thread: at default priority 12-43 % of `/bin/true` runs were already reaped when their
/proc was read; with SCHED_FIFO 10 that fell to 0-0.16 % (docs/live-collection.md §1). The kernel's RT throttling
(95 %) bounds the risk of a runaway loop. Enriched events go through a queue to the normal-priority evaluator.

Per batch of exec events the loop (1) reads, for every event, what vanishes when the process exits (`exe`,
`cmdline`, `cwd`) and then `stat` (enrich.read_fast), (2) reads `status`, which lasts until the reap, (3) names the
processes that were already reaped from the kernel's exit records (taskstats.py), and only then (4) builds and
emits the documents: no exec waits behind another exec's slow reads or JSON building.

Loss: every ENOBUFS is counted and followed by one /proc rescan that picks up still-running processes started since
shortly before the loss (short ones that already exited are lost for good, and counted).
"""

from __future__ import annotations

import os
import select
import subprocess
import time
import typing as t

from vigil.sensor.backend import Backend, Emit
from vigil.sensor.connector import ConnectorUnavailable, ProcConnector
from vigil.sensor.ecs import EventBuilder
from vigil.sensor.enrich import CLK_TCK, EXITED, FULL, GONE, ParentCache, apply_exit_record, read_fast, read_rest
from vigil.sensor.procpoll import ProcScanner
from vigil.sensor.taskstats import ExitListener, TaskstatsUnavailable

RT_PRIORITY = 10
BATCH = 32  # exec events per round: large enough to do the race-critical reads first, small for latency
SELF_TEST_TIMEOUT = 1.0
RESCAN_MARGIN_TICKS = 2 * CLK_TCK  # look back 2 s before the last event seen before a loss


def boottime_ticks() -> int:
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) * CLK_TCK // 1_000_000_000


class ConnectorBackend(Backend):
    name = "connector"
    can_miss = ("no exec unless the receive buffer overflows (counted as lost batches, then a /proc rescan recovers "
                "still-running processes); a process that ends before its /proc is read loses detail, not its event: "
                "it keeps comm, real ids and parent from /proc stat (zombie) or the kernel's exit record (exited), "
                "or only its pid (gone) when exit records are unavailable (they need CAP_NET_ADMIN)")

    def __init__(self, emit: Emit, builder: EventBuilder, *, realtime: bool = True, self_test: bool = True,
                 rcvbuf: t.Optional[int] = None, proc_root: str = "/proc", exit_records: bool = True):
        super().__init__(emit)
        self.builder = builder
        self.realtime_wanted = realtime
        self.proc_root = proc_root
        kwargs = {} if rcvbuf is None else {"rcvbuf": rcvbuf}
        self.connector = ProcConnector(**kwargs)
        self.parents = ParentCache(proc_root=proc_root)
        self.rescanner = ProcScanner(builder, emit, self.stats, proc_root=proc_root, tags=("rescan",))
        self.last_ticks = boottime_ticks()
        self._lost_handled = 0
        self.paused = False  # tests: stop reading to provoke an overflow
        self.exits: t.Optional[ExitListener] = None
        if exit_records:
            try:
                self.exits = ExitListener()
            except TaskstatsUnavailable as error:
                self.notes.append(f"no exit records ({error.reason}): a process reaped before /proc is read "
                                  "keeps only its pid")
        try:
            if self_test:
                self._self_test()
        except BaseException:
            self.connector.close()
            if self.exits is not None:
                self.exits.close()
            raise
        if self.exits is not None:
            self.notes.append("exit records (taskstats) name processes reaped before /proc is read")
        self.notes.append(
            "exec-only filter in the kernel" if self.connector.filter_active else "exec filter applied in userspace")
        self.notes.append(f"receive buffer {self.connector.rcvbuf // 1024} KiB"
                          + (" (forced)" if self.connector.rcvbuf_forced else " (capped by net.core.rmem_max)"))

    def _self_test(self) -> None:
        """Spawn /bin/true and expect its exec: proves the whole path (a child user/pid namespace subscribes
        without error but receives nothing reliable)."""
        started = time.monotonic()
        child = subprocess.Popen(["/bin/true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        child.wait()
        while time.monotonic() - started < SELF_TEST_TIMEOUT:
            ready, _, _ = select.select([self.connector], [], [], 0.05)
            if ready and any(e.tgid == child.pid for e in self.connector.recv_execs()):
                elapsed = (time.monotonic() - started) * 1000
                self.notes.append(f"self-test: exec of /bin/true (pid {child.pid}) seen in {elapsed:.1f} ms")
                return
        raise ConnectorUnavailable("self-test failed: the exec of /bin/true was not reported within 1 s "
                                   "(a child user or pid namespace? the kernel ignores such subscriptions)")

    def _go_realtime(self) -> None:
        if not self.realtime_wanted:
            self.notes.append("reader at normal priority (asked)")
            return
        try:
            # pid 0 = the calling thread on Linux: only the reader becomes real-time, not the evaluator.
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
            self.notes.append(f"reader thread at SCHED_FIFO {RT_PRIORITY}")
        except (PermissionError, OSError) as error:
            self.notes.append(f"reader at normal priority (SCHED_FIFO refused: {error.strerror or error}; "
                              "needs CAP_SYS_NICE): more short processes lose their /proc details")

    def _run(self) -> None:
        self._go_realtime()
        self._capture_loop()

    def _capture_loop(self) -> None:
        conn = self.connector
        exits = self.exits
        watched = [conn] if exits is None else [conn, exits]
        builder = self.builder
        from_monotonic = builder.clock.from_monotonic
        stats = self.stats
        proc_root = self.proc_root
        while not self.stopping.is_set():
            if self.paused:
                time.sleep(0.01)
                continue
            ready, _, _ = select.select(watched, [], [], 0.2)
            if not ready:
                continue
            # At most BATCH events per round: the documents of a round reach the pipe only at its end.
            events = conn.recv_execs(BATCH) if conn in ready else []
            # (1) + (2): the race-critical reads of the whole batch first, the lasting ones after.
            fast = [read_fast(event.tgid, proc_root) for event in events]
            infos = [read_rest(info, fd) for info, fd in fast]
            if exits is not None:
                for event, info in zip(events, infos):
                    if info.outcome == GONE:  # (3) reaped already: its exit record is in our socket by now
                        record = exits.take(info.pid, from_monotonic(event.timestamp_ns) / 1e9)
                        if record is not None:
                            apply_exit_record(info, record)
                if exits in ready:
                    exits.drain()  # keep the socket empty: names of later exits must not be dropped
                stats.exit_lost_batches = exits.lost_batches
            for event, info in zip(events, infos):
                parent = self.parents.get(info.ppid) if info.ppid else None
                doc = builder.build(event.timestamp_ns, info, parent)
                stats.events += 1
                if info.outcome == FULL:
                    stats.full += 1
                elif info.outcome == GONE:
                    stats.gone += 1
                elif info.outcome == EXITED:
                    stats.exited += 1
                else:
                    stats.zombie += 1
                if info.starttime is not None:
                    self.last_ticks = info.starttime
                    self.rescanner.mark_seen(info.pid, info.starttime, info.comm)
                self.emit(builder.record(doc))
            if conn.lost_batches != self._lost_handled:
                self._recover()
            self._after_batch()

    def _after_batch(self) -> None:
        """Hook of the reader process: flush the batch to the pipe."""

    def _recover(self) -> None:
        """After ENOBUFS: count it and rescan /proc for processes started since shortly before the loss."""
        self.stats.lost_batches = self.connector.lost_batches
        self._lost_handled = self.connector.lost_batches
        self.stats.rescans += 1
        self.stats.rescued += len(self.rescanner.scan(since_ticks=max(0, self.last_ticks - RESCAN_MARGIN_TICKS)))

    def close(self) -> None:
        self.connector.close()
        if self.exits is not None:
            self.exits.close()
