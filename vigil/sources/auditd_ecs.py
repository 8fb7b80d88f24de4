"""One grouped audit event (its SYSCALL, EXECVE, CWD, PATH..., PROCTITLE records) → the ECS document Auditbeat's
auditd module indexes (go-libaudit `aucoalesce` + beats `audit_linux.go`), whole or projected onto a set of fields.

Projection (`Plan`, `plan_for`): detection only reads the fields its rules name, so only the records those fields
come from are split and only those parts of the document are built; the full document is built again for alerts.
Grouping and line handling live in vigil.sources.auditd_log, field splitting in vigil.sources.auditd_fields.
"""

from __future__ import annotations

import functools
import itertools
import typing as t

from vigil.sources.adapters.convert import _PREFIXES, _prefix
from vigil.sources.auditd_fields import enriched_pairs, execve_args, parse_cached, parse_single, parse_syscall

UNSET_ID = "4294967295"  # (uint32)-1: "no login uid / no session"

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


# ---------------------------------------------------------------------------------------------------------------
# Projection: which records to split and which parts of the document to build for a set of ECS fields


class Plan(t.NamedTuple):
    """What one normalization reads (`names`... `title`: records) and builds (`event`... `host`: document parts)."""

    names: bool
    execve: bool
    paths: bool
    cwd: bool
    title: bool
    event: bool
    user: bool
    process: bool
    file: bool
    auditd: bool
    tags: bool
    service: bool
    host: bool


FULL = Plan(*([True] * len(Plan._fields)))


def plan_for(fields: t.Optional[t.Collection[str]]) -> Plan:
    """The least work that still gives every field in `fields` exactly as the full document has it.

    A field names a dotted path (`process.name`) or a whole object (`process`). Top-level names no audit document
    has (`agent.*`, `_index`...) need nothing: they are absent either way."""
    if fields is None:
        return FULL
    need: set[str] = set()
    for name in fields:
        top, _, sub = name.partition(".")
        part = sub.partition(".")[0]
        if top == "process":
            need.add("process")
            if not sub:
                need.update(("execve", "cwd", "title"))
            elif part == "args":
                need.add("execve")
            elif part == "title":
                need.add("title")
            elif part == "working_directory":
                need.add("cwd")
        elif top == "user":
            need.update(("user", "names"))
        elif top == "file":
            need.update(("file", "paths"))
        elif top == "auditd":
            return FULL  # auditd.* reads every record (data.argc from EXECVE, paths, summary)
        elif top in ("event", "tags", "service", "host"):
            need.add(top)
    return Plan(*(name in need for name in Plan._fields))


# ---------------------------------------------------------------------------------------------------------------
# Normalization of one group


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
                    host_os_type: t.Optional[str] = "linux", plan: Plan = FULL) -> t.Optional[dict]:
    """The ECS document Auditbeat would index for one grouped event (None for an EOE-only remnant).

    `records` are (type, body after `msg=audit(...):`). With a partial `plan` (see `plan_for`), only the records
    and document parts it names are read and built; each part that is built equals the full document's. It needs a
    SYSCALL record (whose fields every part reads); without one the full document is built."""
    return _normalize(node, stamp, [(rtype, rest, 0) for rtype, rest in records], host_os_type, plan)


# Record types as fed in bytes → their text (a handful of distinct values).
_TYPE_TEXT: dict[bytes, str] = {}


def _type_text(rtype: bytes) -> str:
    text = rtype.decode("utf-8", "replace")
    if len(_TYPE_TEXT) < 1024:
        _TYPE_TEXT[rtype] = text
    return text


@functools.lru_cache(maxsize=64)
def _reads(plan: Plan) -> frozenset[str]:
    """The record types a partial plan splits (ENRICHED names aside: they make every record read).

    Both spellings: a record fed as bytes is skipped before its type is even decoded."""
    wanted = {"SYSCALL"}
    for rtype, part in (("EXECVE", plan.execve), ("PATH", plan.paths), ("CWD", plan.cwd), ("PROCTITLE", plan.title)):
        if part:
            wanted.add(rtype)
    return frozenset(wanted | {name.encode() for name in wanted})  # types as fed: text or bytes


def _normalize(node: t.Optional[str], stamp: str, records: list[tuple[t.Any, t.Any, int]],
               host_os_type: t.Optional[str], plan: Plan) -> t.Optional[dict]:
    """`normalize_group` over records as the parser holds them: (type, line, where the body starts)."""
    syscall: t.Optional[dict[str, t.Optional[str]]] = None
    first_type: t.Optional[str] = None
    first_fields: dict[str, t.Optional[str]] = {}
    execve: list[dict[str, t.Optional[str]]] = []
    paths: list[dict[str, t.Optional[str]]] = []
    # ENRICHED names as written (`UID: '"alice"'`); later records override earlier ones.
    names: dict[str, str] = {}
    cwd = title = None
    full = plan is FULL
    want_names = plan.names
    reads = None if full or want_names else _reads(plan)
    for rtype, rest, start in records:
        if reads is not None and rtype not in reads:
            continue  # a record no listed field comes from is never sliced nor decoded
        if rtype.__class__ is bytes:
            rtype = _TYPE_TEXT.get(rtype) or _type_text(rtype)
        if rtype == "EOE":
            continue
        if start:
            rest = rest[start:]
        if rest.__class__ is bytes:
            rest = rest.decode("utf-8", "replace")
        if "\x1d" in rest:
            # auditd writes the interpreted fields in upper case (`UID="alice"`); they are looked up that way.
            rest, _, enriched = rest.partition("\x1d")
            if want_names:
                names.update(enriched_pairs(enriched))
        if rtype == "SYSCALL":
            syscall = parse_syscall(rest)
            continue
        # Memoized parses are shared between events: read here, copied where they enter the document.
        if rtype == "EXECVE":
            if not plan.execve:
                continue
            fields = parse_cached(rest, True)
            execve.append(fields)
        elif rtype == "PATH":
            if not plan.paths:
                continue
            fields = parse_cached(rest, False)
            paths.append(fields)
        elif rtype == "CWD":
            if not plan.cwd:
                continue
            fields = parse_single(rest, "cwd")
            cwd = fields.get("cwd")
        elif rtype == "PROCTITLE":
            if not plan.title:
                continue
            fields = parse_single(rest, "proctitle")
            title = _proctitle(fields.get("proctitle"))
        elif full:
            fields = parse_cached(rest, False)
        else:
            continue
        if first_type is None:
            first_type, first_fields = rtype, fields
    if syscall is None:
        if not full:  # a partial plan skipped records that may hold the event's fields
            return _normalize(node, stamp, records, host_os_type, FULL)
        if first_type is None:
            return None
    timestamp, sequence = _timestamp(stamp)
    main = syscall if syscall is not None else first_fields
    get = main.get
    doc: dict[str, t.Any] = {"@timestamp": timestamp}

    action: t.Optional[str] = None
    result = None
    if full or plan.event or plan.file:
        if syscall is not None:
            arch_name, table = _ARCHES.get(get("arch") or "", (get("arch"), {}))
            number = get("syscall") or ""
            name = table.get(number, number)
            if name in _EXEC_SYSCALLS:
                action = "executed"
        elif first_type == "USER_CMD":
            action = "ran-command"
    if full or plan.event:
        result = get("success") or get("res")
        result = _RESULTS.get(result or "", result)
        if action:
            event = {"module": "auditd", "kind": "event", "action": action, "category": ["process"],
                     "type": ["start"]}
        else:
            event = {"module": "auditd", "kind": "event"}
        if result == "success" or result == "fail":
            event["outcome"] = "failure" if result == "fail" else "success"
        doc["event"] = event

    if full or plan.user:
        user = _user(main, names)
        if user:
            doc["user"] = user

    if full or plan.process:
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
            args = execve_args(execve)
            if args:
                process["args"] = args  # no args_count: Auditbeat's addProcess does not set it, and rules test it
        if process:
            doc["process"] = process

    if action == "executed" and paths and (full or plan.file):
        doc["file"] = _file_from_path(paths[0])

    if full:
        doc["auditd"] = _auditd(syscall, first_type, first_fields, main, execve, paths, action, result, sequence)
    if full or plan.tags:
        key = get("key")
        if key:
            tags = _tags(key)
            if tags:
                doc["tags"] = tags
    if full or plan.service:
        doc["service"] = {"type": "auditd"}
    if full or plan.host:
        if node:
            host: dict[str, t.Any] = {"name": node, "hostname": node}
            if host_os_type:
                host["os"] = {"type": host_os_type}
            doc["host"] = host
        elif host_os_type:
            doc["host"] = {"os": {"type": host_os_type}}
    return doc


def _auditd(syscall: t.Optional[dict], first_type: t.Optional[str], first_fields: dict, main: dict,
            execve: list[dict], paths: list[dict], action: t.Optional[str], result: t.Optional[str],
            sequence: int) -> dict:
    """`auditd.*`: message type, sequence, result, session, `data` (what no ECS field took), paths, summary."""
    data: dict[str, t.Any] = {}
    if syscall is not None:
        get = syscall.get
        arch_name, table = _ARCHES.get(get("arch") or "", (get("arch"), {}))
        number = get("syscall") or ""
        data["arch"] = arch_name
        data["syscall"] = table.get(number, number)
        # filterfalse runs the membership tests in C: ~6 of a SYSCALL record's ~26 keys reach the Python loop.
        for key in itertools.filterfalse(_SYSCALL_CONSUMED.__contains__, syscall):
            value = syscall[key]
            if value is not None:
                data[key] = value
    elif first_type == "USER_CMD":
        for key in ("cmd", "terminal", "cwd"):
            if first_fields.get(key) is not None:
                data[key] = first_fields[key]
    for fields in execve:
        if fields.get("argc") is not None:
            data["argc"] = fields["argc"]
    auditd: dict[str, t.Any] = {"message_type": "syscall" if syscall is not None else first_type.lower(),
                                "sequence": sequence}
    if result:
        auditd["result"] = result
    session = main.get("ses")
    if session is not None and session != UNSET_ID:
        auditd["session"] = session
    if data:
        auditd["data"] = data
    if paths:
        # The path dicts are memoized parses shared between events: the document gets its own copies.
        auditd["paths"] = [dict(p) if None not in p.values() else {k: v for k, v in p.items() if v is not None}
                           for p in paths]
    summary = _summary(action, main, paths)
    if summary:
        auditd["summary"] = summary
    return auditd


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
