"""Raw Linux audit logs (`/var/log/audit/audit.log`, RAW or ENRICHED format) → the ECS documents Auditbeat indexes.

One kernel event is several text records sharing `msg=audit(<epoch>.<ms>:<serial>)`: SYSCALL, EXECVE, CWD, PATH...,
PROCTITLE (and sometimes EOE). They are grouped by (node, stamp) and the group is normalized the way Auditbeat's
auditd module does it (go-libaudit `aucoalesce` + beats `audit_linux.go`): `event.action` "executed" for a
successful or failed execve/execveat, `process.*` from SYSCALL/EXECVE/CWD/PROCTITLE, `user.*` from the ids (names
from the ENRICHED section when present), `auditd.*` for the rest.

Format facts this parser relies on (measured on real auditd output, see docs/sources.md "Raw audit.log"):

* auditd rarely writes EOE to the file, so a group also closes on PROCTITLE (the kernel's last record of a syscall
  event), a standalone user-space message closes when the next serial starts, and anything else closes when
  `window` newer serials have started since its last record, at end of input, or when the caller flushes an idle
  stream. Events are emitted in the order of their first line, which is what makes checkpoints exact.
* Unquoted values of string fields are hex (used when the value holds a space, quote or control byte); `(null)`
  is no value. EXECVE arguments may be split as `aN_len=` + `aN[0]=`, `aN[1]=`... chunks.
* ENRICHED lines carry `\\x1d` then upper-case interpreted fields (`UID="root" AUID="alice"`): the names.
* `node=<host> ` may prefix every line.

Records are only split into fields when their group is complete (vigil.sources.auditd_fields splits bodies,
vigil.sources.auditd_ecs builds the document).
With `fields=` (projection) only the records the listed ECS fields come from are split, and only those parts of the
document are built; `Emitted.complete()` builds the full document when an event becomes an alert.

`host.os.type` is not in the log. Audit logs only exist on Linux, so it defaults to "linux" (`host_os_type`).
The index is `auditbeat-default` (`DEFAULT_INDEX`): Auditbeat writes `auditbeat-<version>`, and the prebuilt rules
match `auditbeat-*`, so any suffix selects the same rules.
"""

from __future__ import annotations

import functools
import re
import typing as t
from collections import OrderedDict

from vigil.sources.auditd_ecs import (  # noqa: F401  (re-exported: callers and tests use them from here)
    FULL, UNSET_ID, Plan, _normalize, normalize_group, plan_for,
)
from vigil.sources.auditd_fields import execve_args, hex_text, parse_body, parse_exact, parse_fields  # noqa: F401
from vigil.sources.base import Adapter

DEFAULT_INDEX = "auditbeat-default"

# Multi-record syscall events close on these; EOE is the explicit end, PROCTITLE is the kernel's last record.
_CLOSERS = frozenset({"EOE", "PROCTITLE"})
# `[node=<host> ]type=<TYPE> msg=audit(<stamp>): <body>`: the node ends at the first blank, the type at the next
# one, and the stamp at the first `):` after it.
_LINE = re.compile(r"(?:node=([^ ]*) )?type=([^ ]*) msg=audit\((.*?)\):", re.S)
# The same over bytes: every delimiter is ASCII, so it splits a line where decoding it first would, and decoding
# the pieces after an ASCII byte gives the text decoding the whole line gives (errors="replace" included).
_LINE_BYTES = re.compile(_LINE.pattern.encode(), re.S)
_CLOSERS_ANY = _CLOSERS | {name.encode() for name in _CLOSERS}
_SYSCALL_ANY = frozenset({"SYSCALL", b"SYSCALL"})

# Kept for callers of the old private names.
_parse_body = parse_body
_parse_exact = parse_exact
_hex_text = hex_text
_execve_args = execve_args


def looks_like_audit_line(data: bytes) -> bool:
    """True for a raw audit record line: `[node=X ]type=NAME msg=audit(...`."""
    if data.startswith(b"node="):
        data = data.partition(b" ")[2]
    return data.startswith(b"type=") and b" msg=audit(" in data[:64]


class _Group:
    """Records of one event as written; split into fields only once the group is complete."""

    __slots__ = ("key", "first_line", "first_offset", "records", "closed", "has_syscall", "last_seen")

    def __init__(self, key: t.Any, first_line: int, first_offset: int, last_seen: int):
        self.key = key  # the stamp "<epoch>.<ms>:<serial>", or (node, stamp); bytes or text as fed
        self.first_line = first_line
        self.first_offset = first_offset
        # (type, line, where the body starts): bytes or text as fed, sliced and decoded when normalized
        self.records: list[tuple[t.Union[bytes, str], t.Union[bytes, str], int]] = []
        self.closed = False
        self.has_syscall = False
        self.last_seen = last_seen  # the parser's serial counter when a record last joined


class Emitted(t.NamedTuple):
    doc: dict
    line: int  # line of the event's first record
    offset: int  # byte offset of that line
    # With projection: builds the full document (a new dict each call). None when `doc` is already full.
    complete: t.Optional[t.Callable[[], dict]] = None


class AuditLogParser:
    """Incremental grouping of audit lines into events; feed lines, receive normalized ECS documents.

    Memory is bounded: at most `max_pending` groups are held; beyond that the oldest is closed as it is.
    `fields` (ECS field paths, `process` meaning `process.*`): emitted documents hold at least these fields, exactly
    as the full document has them, and `Emitted.complete()` gives the full document. None: full documents.
    """

    def __init__(self, *, host_os_type: t.Optional[str] = "linux", window: int = 8, max_pending: int = 4096,
                 on_bad: t.Optional[t.Callable[[int, str], None]] = None,
                 fields: t.Optional[t.Collection[str]] = None):
        self.host_os_type = host_os_type
        self.window = window
        self.max_pending = max_pending
        self.on_bad = on_bad
        self.plan = plan_for(fields)
        # Keyed by the stamp alone when there is no node (the common case: no tuple to build and hash per line),
        # by (node, stamp) otherwise; a str never equals a tuple, so the two cannot collide.
        self._pending: OrderedDict[t.Any, _Group] = OrderedDict()
        self._serials = 0

    def feed(self, data: t.Union[bytes, str], line: int = 0, offset: int = 0) -> list[Emitted]:
        """Add one line; return the events that became complete, in first-line order.

        Bytes are kept as they are until their group is complete (and, with projection, decoded only if a listed
        field comes from them); feed one parser either bytes or text, not both (a stamp is a group's key)."""
        # The file reader's lines (bytes, no node): two finds instead of the regex; `startswith`, not a slice
        # compare (a slice is a new bytes object per line: ~13 % of the projected parse).
        if data.__class__ is bytes and data.startswith(b"type="):
            space = data.find(b" ")
            close = data.find(b"):", space) if data.startswith(b"msg=audit(", space + 1) else -1
            if close < 0:
                return self._bad(line)
            rtype = data[5:space]
            key = data[space + 11: close]
            end = close + 2
        else:
            match = (_LINE_BYTES if isinstance(data, bytes) else _LINE).match(data)
            if match is None:
                return self._bad(line) if data and not data.isspace() else []
            node, rtype, key = match.groups()
            if node is not None:
                key = (node, key)
            end = match.end()
        group = self._pending.get(key)
        if group is not None and rtype not in _CLOSERS_ANY:
            # The common case mid-event: a record joins a pending group and closes nothing. After every feed the
            # oldest pending group is open (closed ones are drained), so nothing can be emitted: no further checks.
            group.records.append((rtype, data, end))
            group.last_seen = self._serials
            if rtype in _SYSCALL_ANY:
                group.has_syscall = True
            return []
        if group is None:
            self._serials += 1
            self._age_out()
            group = self._pending[key] = _Group(key, line, offset, self._serials)
        group.records.append((rtype, data, end))
        group.last_seen = self._serials
        if rtype in _SYSCALL_ANY:
            group.has_syscall = True
        if rtype in _CLOSERS_ANY:
            group.closed = True
        oldest = next(iter(self._pending.values()))
        if len(self._pending) > self.max_pending:
            oldest.closed = True
        elif not oldest.closed:
            return []  # the common case mid-event: nothing can be emitted yet
        return self._drain()

    def _bad(self, line: int) -> list[Emitted]:
        if self.on_bad:
            self.on_bad(line, "not an audit record (expected `type=NAME msg=audit(<time>:<serial>): ...`)")
        return []

    def _age_out(self) -> None:
        """A new serial started: close what can no longer be continued."""
        for group in self._pending.values():
            if group.closed:
                continue
            if not group.has_syscall or self._serials - group.last_seen > self.window:
                group.closed = True

    def _drain(self) -> list[Emitted]:
        out: list[Emitted] = []
        plan = self.plan
        partial = plan is not FULL
        while self._pending:
            group = next(iter(self._pending.values()))
            if not group.closed:
                break
            self._pending.popitem(last=False)
            # Without a SYSCALL record the event's fields come from whichever record is first: built in full.
            projected = partial and group.has_syscall
            node, stamp = group.key if group.key.__class__ is tuple else (None, group.key)
            if stamp.__class__ is bytes:
                stamp = stamp.decode("utf-8", "replace")
                if node is not None:
                    node = node.decode("utf-8", "replace")
            try:
                doc = _normalize(node, stamp, group.records, self.host_os_type, plan if projected else FULL)
            except (ValueError, OverflowError, OSError) as error:  # e.g. a time stamp no clock can represent
                if self.on_bad:
                    self.on_bad(group.first_line, f"cannot normalize audit event {stamp!r}: {error}")
                continue
            if doc is not None:
                complete = functools.partial(_normalize, node, stamp, group.records, self.host_os_type, FULL) \
                    if projected else None
                out.append(Emitted(doc, group.first_line, group.first_offset, complete))
        return out

    def flush(self) -> list[Emitted]:
        """Close every pending group (end of input, or the live stream went idle)."""
        for group in self._pending.values():
            group.closed = True
        return self._drain()

    def pending_start(self) -> t.Optional[tuple[int, int]]:
        """(offset, line) of the oldest line not yet part of an emitted event, or None when nothing is pending."""
        for group in self._pending.values():
            return group.first_offset, group.first_line
        return None


def parse_lines(lines: t.Iterable[t.Any], *, host_os_type: t.Optional[str] = "linux",
                on_bad: t.Optional[t.Callable[[int, str], None]] = None,
                fields: t.Optional[t.Collection[str]] = None) -> t.Iterator[Emitted]:
    """Every event in `lines` (objects with `.data`, `.number`, `.start`, e.g. `readers.Line`), flushed at the end.
    `fields`: projection, as in `AuditLogParser`."""
    parser = AuditLogParser(host_os_type=host_os_type, on_bad=on_bad, fields=fields)
    feed = parser.feed
    for ln in lines:
        done = feed(ln.data, ln.number, ln.start)
        if done:  # most lines complete nothing: skip the generator hand-off for them
            yield from done
    yield from parser.flush()


def index_of(doc: dict) -> str:
    return DEFAULT_INDEX


AUDITD_LOG = Adapter(
    name="auditd_log",
    description="raw Linux audit log text (audit.log, RAW or ENRICHED) grouped and normalized like Auditbeat's auditd module",
    sniff=lambda raw: False,  # a text format: detected from lines by `looks_like_audit_line`, never from JSON
    normalize=lambda doc: doc,  # documents leave this module already normalized
    index=index_of,
    aliases=("audit.log", "auditd_raw"),
)
