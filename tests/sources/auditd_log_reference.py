"""The raw audit.log normalization as it was before the speed work (issue #4 §7): the oracle of the differential
tests in test_auditd_log_fast.py. Slow on purpose (regex per field, one function call per value); do not optimize."""

from __future__ import annotations

import re
import typing as t
from datetime import datetime, timezone

UNSET_ID = "4294967295"  # (uint32)-1: "no login uid / no session"

# Multi-record syscall events close on these; EOE is the explicit end, PROCTITLE is the kernel's last record.
_CLOSERS = frozenset({"EOE", "PROCTITLE"})
# Fields whose unquoted values are hex-encoded strings (auparse's list, narrowed to what appears in exec events).
_HEX_FIELDS = frozenset(
    {"comm", "exe", "cwd", "name", "proctitle", "key", "acct", "cmd", "path", "old-chardev", "new-chardev", "data",
     "vm", "watch", "ocomm", "grantors", "new-disk", "old-disk", "root_dir"}
)
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
_USER_IDS = ("uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid", "auid")
# aucoalesce: id field -> where addUser() puts it under `user`.
_USER_ID_PATH = {"uid": ("id",), "gid": ("group", "id"), "euid": ("effective", "id"), "egid": ("effective", "group", "id"),
                 "suid": ("saved", "id"), "sgid": ("saved", "group", "id"), "fsuid": ("filesystem", "id"),
                 "fsgid": ("filesystem", "group", "id"), "auid": ("audit", "id")}
_USER_NAME_PATH = {k: v[:-1] + ("name",) for k, v in _USER_ID_PATH.items()}


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


def parse_fields(rest: str, rtype: str = "") -> tuple[dict[str, t.Optional[str]], dict[str, str]]:
    """key=value pairs of one record's body, and the ENRICHED interpreted names (upper-case keys, lowered)."""
    body, _, enriched = rest.partition("\x1d")
    fields: dict[str, t.Optional[str]] = {}
    execve = rtype == "EXECVE"
    for key, raw in _KV.findall(body):
        if key == "msg" and raw[:1] == "'":  # user-space message: its payload is itself key=value pairs
            inner, _ = parse_fields(raw[1:-1] if raw.endswith("'") else raw[1:])
            for k, v in inner.items():
                fields.setdefault(k, v)
            continue
        fields[key] = _decode_value(key, raw, execve)
    names: dict[str, str] = {}
    if enriched:
        for key, raw in _KV.findall(enriched):
            names[key.lower()] = raw[1:-1] if raw[:1] == '"' and raw.endswith('"') else raw
    return fields, names


def _execve_args(records: list[dict[str, t.Optional[str]]]) -> list[str]:
    """EXECVE arguments in order, joining `aN[i]` chunks; one event may hold several EXECVE records."""
    whole: dict[int, bytes] = {}
    chunks: dict[int, dict[int, bytes]] = {}
    for fields in records:
        for key, value in fields.items():
            match = _EXECVE_ARG.fullmatch(key)
            if match is None or key.endswith("_len") or value is None:
                continue
            n = int(match.group(1))
            if match.group(2) is None:
                whole[n] = value.encode("utf-8", "surrogateescape")
            else:
                chunks.setdefault(n, {})[int(match.group(2))] = value.encode("utf-8", "surrogateescape")
    for n, parts in chunks.items():
        whole[n] = b"".join(parts[i] for i in sorted(parts))
    return [whole[i].decode("utf-8", "replace") for i in sorted(whole)]


def _proctitle(value: t.Optional[str]) -> t.Optional[str]:
    if value is None:
        return None
    return value.replace("\x00", " ").strip()


def _timestamp(stamp: str) -> tuple[str, int]:
    when, _, serial = stamp.partition(":")
    seconds, _, millis = when.partition(".")
    dt = datetime.fromtimestamp(int(seconds), tz=timezone.utc)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{(millis or '0')[:3].ljust(3, '0')}Z", int(serial)


def _put(target: dict, path: tuple[str, ...], value: t.Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


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


def normalize_group(node: t.Optional[str], stamp: str, records: list[tuple[str, str]], *,
                    host_os_type: t.Optional[str] = "linux") -> t.Optional[dict]:
    """The ECS document Auditbeat would index for one grouped event (None for an EOE-only remnant)."""
    syscall: t.Optional[dict[str, t.Optional[str]]] = None
    first_type: t.Optional[str] = None
    first_fields: dict[str, t.Optional[str]] = {}
    execve: list[dict[str, t.Optional[str]]] = []
    paths: list[dict[str, t.Optional[str]]] = []
    names: dict[str, str] = {}
    cwd = title = None
    for rtype, rest in records:
        if rtype == "EOE":
            continue
        fields, enriched = parse_fields(rest, rtype)
        names.update(enriched)
        if rtype == "SYSCALL":
            syscall = fields
        elif rtype == "EXECVE":
            execve.append(fields)
        elif rtype == "PATH":
            paths.append(fields)
        elif rtype == "CWD":
            cwd = fields.get("cwd")
        elif rtype == "PROCTITLE":
            title = _proctitle(fields.get("proctitle"))
        if first_type is None and rtype != "SYSCALL":
            first_type, first_fields = rtype, fields
    if syscall is None and first_type is None:
        return None
    timestamp, sequence = _timestamp(stamp)
    main = syscall if syscall is not None else first_fields
    message_type = "syscall" if syscall is not None else (first_type or "").lower()

    data: dict[str, t.Any] = {}
    action: t.Optional[str] = None
    category: t.Optional[list[str]] = None
    etype: t.Optional[list[str]] = None
    result = main.get("success") or main.get("res")
    result = {"yes": "success", "no": "fail", "success": "success", "failed": "fail"}.get(result or "", result)
    if syscall is not None:
        arch_name, table = _ARCHES.get(syscall.get("arch") or "", (syscall.get("arch"), {}))
        number = syscall.get("syscall") or ""
        name = table.get(number, number)
        data["arch"] = arch_name
        data["syscall"] = name
        for key, value in syscall.items():
            if key not in _SYSCALL_CONSUMED and value is not None:
                data[key] = value
        if name in _EXEC_SYSCALLS:
            action, category, etype = "executed", ["process"], ["start"]
    elif first_type == "USER_CMD":
        action, category, etype = "ran-command", ["process"], ["start"]
        for key in ("cmd", "terminal", "cwd"):
            if first_fields.get(key) is not None:
                data[key] = first_fields[key]
    for fields in execve:
        if fields.get("argc") is not None:
            data["argc"] = fields["argc"]

    doc: dict[str, t.Any] = {"@timestamp": timestamp}
    event: dict[str, t.Any] = {"module": "auditd", "kind": "event"}
    if action:
        event["action"] = action
    if category:
        event["category"] = category
    if etype:
        event["type"] = etype
    if result in ("success", "fail"):
        event["outcome"] = "failure" if result == "fail" else "success"
    doc["event"] = event

    # user.*: ids from the record (unset ones dropped), names from the ENRICHED section.
    user: dict[str, t.Any] = {}
    for key in _USER_IDS:
        value = main.get(key)
        if value is not None and value != UNSET_ID and value != "unset":
            _put(user, _USER_ID_PATH[key], value)
            if key in names and names[key] not in ("unset", "?"):
                _put(user, _USER_NAME_PATH[key], names[key])
    if main.get("subj"):
        user["selinux"] = _selinux(main["subj"])
    eff = user.get("effective")
    if isinstance(eff, dict) and any(eff.get(k) is not None and eff.get(k) == user.get(k) for k in ("id", "name")):
        del user["effective"]  # audit_linux.go removeRedundantEntity: a user.effective equal to user is dropped
    if user:
        doc["user"] = user

    process: dict[str, t.Any] = {}
    pid, ppid = _int_or_none(main.get("pid")), _int_or_none(main.get("ppid"))
    if pid is not None:
        process["pid"] = pid
    if ppid is not None:
        process["parent"] = {"pid": ppid}
    if title:
        process["title"] = title
    if main.get("comm"):
        process["name"] = main["comm"]
    if main.get("exe"):
        process["executable"] = main["exe"]
    if cwd:
        process["working_directory"] = cwd
    args = _execve_args(execve)
    if args:
        process["args"] = args  # no args_count: Auditbeat's addProcess does not set it, and rules test it
    if process:
        doc["process"] = process

    if action == "executed" and paths:
        doc["file"] = _file_from_path(paths[0])

    auditd: dict[str, t.Any] = {"message_type": message_type, "sequence": sequence}
    if result:
        auditd["result"] = result
    session = main.get("ses")
    if session is not None and session != UNSET_ID:
        auditd["session"] = session
    if data:
        auditd["data"] = data
    if paths:
        auditd["paths"] = [{k: v for k, v in p.items() if v is not None} for p in paths]
    summary = _summary(action, main, paths)
    if summary:
        auditd["summary"] = summary
    doc["auditd"] = auditd
    tags = _tags(main.get("key"))
    if tags:
        doc["tags"] = tags
    doc["service"] = {"type": "auditd"}
    host: dict[str, t.Any] = {}
    if node:
        host["name"] = host["hostname"] = node
    if host_os_type:
        host["os"] = {"type": host_os_type}
    if host:
        doc["host"] = host
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
