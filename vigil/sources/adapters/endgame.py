"""Elastic Endgame → `endgame-*`: ECS documents from the Endgame platform, and native Endgame events mapped to them.

What lands in `endgame-*` is ECS written by Endgame's private ECS mapper, with vendor fields under `endgame.*`
(datasources.md §3); such documents pass through. Native events (the `event_type_full` / `event_subtype_full` model
of endgameinc/eql's test data) are mapped with the table below, which is ours: the real mapper is not public, so the
field names come from the published field/type schema (detection-rules `endgame_ecs_mapping.json.gz`, tested) and the
Endgame names they obviously correspond to. Unsure parts, as in the research: `event.type` per subtype (a Linux
process exec is `event.action: "exec_event"`, taken as `["start"]` because the prebuilt rules require it) and where
`host.os.type` comes from (native `os_type` when present; a drive-letter path means Windows; otherwise unset).
Index: `endgame-8.x` (the rules only need `endgame-*`; no real Endgame index name was found to copy).
"""

from __future__ import annotations

import shlex
import typing as t

from vigil.sources.adapters.cmdline import windows_argv
from vigil.sources.adapters.convert import filetime, to_int, to_str
from vigil.sources.adapters.mapping import Copy, Lookup, Set, compile_mapping, lookup
from vigil.sources.adapters.projection import projector
from vigil.sources.base import Adapter

INDEX = "endgame-8.x"

CATEGORIES = {
    "process": (["process"],),
    "file": (["file"],),
    "network": (["network"],),
    "dns": (["network"],),
    "registry": (["registry"],),
    "image_load": (["library"],),
}
TYPES = {
    "creation_event": (["start"],),
    "exec_event": (["start"],),
    "fork_event": (["start"],),
    "termination_event": (["end"],),
    "already_running": (["info"],),
    "file_create_event": (["creation"],),
    "file_delete_event": (["deletion"],),
    "file_modify_event": (["change"],),
    "file_rename_event": (["change"],),
    "registry_modify_event": (["change"],),
    "ipv4_connection_attempt_event": (["connection", "start"],),
    "ipv4_connection_accept_event": (["connection", "start"],),
    "request_event": (["protocol"],),
}
OS_TYPES = {"linux": "linux", "windows": "windows", "macos": "macos", "mac": "macos", "darwin": "macos"}

_map = compile_mapping(
    "endgame_native",
    [
        Copy("timestamp", "@timestamp", filetime),
        Copy("event_subtype_full", "event.action", keep=True),
        Lookup("event_type", CATEGORIES, ("event.category",)),
        Lookup("event_subtype_full", TYPES, ("event.type",)),
        Set("event.kind", "event"),
        Set("event.module", "endgame"),
        Copy("serial_event_id", "event.sequence", to_int),
        Copy("hostname", ("host.hostname", "host.name")),
        Copy("os_type", "host.os.type", lambda v: OS_TYPES.get(str(v).lower())),
        Copy("process_name", "process.name"),
        Copy("process_path", "process.executable"),
        Copy("command_line", "process.command_line"),
        Copy("pid", "process.pid", to_int),
        Copy("unique_pid", "process.entity_id", to_str),
        Copy("md5", "process.hash.md5"),
        Copy("exit_code", "process.exit_code", to_int),
        Copy("original_file_name", "process.pe.original_file_name"),
        Copy("ppid", "process.parent.pid", to_int),
        Copy("parent_process_name", "process.parent.name"),
        Copy("parent_process_path", "process.parent.executable"),
        Copy("user_name", "user.name"),
        Copy("user_domain", "user.domain"),
        Copy("file_path", "file.path"),
        Copy("file_name", "file.name"),
        Copy("source_address", "source.ip"),
        Copy("source_port", "source.port", to_int),
        Copy("destination_address", "destination.ip"),
        Copy("destination_port", "destination.port", to_int),
        Copy("protocol", "network.transport", lambda v: str(v).lower()),
        Copy("query_name", "dns.question.name"),
        Copy("registry_path", "registry.path"),
        Copy("registry_key", "registry.key"),
        Copy("registry_value", "registry.value"),
    ],
    vendor="endgame",
)


def is_native(raw: dict) -> bool:
    return "event_type_full" in raw or ("event_subtype_full" in raw and "event_type" in raw)


def is_ecs(raw: dict) -> bool:
    return (
        isinstance(raw.get("endgame"), dict)
        or "endgame.event_subtype_full" in raw
        or lookup(raw, "agent.type") == "endgame"
    )


def sniff(raw: dict) -> bool:
    return is_native(raw) or is_ecs(raw)


def _with_fixups(mapped: t.Callable[[dict], dict]) -> t.Callable[[dict], t.Optional[dict]]:
    """The adapter's normalize around a (full or projected) native mapping: ECS documents pass through; native
    ones are mapped, then get the fix-ups below, which read `host.os.type` and `process.command_line` (so a
    projection always keeps those two: see ADAPTER)."""

    def normalize(raw: dict) -> t.Optional[dict]:
        if not isinstance(raw, dict):
            return None
        if not is_native(raw):
            return raw
        return _fixups(mapped(raw), raw)

    return normalize


def _fixups(doc: dict, raw: dict) -> dict:
    host = doc.get("host")
    if not (host and "os" in host):
        path = raw.get("process_path") or raw.get("file_path") or ""
        if len(path) > 2 and path[1] == ":" and path[2] == "\\":
            doc.setdefault("host", {})["os"] = {"type": "windows"}
    process = doc.get("process")
    if process and process.get("command_line"):
        args = _split_args(process["command_line"], lookup(doc, "host.os.type"))
        if args:
            process["args"] = args
            process["args_count"] = len(args)
    return doc


def normalize(raw: dict) -> t.Optional[dict]:
    # `_with_fixups(_map)` written out: the full path is the hot one for ECS pass-through and stays a plain function.
    if not isinstance(raw, dict):
        return None
    if not is_native(raw):
        return raw
    return _fixups(_map(raw), raw)


def _split_args(command_line: str, os_type: t.Optional[str]) -> list[str]:
    if os_type == "windows":
        return windows_argv(command_line)
    try:
        return shlex.split(command_line)
    except ValueError:  # unbalanced quotes: keep the words rather than lose the arguments
        return command_line.split()


def index(doc: dict) -> str:
    return INDEX


ADAPTER = Adapter(
    name="endgame",
    description="Elastic Endgame events (ECS from the Endgame platform, or native Endgame events), as endgame-*",
    sniff=sniff,
    normalize=normalize,
    index=index,
    projector=projector(_map, extra=("host.os.type", "process.command_line"), wrap=_with_fixups),
)
