"""The `vigil watch` service loop: capture backend → queue → LiveDetector, with signals, reload and a status file.

Threads: the backend's reader (real-time when allowed) only captures and enriches; this loop, at normal priority,
evaluates and writes to SQLite. Signals: SIGTERM/SIGINT stop cleanly (the reader stops, queued events are still
evaluated, streams are closed out, the store is closed); SIGHUP reloads rules, exceptions and host facts without
stopping capture. The status file (`<data dir>/watch-status.json`) is what `vigil watch --status` reads.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import signal
import sys
import tempfile
import time
import typing as t
from pathlib import Path

from vigil.alerts import AlertStore
from vigil.eql import ast
from vigil.rules.model import Rule
from vigil.sensor.ecs import EventBuilder, HostInfo
from vigil.sensor.live import LiveDetector, load_runners
from vigil.sensor.priority import raise_thread
from vigil.sensor.select import Selection, choose_backend, privileges

log = logging.getLogger("vigil.sensor")
STATUS_FILE = "watch-status.json"
STATUS_EVERY = 2.0
# The evaluator (this loop) and the thread feeding it run above normal priority when allowed: see priority.py and
# the measurements in docs/sensor.md. `realtime` is faster on a saturated host; `nice` can never starve anything.
EVALUATOR_PRIORITY = "nice"
BATCH_MS = 5.0  # alerts of a burst are committed together, at most this late (flushed at once when the queue empties)
_SYSLOG_LEVEL = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    """Plain lines; with `prefix`, the `<N>` syslog level that journald reads from a service's stderr."""

    def __init__(self, prefix: bool):
        super().__init__("%(message)s")
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self.prefix:
            return f"<{_SYSLOG_LEVEL.get(record.levelno, 6)}>{text}"
        return f"{record.levelname.lower()}: {text}"


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JournalFormatter(prefix=bool(os.environ.get("JOURNAL_STREAM"))))
    logger = logging.getLogger("vigil")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False


# ------------------------------------------------------------------------------------------ binaries rules name
def named_binaries(rules: t.Iterable[Rule]) -> set[str]:
    """Process names compared literally in the rules' queries (`process.name == "nping"`, `in (...)`): the
    binaries worth an inotify trigger in procpoll mode."""
    from vigil.eql import parse

    names: set[str] = set()

    def visit(node: t.Any) -> None:
        if isinstance(node, ast.Comparison) and node.op == "==":
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(a, ast.Field) and a.name == "process.name" and isinstance(b, ast.Literal):
                    if isinstance(b.value, str):
                        names.add(b.value)
        elif isinstance(node, ast.InSet) and not node.negated and isinstance(node.value, ast.Field) \
                and node.value.name == "process.name":
            names.update(o.value for o in node.options if isinstance(o, ast.Literal) and isinstance(o.value, str))
        if dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                child = getattr(node, f.name)
                for item in child if isinstance(child, tuple) else (child,):
                    if isinstance(item, ast.Node):
                        visit(item)

    for rule in rules:
        try:
            visit(parse(rule.query or ""))
        except Exception:  # an unparsable rule is reported by load_runners; it just names nothing here
            continue
    return {n for n in names if "/" not in n and "*" not in n}


# ------------------------------------------------------------------------------------------------------ service
class Watcher:
    """One `vigil watch` run. `rules_loader()` returns the rules to run (called again on SIGHUP)."""

    def __init__(self, *, store_path: Path, rules_loader: t.Callable[[], list[Rule]], mode: str = "auto",
                 duration: t.Optional[float] = None, exception_store: t.Any = None,
                 status_path: t.Optional[Path] = None, echo: t.Callable[[str], None] = print,
                 backend_options: t.Optional[dict] = None, evaluator_priority: str = EVALUATOR_PRIORITY,
                 batch_ms: float = BATCH_MS):
        self.store_path = store_path
        self.rules_loader = rules_loader
        self.mode = mode
        self.duration = duration
        self.exception_store = exception_store
        self.status_path = status_path
        self.echo = echo
        self.backend_options = dict(backend_options or {})
        self.evaluator_priority = evaluator_priority
        self.batch_ms = batch_ms
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = False
        self._reload = False
        self.selection: t.Optional[Selection] = None
        self.started = time.time()
        self.rules: list[Rule] = []

    # signal handlers only set flags: the loop acts on them between events
    def request_stop(self, *_: t.Any) -> None:
        self._stop = True

    def request_reload(self, *_: t.Any) -> None:
        self._reload = True

    def _load(self, index: str) -> list:
        self.rules = self.rules_loader()
        report = load_runners(self.rules, index=index, exception_store=self.exception_store)
        for rule, reason in report.skipped:
            log.debug("rule skipped: %s: %s", rule.label, reason)
        names = ", ".join(r.rule.name for r in report.runners) or "none"
        log.info("rules: %d running (%s), %d skipped", len(report.runners), names, len(report.skipped))
        return report.runners

    def run(self) -> int:
        self.rules = self.rules_loader()
        builder = EventBuilder(HostInfo.detect())
        options = dict(self.backend_options)
        options.setdefault("watch_names", named_binaries(r for r in self.rules if r.enabled and r.runnable))
        self.selection = choose_backend(self.mode, self.queue.put, builder, **options)
        for line in self.selection.describe():
            log.info("sensor %s", line)
        self.index = self.selection.backend.index
        runners = self._load(self.index)
        if not runners:
            log.warning("no enabled EQL rule selects %s: watching anyway (SIGHUP reloads)", self.index)
        previous = {sig: signal.signal(sig, handler) for sig, handler in (
            (signal.SIGTERM, self.request_stop), (signal.SIGINT, self.request_stop),
            (signal.SIGHUP, self.request_reload))}
        backend = self.selection.backend
        store = AlertStore(self.store_path)
        detector = LiveDetector(store, runners, echo=self.echo, index=self.index, batch_ms=self.batch_ms)
        log.info("evaluator at %s", raise_thread(self.evaluator_priority))
        if hasattr(backend, "evaluator_priority"):
            backend.evaluator_priority = self.evaluator_priority
        deadline = None if self.duration is None else time.monotonic() + self.duration
        next_status = 0.0
        try:
            backend.start()
            log.info("watching (mode %s, store %s)", self.selection.mode, self.store_path)
            while not self._stop:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if self._reload:
                    self._reload = False
                    self._do_reload(detector, builder)
                try:
                    record = self.queue.get(timeout=0.2)
                except queue.Empty:
                    record = None
                if record is not None:
                    detector.feed(record)
                if self.queue.empty():
                    detector.flush()  # nothing else waiting: commit now rather than at the end of the window
                if backend.error is not None:
                    log.error("capture stopped: %s", backend.error)
                    return 1
                if time.monotonic() >= next_status:
                    self._write_status(detector, running=True)
                    next_status = time.monotonic() + STATUS_EVERY
            return 0
        finally:
            backend.stop()
            while True:  # evaluate what was captured before the stop: nothing is dropped silently
                try:
                    detector.feed(self.queue.get_nowait())
                except queue.Empty:
                    break
            detector.close_streams()
            self._write_status(detector, running=False)
            store.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            stats = backend.stats.as_dict()
            log.info("stopped: %d events, %d alerts; sensor %s", detector.events, detector.alerts,
                     " ".join(f"{k}={v}" for k, v in stats.items()))

    def _do_reload(self, detector: LiveDetector, builder: EventBuilder) -> None:
        try:
            runners = self._load(self.index)
        except Exception as error:  # keep running the old rules: a bad edit must not blind the host
            log.error("reload failed, keeping the previous rules: %s", error)
            return
        detector.replace_runners(runners)
        builder.host = HostInfo.detect()
        builder._host_doc = builder.host.document()
        log.info("reloaded")

    def _write_status(self, detector: LiveDetector, *, running: bool) -> None:
        if self.status_path is None or self.selection is None:
            return
        status = {
            "pid": os.getpid(),
            "running": running,
            "started": self.started,
            "updated": time.time(),
            "store": str(self.store_path),
            "rules": [r.rule.name for r in detector.runners],
            "events_evaluated": detector.events,
            "alerts": detector.alerts,
            "sensor": self.selection.backend.stats.as_dict(),
            **self.selection.as_dict(),
        }
        write_status(self.status_path, status)


def write_status(path: Path, status: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(status, fh, indent=2)
    os.replace(tmp, path)


def read_status(path: Path) -> t.Optional[dict]:
    """The last status a watcher wrote, with `alive` telling whether that process still runs."""
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = status.get("pid")
    alive = False
    if status.get("running") and isinstance(pid, int):
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
    status["alive"] = alive
    return status


def probe(mode: str = "auto") -> dict:
    """Which backend `vigil watch` would use here now, and why (starts nothing that keeps running)."""
    sink: list = []
    builder = EventBuilder(HostInfo.detect())
    try:
        selection = choose_backend(mode, sink.append, builder)
    except Exception as error:
        return {"mode": None, "why": str(error), "refused": [], "notes": [], "can_miss": "", **privileges()}
    selection.backend.close()
    return {**selection.as_dict(), **privileges()}
