"""Which format is this file, and the one entry point the rest of vigil reads sources through: `open_sources`.

Detection looks at the first records of each file: raw audit log lines are recognised by their text
(`type=SYSCALL msg=audit(...)`); JSON documents (after unwrapping Elasticsearch exports) are offered to every
adapter's `sniff`, and the adapter that claims most of them wins (ties go to registry order, so specific adapters
listed before the generic `ecs` one win). `--source NAME` skips detection. An unrecognised file is a SourceError that
names the file and the formats tried.
"""

from __future__ import annotations

import functools
import os
import queue
import stat
import threading
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from vigil.errors import Location, SourceError
from vigil.sources import auditd_log, exports, readers
from vigil.sources.base import Adapter, Record
from vigil.sources.follow import IDLE, Checkpoint, FileFollower, Position, follow_lines

SNIFF_LINES = 64


@dataclass
class SourceStats:
    """What a read went through: files, records, bad records with their locations, counts per adapter."""

    files: int = 0
    records: int = 0
    not_events: int = 0  # documents an adapter recognised but does not map to an event (normalize → None)
    bad: readers.BadRecords = field(default_factory=readers.BadRecords)
    per_source: Counter = field(default_factory=Counter)
    formats: dict[str, str] = field(default_factory=dict)  # path → format name
    notes: list[str] = field(default_factory=list)  # rotation, truncation, resumption

    def to_dict(self) -> dict[str, t.Any]:
        return {"files": self.files, "records": self.records, "not_events": self.not_events,
                "bad_records": self.bad.count, "bad_examples": list(self.bad.examples),
                "per_source": dict(self.per_source), "formats": dict(self.formats), "notes": list(self.notes)}

    def report(self) -> str:
        """A short human summary (for stderr)."""
        parts = [f"{self.files} file(s), {self.records} record(s)"]
        if self.per_source:
            parts.append("by source: " + ", ".join(f"{k} {v}" for k, v in sorted(self.per_source.items())))
        if self.not_events:
            parts.append(f"{self.not_events} document(s) not mapped to events")
        text = "; ".join(parts)
        if self.bad.count:
            text += f"\n{self.bad.count} bad record(s) skipped:" + "".join(f"\n  {e}" for e in self.bad.examples)
            if self.bad.count > len(self.bad.examples):
                text += f"\n  ... and {self.bad.count - len(self.bad.examples)} more"
        return text


# ---------------------------------------------------------------------------------------------------- registry
def all_adapters() -> dict[str, Adapter]:
    """Every known format by name: the JSON adapters (`vigil.sources.adapters.ADAPTERS`) plus raw audit logs."""
    try:
        from vigil.sources.adapters import ADAPTERS  # imported lazily: written by another module, heavy to build
    except ImportError:
        registry: dict[str, Adapter] = {}
    else:
        registry = dict(ADAPTERS)
    registry.setdefault(auditd_log.AUDITD_LOG.name, auditd_log.AUDITD_LOG)
    return registry


def _with_audit(registry: dict[str, Adapter]) -> dict[str, Adapter]:
    if auditd_log.AUDITD_LOG.name in registry:
        return registry
    return {**registry, auditd_log.AUDITD_LOG.name: auditd_log.AUDITD_LOG}


def resolve(name: str, registry: t.Optional[dict[str, Adapter]] = None) -> Adapter:
    """The adapter called `name` (or one of its aliases); SourceError listing the names otherwise."""
    registry = registry if registry is not None else all_adapters()
    if name in registry:
        return registry[name]
    for adapter in registry.values():
        if name in adapter.aliases:
            return adapter
    raise SourceError(f"unknown source format {name!r}", Location(key="--source"),
                      hint="known formats: " + ", ".join(sorted(registry)) + " (see `vigil sources list`)")


def _sniff(adapter: Adapter, doc: dict) -> bool:
    try:
        return bool(adapter.sniff(doc))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return False


def detect_lines(path: str, lines: t.Sequence[readers.Line], registry: t.Optional[dict[str, Adapter]] = None) -> Adapter:
    """The format of a file from its first non-blank lines."""
    registry = _with_audit(registry if registry is not None else all_adapters())
    audit = registry[auditd_log.AUDITD_LOG.name]
    tried = ", ".join(sorted(registry))
    if not lines:
        raise SourceError("empty input: no records to detect a format from", Location(path=path))
    if auditd_log.looks_like_audit_line(lines[0].data):
        return audit
    scratch = readers.BadRecords()
    docs = [raw.doc for raw in exports.iter_documents(path, lines, scratch)][:SNIFF_LINES]
    if not docs:
        reason = scratch.examples[0].split(": ", 1)[-1] if scratch.examples else "no JSON documents"
        raise SourceError(f"not a known format: neither JSON documents nor audit records (first problem: {reason})",
                          Location(path=path, line=lines[0].number), hint=f"formats tried: {tried}")
    votes: Counter = Counter()
    order = {name: i for i, name in enumerate(registry)}
    json_adapters = [a for a in registry.values() if a is not audit]
    for doc in docs:
        for adapter in json_adapters:
            if _sniff(adapter, doc):
                votes[adapter.name] += 1
                break
    if not votes:
        keys = ", ".join(sorted(docs[0])[:12])
        raise SourceError(f"unknown format: no adapter recognises these documents (first one has keys: {keys})",
                          Location(path=path, line=lines[0].number),
                          hint=f"formats tried: {tried}; force one with --source NAME")
    best = max(votes, key=lambda name: (votes[name], -order[name]))
    return registry[best]


def detect_file(path: str, registry: t.Optional[dict[str, Adapter]] = None) -> Adapter:
    """The format of one file (not stdin: sniffing would consume it)."""
    lines = readers.first_lines(path, SNIFF_LINES)
    if lines and exports._starts_pretty_json(lines[0].data):
        lines = [ln for ln in readers.iter_lines(path) if ln.data.strip()]  # one pretty-printed value: all of it
    return detect_lines(path, lines, registry)


# ---------------------------------------------------------------------------------------------------- pipelines
Positioned = tuple[Record, t.Optional[Position]]


def _complete_json(normalize: t.Callable[[dict], t.Optional[dict]], raw: t.Any) -> t.Optional[dict]:
    """The full document of a projected JSON record: `raw` is its decoded record, or its line when it was decoded
    projected (then decoded again in full, as the unprojected reader would have)."""
    if raw.__class__ is bytes:
        from vigil.sources.adapters.projection import full_decode

        raw = full_decode(raw)
    return normalize(raw)


def _to_record(adapter: Adapter, raw: exports.RawDoc, path: str, stats: SourceStats,
               normalize: t.Optional[t.Callable[[dict], t.Optional[dict]]] = None,
               completer: t.Optional[t.Callable[[], t.Optional[dict]]] = None) -> t.Optional[Record]:
    """`normalize`: the adapter's projected normalize when the stream has `fields`; the record can then be completed
    (`completer`, else the adapter's full normalize of the raw record or line)."""
    try:
        doc = (normalize or adapter.normalize)(raw.doc)
        if doc is None:
            stats.not_events += 1
            return None
        index = raw.index or adapter.index(doc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        stats.bad.add(path, raw.line, f"{adapter.name} cannot normalize this record: {type(error).__name__}: {error}")
        return None
    stats.records += 1
    stats.per_source[adapter.name] += 1
    if completer is None and normalize is not None and normalize is not adapter.normalize:
        completer = functools.partial(_complete_json, adapter.normalize, raw.doc if raw.data is None else raw.data)
    return Record(doc, index, raw.id, path, raw.line, adapter.name, completer)


def json_records(path: str, items: t.Iterable[t.Any], adapter: Adapter, stats: SourceStats, *,
                 prefilter: t.Optional[exports.Prefilter] = None, ident: tuple[int, int] = (0, 0),
                 positioned: bool = False, fields: t.Optional[t.Collection[str]] = None) -> t.Iterator[Positioned]:
    """Records of one JSON file. `items` are Lines, possibly mixed with follow markers (Idle, Reset).

    With `fields`, records carry the projected document (`Adapter.project`) and can be completed; lines are decoded
    projected too when the adapter offers it."""
    state = {"ident": ident}
    normalize = adapter.project(fields) if fields is not None else None
    decode = getattr(normalize, "decode", None) if normalize is not adapter.normalize else None

    def lines() -> t.Iterator[readers.Line]:
        for item in items:
            if isinstance(item, readers.Line):
                yield item
            elif hasattr(item, "position"):  # Reset: a new file or generation; positions refer to it from now on
                state["ident"] = (item.position.dev, item.position.inode)

    for raw in exports.iter_documents(path, lines(), stats.bad, prefilter=prefilter, decode=decode):
        record = _to_record(adapter, raw, path, stats, normalize)
        if record is not None:
            dev, inode = state["ident"]
            yield record, (Position(dev, inode, raw.end, raw.next_line) if positioned else None)


def audit_records(path: str, items: t.Iterable[t.Any], adapter: Adapter, stats: SourceStats, *,
                  host_os_type: t.Optional[str] = "linux", ident: tuple[int, int] = (0, 0),
                  positioned: bool = False, fields: t.Optional[t.Collection[str]] = None) -> t.Iterator[Positioned]:
    """Records of one raw audit log; each carries where to resume so that no event is read twice or lost.

    With `fields`, the parser builds only what those fields need (its `plan_for`); an emitted event's `complete`
    then builds the full document, and the record can be completed."""
    parser = auditd_log.AuditLogParser(host_os_type=host_os_type, fields=fields,
                                       on_bad=lambda line, reason: stats.bad.add(path, line, reason))
    dev, inode = ident
    after = (0, 1)  # (offset, line) just after the last line fed

    def emit(batch: list[auditd_log.Emitted], tail: tuple[int, int], tail_ident: tuple[int, int]) -> t.Iterator[Positioned]:
        for i, event in enumerate(batch):
            record = _to_record(adapter, exports.RawDoc(event.doc, None, None, event.line, 0, 0), path, stats,
                                completer=event.complete)
            if record is None:
                continue
            if not positioned:
                yield record, None
                continue
            if i + 1 < len(batch):
                pos = Position(dev, inode, batch[i + 1].offset, batch[i + 1].line)
            else:
                pos = Position(tail_ident[0], tail_ident[1], *tail)
            yield record, pos

    for item in items:
        if isinstance(item, readers.Line):
            after = (item.end, item.number + 1)
            batch = parser.feed(item.data, item.number, item.start)
            if batch:
                yield from emit(batch, parser.pending_start() or after, (dev, inode))
        elif hasattr(item, "position"):  # Reset: everything read so far is complete; resume at the new start
            new = item.position
            yield from emit(parser.flush(), (new.offset, new.line), (new.dev, new.inode))
            dev, inode, after = new.dev, new.inode, (new.offset, new.line)
        else:  # Idle: the writer paused; an event without EOE is as complete as it will get
            yield from emit(parser.flush(), after, (dev, inode))
    yield from emit(parser.flush(), after, (dev, inode))


def file_records(path: str, items: t.Iterable[t.Any], adapter: Adapter, stats: SourceStats, **options: t.Any) -> t.Iterator[Positioned]:
    if adapter.name == auditd_log.AUDITD_LOG.name:
        options.pop("prefilter", None)  # hex-encoded arguments defeat literal prefiltering of raw audit text
        return audit_records(path, items, adapter, stats, **options)
    options.pop("host_os_type", None)
    return json_records(path, items, adapter, stats, **options)


# ---------------------------------------------------------------------------------------------------- entry point
def _may_match(prefilter: t.Any) -> t.Optional[exports.Prefilter]:
    """Accept either a callable(bytes) -> bool or a `RequiredLiterals`-like object with `may_match`."""
    if prefilter is None:
        return None
    return getattr(prefilter, "may_match", prefilter)


def _batch_lines(path: str, prefilter: t.Any, shape_lines: list[readers.Line]) -> t.Iterator[readers.Line]:
    """All lines of a file read once, start to end, through the shared block reader when it is available."""
    use_block_prefilter = prefilter is not None and hasattr(prefilter, "best_clause") and shape_lines and \
        not shape_lines[0].data.lstrip().startswith(exports._BULK_LINE_STARTS) and \
        not exports._starts_pretty_json(shape_lines[0].data) and \
        not auditd_log.looks_like_audit_line(shape_lines[0].data)
    try:
        from vigil.io import ndjson
    except ImportError:
        yield from readers.iter_lines(path)
        return
    for number, data in ndjson.iter_lines(path, prefilter=prefilter if use_block_prefilter else None):
        yield readers.Line(number, 0, 0, data)


def open_sources(
    paths: list[str],
    *,
    source: t.Optional[str] = None,
    follow: bool = False,
    checkpoint: t.Optional[Path] = None,
    prefilter: t.Any = None,
    stats: t.Optional[SourceStats] = None,
    host_os_type: t.Optional[str] = "linux",
    autocommit: bool = True,
    registry: t.Optional[dict[str, Adapter]] = None,
    fields: t.Optional[t.Collection[str]] = None,
) -> "SourceStream":
    """Normalized ECS records (with index, id, path and line) from files, directories, globs or `-`.

    Each file's format is detected unless `source` names one. With `follow`, plain files are tailed through rotation
    and truncation until the stream is closed. With `checkpoint`, reading resumes where the last committed position
    left off, and positions are committed as records are consumed (`autocommit`) or when the caller calls
    `stream.commit()`. Bad records are counted in `stats` with their `file:line`, and reading goes on.

    `fields` (the ECS fields the enabled rules read, e.g. `vigil.io.projection.query_fields`): records then carry
    only what those fields need (`Adapter.project`: equal to the full document on every needed path) and
    `record.complete()` builds the full document, for the events that become alerts.
    """
    registry = _with_audit(registry if registry is not None else all_adapters())
    forced = resolve(source, registry) if source else None
    files = readers.expand_paths(paths)
    stats = stats if stats is not None else SourceStats()
    return SourceStream(files, registry=registry, forced=forced, follow=follow,
                        checkpoint=Checkpoint(checkpoint) if checkpoint is not None else None,
                        prefilter=prefilter, stats=stats, host_os_type=host_os_type, autocommit=autocommit,
                        fields=frozenset(fields) if fields is not None else None)


class _Failure(t.NamedTuple):
    error: BaseException


_END = object()


class SourceStream:
    """Iterator of `Record`s over many inputs, with checkpoint commits (see `open_sources`).

    Batch inputs are read one after the other in the calling thread. In follow mode each input gets a reader thread
    feeding one bounded queue (so a quiet file never holds up a busy one); `close()` stops them.
    """

    COMMIT_EVERY = 1000

    def __init__(self, files: list[str], *, registry: dict[str, Adapter], forced: t.Optional[Adapter], follow: bool,
                 checkpoint: t.Optional[Checkpoint], prefilter: t.Any, stats: SourceStats,
                 host_os_type: t.Optional[str], autocommit: bool, poll_interval: float = 0.1,
                 idle_after: float = 0.5, rotate_grace: float = 1.0, fields: t.Optional[frozenset[str]] = None):
        self.files, self.registry, self.forced = files, registry, forced
        self.follow, self.checkpoint, self.stats = follow, checkpoint, stats
        self.prefilter, self.host_os_type, self.autocommit = prefilter, host_os_type, autocommit
        self.fields = fields
        self.poll_interval, self.idle_after, self.rotate_grace = poll_interval, idle_after, rotate_grace
        self._handed: t.Optional[tuple[str, Position]] = None  # position after the record last handed out
        self._done: dict[str, Position] = {}  # positions consumed but not yet committed
        self._since_commit = 0
        self._stop = threading.Event()
        self._queue: "queue.Queue[t.Any]" = queue.Queue(maxsize=1024)
        self._threads: list[threading.Thread] = []
        self.stats.files = len(files)
        if follow and checkpoint is not None:
            # Pin each new file's identity now: if it is rotated before the first record is committed, a restart
            # still finds the old file by inode instead of skipping to the new one.
            for path in files:
                if checkpoint.get(path) is None and self._followable(path) and os.path.exists(path):
                    st = os.stat(path)
                    self._done[path] = Position(st.st_dev, st.st_ino, 0, 1)
        if not follow:  # detect every file before reading any, so a bad one fails before output starts
            self._formats = {p: self._detect_now(p) for p in files if p != readers.STDIN}
        self._gen = self._follow_all() if follow else self._batch_all()

    # -- consumer side
    def __iter__(self) -> "SourceStream":
        return self

    def __next__(self) -> Record:
        self._consume_handed()
        if self.autocommit and self._done and (self._since_commit >= self.COMMIT_EVERY or self.waiting()):
            self.commit()
        try:
            record, path, position = next(self._gen)
        except StopIteration:
            if self.autocommit and self._done:
                self.commit()
            raise
        if position is not None:
            self._handed = (path, position)
        return record

    def _consume_handed(self) -> None:
        if self._handed is not None:
            path, position = self._handed
            self._done[path] = position
            self._since_commit += 1
            self._handed = None

    def waiting(self) -> bool:
        """True when the next record is not ready yet (a good moment to commit)."""
        return self.follow and self._queue.empty()

    def commit(self, extra: t.Optional[dict] = None) -> None:
        """Persist the position after every record handed out so far (and the caller's `extra` bookmark)."""
        if self.checkpoint is None:
            return
        self._consume_handed()
        self.checkpoint.save(self._done, extra)
        self._done = {}
        self._since_commit = 0

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> "SourceStream":
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.close()

    # -- producers
    def _detect_now(self, path: str) -> Adapter:
        adapter = self.forced or detect_file(path, self.registry)
        self.stats.formats[path] = adapter.name
        return adapter

    def _followable(self, path: str) -> bool:
        if path == readers.STDIN:
            return False
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                return False
            with open(path, "rb") as fh:
                return readers.compression_of(fh.read(4)) is None
        except OSError:
            return True  # not there yet: it will be followed once it appears

    def _options(self, positioned: bool, ident: tuple[int, int] = (0, 0)) -> dict[str, t.Any]:
        return {"prefilter": _may_match(self.prefilter), "host_os_type": self.host_os_type, "ident": ident,
                "positioned": positioned, "fields": self.fields}

    def _batch_all(self) -> t.Iterator[tuple[Record, str, t.Optional[Position]]]:
        for path in self.files:
            if path == readers.STDIN:
                items = readers.iter_lines(path)
                head = [ln for _, ln in zip(range(SNIFF_LINES), items)]
                if head and exports._starts_pretty_json(head[0].data):
                    head += list(items)
                adapter = self.forced or detect_lines(path, [ln for ln in head if ln.data.strip()], self.registry)
                self.stats.formats[path] = adapter.name
                chained = _chain(head, items)
                for record, pos in file_records(path, chained, adapter, self.stats, **self._options(False)):
                    yield record, path, pos
                continue
            adapter = self._formats[path]
            if self.checkpoint is not None and self._followable(path):
                follower = FileFollower(path, self.checkpoint.get(path), follow=False, on_note=self.stats.notes.append,
                                        hold_partial=True)
                options = self._options(True, (follower.position.dev, follower.position.inode))
                try:
                    for record, pos in file_records(path, follow_lines(follower), adapter, self.stats, **options):
                        yield record, path, pos
                finally:
                    follower.close()
                continue
            head = readers.first_lines(path, 1)
            lines = _batch_lines(path, self.prefilter, head)
            for record, pos in file_records(path, lines, adapter, self.stats, **self._options(False)):
                yield record, path, pos

    def _follow_all(self) -> t.Iterator[tuple[Record, str, t.Optional[Position]]]:
        for path in self.files:
            thread = threading.Thread(target=self._worker, args=(path,), name=f"vigil-follow:{path}", daemon=True)
            self._threads.append(thread)
            thread.start()
        running = len(self._threads)
        try:
            while running:
                try:
                    item = self._queue.get(timeout=0.2)
                except queue.Empty:
                    # close() from another thread stops the workers before they can hand over _END: don't wait forever
                    if self._stop.is_set():
                        return
                    continue
                if item is _END:
                    running -= 1
                elif isinstance(item, _Failure):
                    raise item.error
                else:
                    yield item
        finally:
            self.close()

    def _put(self, item: t.Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _worker(self, path: str) -> None:
        try:
            if self._followable(path):
                self._follow_one(path)
            else:  # stdin or a compressed file: read once
                for record, pos in self._batch_one(path):
                    if self._stop.is_set():
                        return
                    self._put((record, path, pos))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer thread, which raises it
            self._put(_Failure(error))
        finally:
            self._put(_END)

    def _batch_one(self, path: str) -> t.Iterator[Positioned]:
        items = readers.iter_lines(path)
        head = [ln for _, ln in zip(range(SNIFF_LINES), items)]
        if head and exports._starts_pretty_json(head[0].data):
            head += list(items)
        adapter = self.forced or detect_lines(path, [ln for ln in head if ln.data.strip()], self.registry)
        self.stats.formats[path] = adapter.name
        return file_records(path, _chain(head, items), adapter, self.stats, **self._options(False))

    def _follow_one(self, path: str) -> None:
        start = self.checkpoint.get(path) if self.checkpoint is not None else None
        follower = FileFollower(path, start, follow=True, rotate_grace=self.rotate_grace,
                                on_note=self.stats.notes.append)
        try:
            items = follow_lines(follower, interval=self.poll_interval, idle_after=self.idle_after, stop=self._stop)
            ident = (follower.position.dev, follower.position.inode)
            adapter = self.forced
            head: list[t.Any] = []
            if adapter is None:  # buffer until there is something to detect the format from
                for item in items:
                    head.append(item)
                    lines = [x for x in head if isinstance(x, readers.Line) and x.data.strip()]
                    if len(lines) >= SNIFF_LINES or (lines and item is IDLE):
                        adapter = detect_lines(path, lines, self.registry)
                        break
                if adapter is None:
                    return
            self.stats.formats[path] = adapter.name
            options = self._options(self.checkpoint is not None, ident)
            for record, pos in file_records(path, _chain(head, items), adapter, self.stats, **options):
                if self._stop.is_set():
                    return
                self._put((record, path, pos))
        finally:
            follower.close()


def _chain(head: list[t.Any], rest: t.Iterator[t.Any]) -> t.Iterator[t.Any]:
    yield from head
    yield from rest
