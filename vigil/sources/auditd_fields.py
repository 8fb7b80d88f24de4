"""The `key=value` bodies of raw audit records → decoded fields, fast and exactly as the field-by-field rule.

The rule (`parse_exact`, the oracle of tests/sources/auditd_log_reference.py): every `key=value` pair of the body,
a later key overriding an earlier one; `"..."`/`'...'` values unquoted, `(null)` is no value, unquoted values of the
string fields (`_HEX_FIELDS`, and every EXECVE argument) hex-decoded; a user-space `msg='...'` payload is itself
parsed and its keys added where the outer record has none.

Everything else here is a faster way to the same dict, chosen per record shape:

* `parse_body`: `str.split`/`partition` in C for bodies without the rare cases (checked first);
* `parse_syscall`: a SYSCALL body is the kernel's fixed prefix `arch= syscall= [success= exit=] a0..a3= items= ppid=
  pid=` (register values and numbers: new in every event) followed by a tail `auid= uid= ... tty= ses= comm= exe=
  subj= key=` that repeats for every run of the same program in the same login session. The prefix is matched by
  one regex into a fixed key tuple; the tail's parse is memoized (bounded);
* `parse_cached`: PATH/CWD/EXECVE/... bodies repeat verbatim (`/lib64/ld-linux-x86-64.so.2` in every dynamic exec,
  the same working directory, the same cron command), so their parse is memoized too (bounded).

Memoized dicts are shared: callers treat them as read-only and copy what they put into a document. A memo that
rarely hits (every event a new program) steps aside for a while: then it costs one counter per call.
"""

from __future__ import annotations

import itertools
import re
import typing as t

# Fields whose unquoted values are hex-encoded strings (auparse's list, narrowed to what appears in exec events).
_HEX_FIELDS = frozenset(
    {"comm", "exe", "cwd", "name", "proctitle", "key", "acct", "cmd", "path", "old-chardev", "new-chardev", "data",
     "vm", "watch", "ocomm", "grantors", "new-disk", "old-disk", "root_dir"}
)
_EQUALS = itertools.repeat("=")
_KV = re.compile(r"""([^\s=]+)=("[^"]*"|'[^']*'|\S*)""")
_HEX = re.compile(r"[0-9A-Fa-f]+")
# Bound of every memo below: a busy host repeats a few hundred distinct bodies; past the bound the memo is dropped
# whole (cheaper than LRU bookkeeping on every hit, and a cold start costs one parse per body).
CACHE_LIMIT = 1024


def _decode_value(key: str, raw: str, execve: bool) -> t.Optional[str]:
    if not raw:
        return raw
    first = raw[0]
    if first == '"' or first == "'":
        return raw[1:-1] if len(raw) >= 2 and raw[-1] == first else raw[1:]
    if raw == "(null)":
        return None
    # In SYSCALL records a0..a3 are register values (hex numbers kept as text); only EXECVE's aN are strings.
    if key in _HEX_FIELDS or execve and not key.endswith("_len") and key != "argc":
        return hex_text(raw)
    return raw


def hex_text(raw: str) -> str:
    if len(raw) % 2 == 0 and _HEX.fullmatch(raw):
        return bytes.fromhex(raw).decode("utf-8", "replace")
    return raw


def parse_exact(body: str, execve: bool) -> dict[str, t.Optional[str]]:
    """Field by field: the rule for every case (user-space `msg='...'` payloads, `(null)`, single quotes)."""
    fields: dict[str, t.Optional[str]] = {}
    for key, raw in _KV.findall(body):
        if key == "msg" and raw[:1] == "'":  # user-space message: its payload is itself key=value pairs
            inner = parse_exact(raw[1:-1] if raw.endswith("'") else raw[1:], False)
            for k, v in inner.items():
                fields.setdefault(k, v)
            continue
        fields[key] = _decode_value(key, raw, execve)
    return fields


def parse_body(body: str, execve: bool) -> dict[str, t.Optional[str]]:
    """`parse_exact`'s result, built by C code in the common case: `dict(findall)` keeps values as written, then
    only the few values that need decoding are touched. Kernel records quote or hex-encode exactly the untrusted
    string fields; anything else (a quote elsewhere, `'`, `(null)`, `msg=`) takes the exact path."""
    if "'" in body or "(null)" in body or " =" in body or body[:1] == "=":
        return parse_exact(body, execve)
    # Whitespace-separated `key=value` tokens split at their first `=`: the regex's pairs whenever no value holds a
    # quote (checked below) and no token starts with `=` (checked above); tokens without `=` match neither way.
    fields: dict[str, t.Optional[str]] = {key: value for key, sep, value in map(str.partition, body.split(), _EQUALS)
                                          if sep}
    quotes = body.count('"')
    # The string fields: in EXECVE every value but argc and the aN_len lengths (quoted, or hex when unquoted);
    # elsewhere the kernel's untrusted-string fields. Values change, keys do not: safe while iterating.
    for key in fields if execve else _HEX_FIELDS.intersection(fields):
        raw = fields[key]
        if raw[:1] == '"':
            if len(raw) >= 2 and raw[-1] == '"':
                fields[key] = raw[1:-1]
                quotes -= 2
            else:
                fields[key] = raw[1:]
                quotes -= 1
        elif raw and (not execve or key in _HEX_FIELDS or key != "argc" and not key.endswith("_len")):
            fields[key] = hex_text(raw)
    if quotes:  # quoted values outside the string fields (or stray quotes): decode everything the exact way
        return parse_exact(body, execve)
    return fields


class _Memo:
    """A bounded memo that steps aside when it does not pay: when under a quarter of a window's lookups hit (every
    event a new program), storing and dropping entries costs more than it saves, so bodies are parsed directly for
    a while and the memo is tried again."""

    __slots__ = ("table", "calls", "misses", "bypass")

    def __init__(self) -> None:
        self.table: dict[str, dict[str, t.Optional[str]]] = {}
        self.calls = self.misses = self.bypass = 0

    def store(self, body: str, fields: dict[str, t.Optional[str]]) -> None:
        self.misses += 1
        if self.calls >= _WINDOW:
            if self.misses * 4 > self.calls * 3:
                self.bypass = 16 * _WINDOW
                self.table.clear()
                self.calls = self.misses = 0
                return
            self.calls = self.misses = 0
        table = self.table
        if len(table) >= CACHE_LIMIT:
            table.clear()
        table[body] = fields


_WINDOW = 1024
_BODIES = _Memo()
_EXECVE_BODIES = _Memo()


def parse_cached(body: str, execve: bool) -> dict[str, t.Optional[str]]:
    """`parse_body`, memoized per distinct body. The result is shared: do not modify it."""
    memo = _EXECVE_BODIES if execve else _BODIES
    if memo.bypass:
        memo.bypass -= 1
        return parse_body(body, execve)
    memo.calls += 1
    fields = memo.table.get(body)
    if fields is None:
        fields = parse_body(body, execve)
        memo.store(body, fields)
    return fields


def parse_single(body: str, key: str) -> dict[str, t.Optional[str]]:
    """`parse_cached` for the one-field records (CWD `cwd=`, PROCTITLE `proctitle=`): on a memo miss the value is
    decoded alone when the body is just ` key=value` (no blank inside a quoted value, nothing after it)."""
    memo = _BODIES
    if memo.bypass:
        memo.bypass -= 1
        return _single(body, key) or parse_body(body, False)
    memo.calls += 1
    fields = memo.table.get(body)
    if fields is None:
        fields = _single(body, key) or parse_body(body, False)
        memo.store(body, fields)
    return fields


def _single(body: str, key: str) -> t.Optional[dict[str, t.Optional[str]]]:
    lead = " " + key + "="
    # isprintable: no tab, newline or other separator `split()` would see
    if body.startswith(lead) and body.count(" ") == 1 and "'" not in body and body != lead + "(null)" \
            and body.isprintable():
        value: t.Optional[str] = body[len(lead):]
        if value[:1] == '"':
            value = value[1:-1] if len(value) >= 2 and value[-1] == '"' and value.count('"') == 2 else None
        elif value:
            value = hex_text(value) if '"' not in value else None
        if value is not None:
            return {key: value}
    return None


# The kernel's SYSCALL prefix (kernel/auditsc.c audit_log_exit): numbers and registers only, so each token is one
# plain `key=value` pair that no decoding rule touches. It must end where a token ends (a blank or the end).
_HEAD_KEYS = ("arch", "syscall", "success", "exit", "a0", "a1", "a2", "a3", "items", "ppid", "pid")
_HEAD_KEYS_NO_EXIT = ("arch", "syscall", "a0", "a1", "a2", "a3", "items", "ppid", "pid")
_HEAD = re.compile(r" arch=([0-9a-f]+) syscall=([0-9]+) success=(yes|no) exit=(-?[0-9]+) a0=([0-9a-f]+) "
                   r"a1=([0-9a-f]+) a2=([0-9a-f]+) a3=([0-9a-f]+) items=([0-9]+) ppid=([0-9]+) pid=([0-9]+)(?=\s|$)")
_HEAD_NO_EXIT = re.compile(r" arch=([0-9a-f]+) syscall=([0-9]+) a0=([0-9a-f]+) a1=([0-9a-f]+) a2=([0-9a-f]+) "
                           r"a3=([0-9a-f]+) items=([0-9]+) ppid=([0-9]+) pid=([0-9]+)(?=\s|$)")
_TAILS: dict[str, dict[str, t.Optional[str]]] = {}


# When the tails stop repeating (every event a new program or session), splitting and memoizing costs more than it
# saves: after a window of calls with few hits, bodies are parsed whole for a while, then the memo is tried again.
_calls = _misses = _bypass = 0


def parse_syscall(body: str) -> dict[str, t.Optional[str]]:
    """A SYSCALL body's fields (a new dict): `parse_body(body, False)`, with the repeating tail memoized.

    Why splitting is exact: the prefix's pairs are exactly the first pairs the field-by-field rule finds (plain
    tokens, the last one ending at a blank), and that rule's scan then resumes at the tail's first character as a
    scan of the tail alone would. Merging `{**head, **tail}` keeps "a later key overrides, at the first key's place".
    The one non-local rule, a `msg='...'` payload adding keys only where none exist, needs a `'`: such tails are
    parsed whole."""
    global _calls, _misses, _bypass
    if _bypass:
        _bypass -= 1
        return parse_body(body, False)
    _calls += 1
    if _calls >= _WINDOW:
        if _misses * 4 > _calls * 3:  # under a quarter of the tails were seen before
            _bypass = 16 * _WINDOW
            _TAILS.clear()
        _calls = _misses = 0
    match = _HEAD.match(body)
    if match is not None:
        head = dict(zip(_HEAD_KEYS, match.groups()))
    else:
        match = _HEAD_NO_EXIT.match(body)
        if match is None:
            return parse_body(body, False)
        head = dict(zip(_HEAD_KEYS_NO_EXIT, match.groups()))
    tail = body[match.end():]
    if not tail:
        return head
    fields = _TAILS.get(tail)
    if fields is None:
        _misses += 1
        if "'" in tail:
            return parse_body(body, False)
        fields = parse_body(tail, False)
        if len(_TAILS) >= CACHE_LIMIT:
            _TAILS.clear()
        _TAILS[tail] = fields
    head.update(fields)
    return head


_ENRICHED: dict[str, list[tuple[str, str]]] = {}


def enriched_pairs(enriched: str) -> list[tuple[str, str]]:
    """The ENRICHED section's `(NAME, value as written)` pairs, memoized (they repeat per user and syscall)."""
    pairs = _ENRICHED.get(enriched)
    if pairs is None:
        pairs = _KV.findall(enriched)
        if len(_ENRICHED) >= CACHE_LIMIT:
            _ENRICHED.clear()
        _ENRICHED[enriched] = pairs
    return pairs


def parse_fields(rest: str, rtype: str = "") -> tuple[dict[str, t.Optional[str]], dict[str, str]]:
    """key=value pairs of one record's body, and the ENRICHED interpreted names (upper-case keys, lowered)."""
    body, _, enriched = rest.partition("\x1d")
    fields = parse_body(body, rtype == "EXECVE")
    names: dict[str, str] = {}
    if enriched:
        for key, raw in _KV.findall(enriched):
            names[key.lower()] = raw[1:-1] if raw[:1] == '"' and raw.endswith('"') else raw
    return fields, names


def execve_args(records: list[dict[str, t.Optional[str]]]) -> list[str]:
    """EXECVE arguments in order, joining `aN[i]` chunks; one event may hold several EXECVE records.

    Keys are `aN` (whole), `aN[i]` (chunk i of argument N) and `aN_len`; string tests, no regex per key.
    `isdecimal` is the reference regex's `\\d` exactly (`isdigit` would also take `²`, which `int` rejects)."""
    whole: dict[int, str] = {}
    chunks: dict[int, dict[int, str]] = {}
    for fields in records:
        for key, value in fields.items():
            if value is None or key[:1] != "a":
                continue
            number = key[1:]
            if number.isdecimal():
                whole[int(number)] = value
            elif number[-1:] == "]":
                n, _, part = number[:-1].partition("[")
                if n.isdecimal() and part.isdecimal():
                    chunks.setdefault(int(n), {})[int(part)] = value
    # Every value is already text decoded with errors="replace", so joining text equals joining its UTF-8 bytes.
    for n, parts in chunks.items():
        whole[n] = "".join(parts[i] for i in sorted(parts))
    return [whole[i] for i in sorted(whole)]
