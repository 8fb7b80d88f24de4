"""The audit.log parser groups, orders, closes and reports lines exactly as the parser before the speed work did.

`OldParser` below is that parser (grouping by a decoded `(node, stamp)` with one `_Group` per event, every line
decoded on arrival), normalizing with the slow reference (tests/sources/auditd_log_reference.py). Generated line
streams mix interleaved serials, EOE/PROCTITLE closers, user-space messages, node prefixes, blank and garbage
lines; the new parser must emit the same documents at the same lines, report the same bad lines, and name the same
resume point after every line, fed bytes (the file reader) or text (the live sensor)."""

from __future__ import annotations

import typing as t
from collections import OrderedDict
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.sources import auditd_log_reference as reference
from tests.sources.test_auditd_log_fast import _record
from vigil.sources.auditd_log import AuditLogParser

_CLOSERS = frozenset({"EOE", "PROCTITLE"})


@dataclass(slots=True)
class _Group:
    node: t.Optional[str]
    stamp: str
    first_line: int
    first_offset: int
    records: list[tuple[str, str]] = field(default_factory=list)
    closed: bool = False
    has_syscall: bool = False
    last_seen: int = 0


class OldParser:
    """vigil.sources.auditd_log.AuditLogParser as of commit 69b6f58, with the reference normalization."""

    def __init__(self, *, window: int = 8, max_pending: int = 4096, on_bad=None):
        self.window, self.max_pending, self.on_bad = window, max_pending, on_bad
        self._pending: OrderedDict[tuple[t.Optional[str], str], _Group] = OrderedDict()
        self._serials = 0

    def feed(self, data, line=0, offset=0):
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if not text or text[0].isspace() and text.isspace():
            return []
        node = None
        if text[:5] == "node=":
            node, _, text = text[5:].partition(" ")
        space = text.find(" ")
        close = text.find("):", space)
        if not text.startswith("type=") or space < 0 or close < 0 or text[space + 1: space + 11] != "msg=audit(":
            if self.on_bad:
                self.on_bad(line, "not an audit record (expected `type=NAME msg=audit(<time>:<serial>): ...`)")
            return []
        rtype, stamp, rest = text[5:space], text[space + 11: close], text[close + 2:]
        key = (node, stamp)
        group = self._pending.get(key)
        if group is None:
            self._serials += 1
            for other in self._pending.values():
                if not other.closed and (not other.has_syscall or self._serials - other.last_seen > self.window):
                    other.closed = True
            group = self._pending[key] = _Group(node, stamp, line, offset)
        group.records.append((rtype, rest))
        group.last_seen = self._serials
        if rtype == "SYSCALL":
            group.has_syscall = True
        if rtype in _CLOSERS:
            group.closed = True
        if len(self._pending) > self.max_pending:
            next(iter(self._pending.values())).closed = True
        return self._drain()

    def _drain(self):
        out = []
        while self._pending:
            group = next(iter(self._pending.values()))
            if not group.closed:
                break
            self._pending.popitem(last=False)
            try:
                doc = reference.normalize_group(group.node, group.stamp, group.records)
            except (ValueError, OverflowError, OSError) as error:
                if self.on_bad:
                    self.on_bad(group.first_line, f"cannot normalize audit event {group.stamp!r}: {error}")
                continue
            if doc is not None:
                out.append((doc, group.first_line, group.first_offset))
        return out

    def flush(self):
        for group in self._pending.values():
            group.closed = True
        return self._drain()

    def pending_start(self):
        for group in self._pending.values():
            return group.first_offset, group.first_line
        return None


_STAMPS = ["1700000000.123:{}", "1700000000.5:{}", "1700000001:{}", "abc.1:{}"]
_line = st.one_of(
    st.tuples(st.sampled_from([None, None, None, "web-1", ""]), st.integers(1, 12), st.sampled_from(_STAMPS),
              _record).map(
        lambda x: (f"node={x[0]} " if x[0] is not None else "") + f"type={x[3][0]} msg=audit({x[2].format(x[1])}):"
        + (" " + x[3][1] if x[3][1] else "")),
    st.sampled_from(["", "   ", "garbage here", "type=SYSCALL no stamp", "node=x", "type=EOE msg=audit(1.1:1)",
                     "type=X msg=audit(1.2:3):", "type=SYSCALL msg=audit(1700000000.1:2): comm=\"\xe9\" a=\udcff"]),
)


def run(parser, lines: list[t.Union[str, bytes]]) -> tuple[list, list, list]:
    bad: list = []
    parser.on_bad = lambda line, reason: bad.append((line, reason))
    out, resume = [], []
    offset = 0
    for number, data in enumerate(lines, 1):
        for item in parser.feed(data, number, offset):
            out.append(tuple(item[:3]))
        resume.append(parser.pending_start())
        offset += len(data) + 1
    out.extend(tuple(item[:3]) for item in parser.flush())
    return out, bad, resume


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape") if "\udcff" in text else text.encode()


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_line, max_size=40), window=st.sampled_from([1, 2, 8]), max_pending=st.sampled_from([2, 4096]),
       as_bytes=st.booleans())
def test_grouping_and_resume_points_are_as_before(lines, window, max_pending, as_bytes):
    fed = [encode(line) for line in lines] if as_bytes else lines
    old = run(OldParser(window=window, max_pending=max_pending), fed)
    new = run(AuditLogParser(window=window, max_pending=max_pending), fed)
    assert new == old


def test_invalid_utf8_decodes_as_the_whole_line_did():
    lines = [b"type=SYSCALL msg=audit(1700000000.1:5): arch=c000003e syscall=59 comm=\"\xff\xfe\" exe=2F78",
             b"type=EXECVE msg=audit(1700000000.1:5): argc=1 a0=\"\xe2\x82\"", b"type=PROCTITLE msg=audit(1700000000.1:5): proctitle=78"]
    assert run(AuditLogParser(), lines) == run(OldParser(), lines)
