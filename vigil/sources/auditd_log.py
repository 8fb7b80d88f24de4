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

`host.os.type` is not in the log. Audit logs only exist on Linux, so it defaults to "linux" (`host_os_type`).
The index is `auditbeat-default` (`DEFAULT_INDEX`): Auditbeat writes `auditbeat-<version>`, and the prebuilt rules
match `auditbeat-*`, so any suffix selects the same rules.
"""

from __future__ import annotations

import itertools
import re
import typing as t
from collections import OrderedDict
from dataclasses import dataclass, field

from vigil.sources.adapters.convert import _PREFIXES, _prefix
from vigil.sources.base import Adapter

DEFAULT_INDEX = "auditbeat-default"
UNSET_ID = "4294967295"  # (uint32)-1: "no login uid / no session"

# Multi-record syscall events close on these; EOE is the explicit end, PROCTITLE is the kernel's last record.
_CLOSERS = frozenset({"EOE", "PROCTITLE"})
# Fields whose unquoted values are hex-encoded strings (auparse's list, narrowed to what appears in exec events).
_HEX_FIELDS = frozenset(
    {"comm", "exe", "cwd", "name", "proctitle", "key", "acct", "cmd", "path", "old-chardev", "new-chardev", "data",
     "vm", "watch", "ocomm", "grantors", "new-disk", "old-disk", "root_dir"}
)
_EQUALS = itertools.repeat("=")
_KV = re.compile(r"""([^\s=]+)=("[^"]*"|'[^']*'|\S*)""")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_EXECVE_ARG = re.compile(r"a(\d+)(?:\[(\d+)\]|_len)?")

# arch field → (name, {syscall number: name}) for the syscalls whose events rules look at.
_ARCHES: dict[str, tuple[str, dict[str, str]]] = {
    "c000003e": ("x86_64", {"59": "execve", "322": "execveat", "60": "exit", "231": "exit_group", "42": "connect",
                            "43": "accept", "288": "accept4", "49": "bind", "50": "listen", "41": "socket",
                            "2": "open", "257": "openat", "62": "kill", "56": "clone", "57": "fork", "58": "vfork",
                            "105": "setuid", "16": "ioctl", "54": "setsockopt", "159": "adjtimex"}),
    "c00000b7": ("aarch64", {"221": "execve", "281": "execveat", "93": "exit", "94": "exit_group", "203": "connect",
                             "202": "accept", "242": "accept4", "200": "bind", "201": "listen", "198": "socket",
                             "56": "openat", "129": "kill", "220": "clone", "146": "setuid"}),
    "40000003": ("i386", {"11": "execve", "358": "execveat", "1": "exit", "252": "exit_group", "5": "open",
                          "295": "openat", "37": "kill", "120": "clone", "2": "fork", "190": "vfork"}),
}
_EXEC_SYSCALLS = frozenset({"execve", "execveat"})
# SYSCALL fields that become ECS or auditd.* fields of their own rather than auditd.data.*
_SYSCALL_CONSUMED = frozenset(
    {"arch", "syscall", "success", "items", "ppid", "pid", "auid", "uid", "gid", "euid", "suid", "fsuid", "egid",
     "sgid", "fsgid", "ses", "comm", "exe", "key", "subj"}
)


def looks_like_audit_line(data: bytes) -> bool:
    """True for a raw audit record line: `[node=X ]type=NAME msg=audit(...`."""
    if data.startswith(b"node="):
        data = data.partition(b" ")[2]
    return data.startswith(b"type=") and b" msg=audit(" in data[:64]


@dataclass(slots=True)
class _Group:
    node: t.Optional[str]
    stamp: str  # "<epoch>.<ms>:<serial>"
    first_line: int
    first_offset: int
    records: list[tuple[str, str]] = field(default_factory=list)  # (type, rest of line)
    closed: bool = False
    has_syscall: bool = False
    last_seen: int = 0  # the parser's serial counter when a record last joined


class Emitted(t.NamedTuple):
    doc: dict
    line: int  # line of the event's first record
    offset: int  # byte offset of that line


class AuditLogParser:
    """Incremental grouping of audit lines into events; feed lines, receive normalized ECS documents.

    Memory is bounded: at most `max_pending` groups are held; beyond that the oldest is closed as it is.
    """

    def __init__(self, *, host_os_type: t.Optional[str] = "linux", window: int = 8, max_pending: int = 4096,
                 on_bad: t.Optional[t.Callable[[int, str], None]] = None):
        self.host_os_type = host_os_type
        self.window = window
        self.max_pending = max_pending
        self.on_bad = on_bad
        self._pending: OrderedDict[tuple[t.Optional[str], str], _Group] = OrderedDict()
        self._serials = 0

    def feed(self, data: t.Union[bytes, str], line: int = 0, offset: int = 0) -> list[Emitted]:
        """Add one line; return the events that became complete, in first-line order."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if not text or text[0].isspace() and text.isspace():
            return []
        node = None
        if text[:5] == "node=":
            node, _, text = text[5:].partition(" ")
        # "type=SYSCALL msg=audit(1795888946.689:74484): arch=..."
        space = text.find(" ")
        close = text.find("):", space)
        if not text.startswith("type=") or space < 0 or close < 0 or text[space + 1: space + 11] != "msg=audit(":
            if self.on_bad:
                self.on_bad(line, "not an audit record (expected `type=NAME msg=audit(<time>:<serial>): ...`)")
            return []
        rtype = text[5:space]
        stamp = text[space + 11: close]
        rest = text[close + 2:]
        key = (node, stamp)
        group = self._pending.get(key)
        if group is not None and rtype not in _CLOSERS:
            # The common case mid-event: a record joins a pending group and closes nothing. After every feed the
            # oldest pending group is open (closed ones are drained), so nothing can be emitted: no further checks.
            group.records.append((rtype, rest))
            group.last_seen = self._serials
            if rtype == "SYSCALL":
                group.has_syscall = True
            return []
        if group is None:
            self._serials += 1
            self._age_out()
            group = self._pending[key] = _Group(node, stamp, line, offset)
        group.records.append((rtype, rest))
        group.last_seen = self._serials
        if rtype == "SYSCALL":
            group.has_syscall = True
        if rtype in _CLOSERS:
            group.closed = True
        oldest = next(iter(self._pending.values()))
        if len(self._pending) > self.max_pending:
            oldest.closed = True
        elif not oldest.closed:
            return []  # the common case mid-event: nothing can be emitted yet
        return self._drain()

    def _age_out(self) -> None:
        """A new serial started: close what can no longer be continued."""
        for group in self._pending.values():
            if group.closed:
                continue
            if not group.has_syscall or self._serials - group.last_seen > self.window:
                group.closed = True

    def _drain(self) -> list[Emitted]:
        out: list[Emitted] = []
        while self._pending:
            group = next(iter(self._pending.values()))
            if not group.closed:
                break
            self._pending.popitem(last=False)
            try:
                doc = normalize_group(group.node, group.stamp, group.records, host_os_type=self.host_os_type)
            except (ValueError, OverflowError, OSError) as error:  # e.g. a time stamp no clock can represent
                if self.on_bad:
                    self.on_bad(group.first_line, f"cannot normalize audit event {group.stamp!r}: {error}")
                continue
            if doc is not None:
                out.append(Emitted(doc, group.first_line, group.first_offset))
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


# ---------------------------------------------------------------------------------------------------------------
# Normalization of one group


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
        return _hex_text(raw)
    return raw


def _hex_text(raw: str) -> str:
    if len(raw) % 2 == 0 and _HEX.fullmatch(raw):
        return bytes.fromhex(raw).decode("utf-8", "replace")
    return raw


def _parse_exact(body: str, execve: bool) -> dict[str, t.Optional[str]]:
    """Field by field: the rule for every case (user-space `msg='...'` payloads, `(null)`, single quotes)."""
    fields: dict[str, t.Optional[str]] = {}
    for key, raw in _KV.findall(body):
        if key == "msg" and raw[:1] == "'":  # user-space message: its payload is itself key=value pairs
            inner = _parse_exact(raw[1:-1] if raw.endswith("'") else raw[1:], False)
            for k, v in inner.items():
                fields.setdefault(k, v)
            continue
        fields[key] = _decode_value(key, raw, execve)
    return fields


def _parse_body(body: str, execve: bool) -> dict[str, t.Optional[str]]:
    """`_parse_exact`'s result, built by C code in the common case: `dict(findall)` keeps values as written, then
    only the few values that need decoding are touched. Kernel records quote or hex-encode exactly the untrusted
    string fields; anything else (a quote elsewhere, `'`, `(null)`, `msg=`) takes the exact path."""
    if "'" in body or "(null)" in body or " =" in body or body[:1] == "=":
        return _parse_exact(body, execve)
    # Whitespace-separated `key=value` tokens split at their first `=`: the regex's pairs whenever no value holds a
    # quote (checked below) and no token starts with `=` (checked above); tokens without `=` match neither way.
    fields: dict[str, t.Optional[str]] = {key: value for key, sep, value in map(str.partition, body.split(), _EQUALS)
                                          if sep}
    quotes = body.count('"')
    if execve:
        # EXECVE: every value but argc and the aN_len lengths is a string (quoted, or hex when unquoted).
        for key, raw in fields.items():  # values change, keys do not: safe while iterating
            if raw[:1] == '"':
                if len(raw) >= 2 and raw[-1] == '"':
                    fields[key] = raw[1:-1]
                    quotes -= 2
                else:
                    fields[key] = raw[1:]
                    quotes -= 1
            elif raw and (key in _HEX_FIELDS or key != "argc" and not key.endswith("_len")):
                fields[key] = _hex_text(raw)
        return _parse_exact(body, execve) if quotes else fields
    for key in _HEX_FIELDS.intersection(fields):
        raw = fields[key]
        if raw[:1] == '"':
            if len(raw) >= 2 and raw[-1] == '"':
                fields[key] = raw[1:-1]
                quotes -= 2
            else:
                fields[key] = raw[1:]
                quotes -= 1
        elif raw:
            fields[key] = _hex_text(raw)
    if quotes:  # quoted values outside the string fields (or stray quotes): decode everything the exact way
        return _parse_exact(body, execve)
    return fields


def parse_fields(rest: str, rtype: str = "") -> tuple[dict[str, t.Optional[str]], dict[str, str]]:
    """key=value pairs of one record's body, and the ENRICHED interpreted names (upper-case keys, lowered)."""
    body, _, enriched = rest.partition("\x1d")
    fields = _parse_body(body, rtype == "EXECVE")
    names: dict[str, str] = {}
    if enriched:
        for key, raw in _KV.findall(enriched):
            names[key.lower()] = raw[1:-1] if raw[:1] == '"' and raw.endswith('"') else raw
    return fields, names


def _execve_args(records: list[dict[str, t.Optional[str]]]) -> list[str]:
    """EXECVE arguments in order, joining `aN[i]` chunks; one event may hold several EXECVE records.

    Keys are `aN` (whole), `aN[i]` (chunk i of argument N) and `aN_len`; string tests, no regex per key."""
    whole: dict[int, str] = {}
    chunks: dict[int, dict[int, str]] = {}
    for fields in records:
        for key, value in fields.items():
            if value is None or key[:1] != "a":
                continue
            number = key[1:]
            if number.isdigit():
                whole[int(number)] = value
            elif number[-1:] == "]":
                n, _, part = number[:-1].partition("[")
                if n.isdigit() and part.isdigit():
                    chunks.setdefault(int(n), {})[int(part)] = value
    # Every value is already text decoded with errors="replace", so joining text equals joining its UTF-8 bytes.
    for n, parts in chunks.items():
        whole[n] = "".join(parts[i] for i in sorted(parts))
    return [whole[i] for i in sorted(whole)]


def _proctitle(value: t.Optional[str]) -> t.Optional[str]:
    if value is None:
        return None
    return value.replace("\x00", " ").strip()


def _timestamp(stamp: str) -> tuple[str, int]:
    when, _, serial = stamp.partition(":")
    seconds, _, millis = when.partition(".")
    if len(millis) != 3:
        millis = (millis or "0")[:3].ljust(3, "0")
    return (_PREFIXES.get(seconds) or _prefix(seconds)) + "." + millis + "Z", int(serial)


def _int_or_none(value: t.Optional[str]) -> t.Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _file_from_path(path: dict[str, t.Optional[str]]) -> dict:
    out: dict[str, t.Any] = {}
    if path.get("name"):
        out["path"] = path["name"]
    out["device"] = path.get("rdev") or "00:00"  # aucoalesce reports rdev here (golden data shows "00:00")
    for src, dst in (("inode", "inode"), ("ouid", "uid"), ("ogid", "gid")):
        if path.get(src):
            out[dst] = path[src]
    mode = path.get("mode")
    if mode:
        try:
            out["mode"] = f"{int(mode, 8) & 0o7777:04o}"
        except ValueError:
            pass
    return out


_RESULTS = {"yes": "success", "no": "fail", "success": "success", "failed": "fail"}


def _id(value: t.Optional[str]) -> bool:
    return value is not None and value != UNSET_ID and value != "unset"


_MISS = object()
# ENRICHED name as written ('"alice"') → the name (or None for unset/?): user names repeat on every event of a host,
# so each is unquoted once. Bounded.
_NAME_TEXT: dict[str, t.Optional[str]] = {}


def _clean_name(raw: str) -> t.Optional[str]:
    text = raw[1:-1] if raw[:1] == '"' and raw.endswith('"') else raw
    if text == "unset" or text == "?":
        text = None
    if len(_NAME_TEXT) >= 4096:
        _NAME_TEXT.clear()
    _NAME_TEXT[raw] = text
    return text


# (uid field, its ENRICHED name, gid field, its name, where addUser() puts them): the entities after user/group.
_ENTITIES = (("euid", "EUID", "egid", "EGID", "effective"), ("suid", "SUID", "sgid", "SGID", "saved"),
             ("fsuid", "FSUID", "fsgid", "FSGID", "filesystem"), ("auid", "AUID", None, None, "audit"))


def _user(main: dict[str, t.Optional[str]], names: dict[str, str]) -> dict:
    """aucoalesce addUser(): ids (unset ones dropped) with the ENRICHED names (unquoted once per distinct name)."""
    user: dict[str, t.Any] = {}
    get = main.get
    cached = _NAME_TEXT.get
    value = get("uid")
    if value is not None and value != UNSET_ID and value != "unset":
        user["id"] = value
        if names and (raw := names.get("UID")) is not None:
            if (name := cached(raw, _MISS)) is _MISS:
                name = _clean_name(raw)
            if name is not None:
                user["name"] = name
    value = get("gid")
    if value is not None and value != UNSET_ID and value != "unset":
        group = user["group"] = {"id": value}
        if names and (raw := names.get("GID")) is not None:
            if (name := cached(raw, _MISS)) is _MISS:
                name = _clean_name(raw)
            if name is not None:
                group["name"] = name
    for uid_key, uid_name, gid_key, gid_name, outer in _ENTITIES:
        value = get(uid_key)
        if value is not None and value != UNSET_ID and value != "unset":
            entity = user[outer] = {"id": value}
            if names and (raw := names.get(uid_name)) is not None:
                if (name := cached(raw, _MISS)) is _MISS:
                    name = _clean_name(raw)
                if name is not None:
                    entity["name"] = name
        if gid_key is None:
            break  # there is no agid
        value = get(gid_key)
        if value is not None and value != UNSET_ID and value != "unset":
            group = user.setdefault(outer, {})["group"] = {"id": value}
            if names and (raw := names.get(gid_name)) is not None:
                if (name := cached(raw, _MISS)) is _MISS:
                    name = _clean_name(raw)
                if name is not None:
                    group["name"] = name
    subj = get("subj")
    if subj:
        user["selinux"] = _selinux(subj)
    eff = user.get("effective")
    if eff is not None and ((same := eff.get("id")) is not None and same == user.get("id")
                            or (same := eff.get("name")) is not None and same == user.get("name")):
        del user["effective"]  # audit_linux.go removeRedundantEntity: a user.effective equal to user is dropped
    return user


def normalize_group(node: t.Optional[str], stamp: str, records: list[tuple[str, str]], *,
                    host_os_type: t.Optional[str] = "linux") -> t.Optional[dict]:
    """The ECS document Auditbeat would index for one grouped event (None for an EOE-only remnant)."""
    syscall: t.Optional[dict[str, t.Optional[str]]] = None
    first_type: t.Optional[str] = None
    first_fields: dict[str, t.Optional[str]] = {}
    execve: list[dict[str, t.Optional[str]]] = []
    paths: list[dict[str, t.Optional[str]]] = []
    # ENRICHED names as written (`UID: '"alice"'`); later records override earlier ones, as before.
    names: dict[str, str] = {}
    cwd = title = None
    for rtype, rest in records:
        if rtype == "EOE":
            continue
        if "\x1d" in rest:
            # auditd writes the interpreted fields in upper case (`UID="alice"`); they are looked up that way.
            rest, _, enriched = rest.partition("\x1d")
            names.update(_KV.findall(enriched))
        if rtype == "CWD" or rtype == "PROCTITLE":
            # One field, `cwd="/home/alice"` / `proctitle=6C73...`: decoded alone when the body is just that
            # (no blank inside a quoted value, nothing after it); anything else takes the general parser.
            lead = " cwd=" if rtype == "CWD" else " proctitle="
            if (rest.startswith(lead) and rest.count(" ") == 1 and "'" not in rest and rest != lead + "(null)"
                    and rest.isprintable()):  # isprintable: no tab, newline or other separator `split()` would see
                value = rest[len(lead):]
                if value[:1] == '"':
                    value = value[1:-1] if len(value) >= 2 and value[-1] == '"' and value.count('"') == 2 else None
                elif value:
                    value = _hex_text(value) if '"' not in value else None
                if value is not None:
                    if rtype == "CWD":
                        cwd = value
                    else:
                        title = _proctitle(value)
                    if first_type is None:
                        first_type, first_fields = rtype, {lead[1:-1]: value}
                    continue
        fields = _parse_body(rest, rtype == "EXECVE")
        if rtype == "SYSCALL":
            syscall = fields
            continue
        if rtype == "EXECVE":
            execve.append(fields)
        elif rtype == "PATH":
            paths.append(fields)
        elif rtype == "CWD":
            cwd = fields.get("cwd")
        elif rtype == "PROCTITLE":
            title = _proctitle(fields.get("proctitle"))
        if first_type is None:
            first_type, first_fields = rtype, fields
    if syscall is None and first_type is None:
        return None
    timestamp, sequence = _timestamp(stamp)
    main = syscall if syscall is not None else first_fields
    get = main.get

    data: dict[str, t.Any] = {}
    action: t.Optional[str] = None
    result = get("success") or get("res")
    result = _RESULTS.get(result or "", result)
    if syscall is not None:
        arch_name, table = _ARCHES.get(get("arch") or "", (get("arch"), {}))
        number = get("syscall") or ""
        name = table.get(number, number)
        data["arch"] = arch_name
        data["syscall"] = name
        # filterfalse runs the membership tests in C: ~6 of a SYSCALL record's ~26 keys reach the Python loop.
        for key in itertools.filterfalse(_SYSCALL_CONSUMED.__contains__, syscall):
            value = syscall[key]
            if value is not None:
                data[key] = value
        if name in _EXEC_SYSCALLS:
            action = "executed"
    elif first_type == "USER_CMD":
        action = "ran-command"
        for key in ("cmd", "terminal", "cwd"):
            if first_fields.get(key) is not None:
                data[key] = first_fields[key]
    for fields in execve:
        if fields.get("argc") is not None:
            data["argc"] = fields["argc"]

    event: dict[str, t.Any] = {"module": "auditd", "kind": "event"}
    if action:
        event["action"] = action
        event["category"] = ["process"]
        event["type"] = ["start"]
    if result == "success" or result == "fail":
        event["outcome"] = "failure" if result == "fail" else "success"
    doc: dict[str, t.Any] = {"@timestamp": timestamp, "event": event}

    user = _user(main, names)
    if user:
        doc["user"] = user

    process: dict[str, t.Any] = {}
    pid, ppid = _int_or_none(get("pid")), _int_or_none(get("ppid"))
    if pid is not None:
        process["pid"] = pid
    if ppid is not None:
        process["parent"] = {"pid": ppid}
    if title:
        process["title"] = title
    value = get("comm")
    if value:
        process["name"] = value
    exe = get("exe")
    if exe:
        process["executable"] = exe
    if cwd:
        process["working_directory"] = cwd
    if execve:
        args = _execve_args(execve)
        if args:
            process["args"] = args  # no args_count: Auditbeat's addProcess does not set it, and rules test it
    if process:
        doc["process"] = process

    if action == "executed" and paths:
        doc["file"] = _file_from_path(paths[0])

    auditd: dict[str, t.Any] = {"message_type": "syscall" if syscall is not None else first_type.lower(),
                                "sequence": sequence}
    if result:
        auditd["result"] = result
    session = get("ses")
    if session is not None and session != UNSET_ID:
        auditd["session"] = session
    if data:
        auditd["data"] = data
    if paths:
        auditd["paths"] = [p if None not in p.values() else {k: v for k, v in p.items() if v is not None}
                           for p in paths]
    summary = _summary(action, main, paths)
    if summary:
        auditd["summary"] = summary
    doc["auditd"] = auditd
    key = get("key")
    if key:
        tags = _tags(key)
        if tags:
            doc["tags"] = tags
    doc["service"] = {"type": "auditd"}
    if node:
        host: dict[str, t.Any] = {"name": node, "hostname": node}
        if host_os_type:
            host["os"] = {"type": host_os_type}
        doc["host"] = host
    elif host_os_type:
        doc["host"] = {"os": {"type": host_os_type}}
    return doc


def _selinux(subj: str) -> dict:
    parts = subj.split(":")
    keys = ("user", "role", "domain", "level")
    return {k: v for k, v in zip(keys, parts[:3] + [":".join(parts[3:])] if len(parts) > 3 else parts) if v}


def _tags(key: t.Optional[str]) -> list[str]:
    if not key:
        return []
    out = []
    for part in key.split("\x01"):  # several rule keys are joined with \x01 (then hex-encoded)
        part = part[4:] if part.startswith("key=") else part
        if part:
            out.append(part)
    return out


def _summary(action: t.Optional[str], main: dict[str, t.Optional[str]], paths: list[dict]) -> dict:
    out: dict[str, t.Any] = {}
    auid, uid = main.get("auid"), main.get("uid")
    actor = {}
    if auid is not None:
        actor["primary"] = "unset" if auid == UNSET_ID else auid
    if uid is not None:
        actor["secondary"] = uid
    if actor:
        out["actor"] = actor
    if action:
        out["action"] = action
    if action == "executed":
        if paths and paths[0].get("name"):
            out["object"] = {"type": "file", "primary": paths[0]["name"]}
        if main.get("exe"):
            out["how"] = main["exe"]
    return out


def parse_lines(lines: t.Iterable[t.Any], *, host_os_type: t.Optional[str] = "linux",
                on_bad: t.Optional[t.Callable[[int, str], None]] = None) -> t.Iterator[Emitted]:
    """Every event in `lines` (objects with `.data`, `.number`, `.start`, e.g. `readers.Line`), flushed at the end."""
    parser = AuditLogParser(host_os_type=host_os_type, on_bad=on_bad)
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
