"""CrowdStrike Falcon Data Replicator raw events → ECS, as Elastic's `crowdstrike.fdr` ingest pipeline writes them.

Raw: one flat JSON object per line, every value a string, `event_simpleName` naming the event (datasources.md §6a).
Mapping source: elastic/integrations `packages/crowdstrike/data_stream/fdr/elasticsearch/ingest_pipeline/default.yml`
(+ `categorize.yml`), checked field by field against the pipeline test `test-linux.log-expected.json`.
A Linux process start is `ProcessRollup2` → `event.action: "ProcessRollup2"`, `event.type: ["start"]`,
`host.os.type: "linux"` (from `event_platform: "Lin"`). Index: `logs-crowdstrike.fdr-default`.
"""

from __future__ import annotations

import typing as t

from vigil.sources.adapters.cmdline import windows_argv
from vigil.sources.adapters.convert import (
    as_list,
    basename,
    comma_list,
    dirname,
    epoch_ms,
    epoch_seconds,
    nonzero_hash,
    to_int,
)
from vigil.sources.adapters.mapping import (
    Append,
    Copy,
    Derive,
    First,
    Lookup,
    compile_mapping,
)
from vigil.sources.adapters.projection import projector
from vigil.sources.base import Adapter

INDEX = "logs-crowdstrike.fdr-default"

PLATFORMS = {"Lin": "linux", "Mac": "macos", "Win": "windows", "iOS": "ios"}

# event_simpleName → (event.category, event.type, event.kind, event.outcome): the rows of the pipeline's categorize
# table for the events Linux hosts send most and that vigil's samples and tests use. Unlisted names get no category,
# so no `process where` rule can match them by accident.
CATEGORIES: dict[str, tuple] = {
    "ProcessRollup2": (["process"], ["start"], "event", "success"),
    "SyntheticProcessRollup2": (["process"], ["start"], "event", "success"),
    "CreateProcessArgs": (["process"], ["start"], "state", "success"),
    "HostedServiceStarted": (["process"], ["start"], "event", "success"),
    "EndOfProcess": (["process"], ["end"], "event", "success"),
    "TerminateProcess": (["process"], ["end"], "event", "success"),
    "ProcessSelfDeleted": (["process"], ["end"], "event", "success"),
    "CommandHistory": (["process"], ["end", "info"], "event", "success"),
    "CriticalEnvironmentVariableChanged": (["configuration", "host"], ["change"], "event", "success"),
    "CriticalFileAccessed": (["file"], ["access"], "alert", "success"),
    "CriticalFileModified": (["file"], ["change"], "alert", "success"),
    "DirectoryCreate": (["file"], ["creation"], "event", "success"),
    "FileDeleteInfo": (["file"], ["deletion"], "event", "success"),
    "NewScriptWritten": (["file"], ["creation"], "event", "success"),
    "NewExecutableWritten": (["file"], ["creation"], "event", "success"),
    "DnsRequest": (["network"], ["protocol"], "event", "success"),
    "NetworkConnectIP4": (["network"], ["start", "connection"], "event", "unknown"),
    "NetworkListenIP4": (["network"], ["start"], "event", "success"),
    "NetworkReceiveAcceptIP4": (["network"], ["allowed", "access", "connection"], "event", "unknown"),
    "OsVersionInfo": (["host"], ["info"], "event", "success"),
}

def _argv_row(command_line: t.Any) -> t.Optional[tuple[list[str], int]]:
    args = windows_argv(command_line) if isinstance(command_line, str) else None
    return (args, len(args)) if args else None


def _event_id(i: t.Any, a: t.Any, c: t.Any) -> str:
    return f"{i}|{a or ''}|{c or ''}"


_event_id.inline = lambda args, fallback, const: (  # type: ignore[attr-defined]
    f"f\"{{{args[0]}}}|{{{args[1]} or ''}}|{{{args[2]} or ''}}\"")
_event_id.never_none = True  # type: ignore[attr-defined]


def _args(command_line: t.Any, platform: t.Any) -> t.Optional[tuple[list[str], int]]:
    # The pipeline splits arguments (Windows rules, on every platform) only once host.os.type is known.
    return _argv_row(command_line) if platform in PLATFORMS else None


# Inlined: a command line without double quotes whose only blank is the space (`isprintable()` rules out tabs,
# newlines and every other character `str.split()` treats as a separator) splits exactly like CommandLineToArgvW.
_args.inline = lambda args, fallback, const: (  # type: ignore[attr-defined]
    f"((((_w, len(_w)) if (_w := {args[0]}.split()) else None) if {args[0]}.__class__ is str and "
    f"{args[1]} in {const(PLATFORMS)} and '\"' not in {args[0]} and {args[0]}.isprintable() else "
    f"{fallback}({args[0]}, {args[1]})))")

# executable → process.name, for the executables other than "/": paths repeat all day on a host. Bounded.
_NAMES: dict[str, str] = {}
_MAX_NAMES = 65536


def _process_name(executable: t.Any, command_line: t.Optional[str], platform: t.Any) -> t.Optional[str]:
    # runc re-executes itself through /proc/self/exe and FDR reports ImageFileName "/": the pipeline then takes the
    # name from the first argument instead (arguments exist only when the platform is known).
    if platform not in PLATFORMS:
        command_line = None
    if not isinstance(executable, str):
        return None
    if executable != "/":
        name = basename(executable)
        if executable.__class__ is str:
            if len(_NAMES) >= _MAX_NAMES:
                _NAMES.clear()
            _NAMES[executable] = name
        return name
    row = _argv_row(command_line) if command_line else None
    return basename(row[0][0]) if row else None


_process_name.inline = lambda args, fallback, const: (  # type: ignore[attr-defined]
    f"(_n if {args[0]}.__class__ is str and (_n := {const(_NAMES)}.get({args[0]})) is not None "
    f"else {fallback}({', '.join(args)}))")


_map = compile_mapping(
    "crowdstrike_fdr",
    [
        Copy("event_simpleName", ("event.action", "message")),
        Lookup("event_simpleName", CATEGORIES, ("event.category", "event.type", "event.kind", "event.outcome"),
               keep=False),
        First(("UTCTimestamp", "timestamp"), ("@timestamp", "event.created"), epoch_ms),
        Derive(("id", "aid", "cid"), ("event.id",), _event_id),
        Copy("event_platform", "host.os.type", PLATFORMS.get),
        Copy("aid", ("host.id", "device.id", "observer.serial_number")),
        First(("ComputerName", "hostname"), ("host.hostname", "host.name")),
        Copy("aip", ("observer.ip", "observer.address"), as_list),
        Copy("ConfigBuild", "observer.version"),
        Copy("ImageFileName", "process.executable"),
        Copy("CommandLine", "process.command_line"),
        Derive(("CommandLine", "event_platform"), ("process.args", "process.args_count"), _args, needs=2),
        Derive(("ImageFileName", "CommandLine", "event_platform"), ("process.name",), _process_name),
        Copy("RawProcessId", "process.pid", to_int),
        Copy("ContextProcessId", "process.entity_id", keep=True),  # kept: ContextProcessId stays under crowdstrike.*
        Copy("TargetProcessId", "process.entity_id"),  # and TargetProcessId wins when both are present
        Copy("ContextThreadId", "process.thread.id", to_int),
        Copy("ParentProcessId", "process.parent.entity_id"),
        Copy("ParentBaseFileName", "process.parent.name"),
        Copy("ProcessStartTime", "process.start", epoch_seconds),
        Copy("ProcessEndTime", "process.end", epoch_seconds),
        Copy("ProcessGroupId", "process.group_leader.entity_id"),
        Copy("ProcessGroupId", "process.pgid", to_int),
        Copy("MD5HashData", "process.hash.md5", nonzero_hash, keep=True),
        Copy("SHA256HashData", "process.hash.sha256", nonzero_hash, keep=True),
        Copy("SHA1HashData", "process.hash.sha1", nonzero_hash),
        Copy("UserName", "user.name"),
        Copy("UID", "user.id"),
        Copy("GID", ("group.id", "user.group.id", "process.group.id")),
        Copy("RUID", ("process.real_user.id", "user.Ext.real.id"), keep=True),
        Copy("RGID", ("process.real_group.id", "group.Ext.real.id"), keep=True),
        Copy("LocalAddressIP4", ("source.ip", "source.address"), keep=True),
        Copy("TargetFileName", "file.path"),
        Derive(("TargetFileName",), ("file.name", "file.directory", "file.type"),
               lambda path: (basename(path), dirname(path), "file")),
        # related.*: the pipeline's `append` processors (all-zero hashes are not hashes).
        Append(("MD5HashData", "SHA256HashData"), "related.hash", nonzero_hash),
        Append(("ConfigStateHash",), "related.hash"),
        First(("ComputerName", "hostname"), "related.hosts", as_list),
        Append(("aip", "LocalAddressIP4"), "related.ip"),
        Append(("UserName", "UID", "RUID"), "related.user"),
    ],
    vendor="crowdstrike",
    vendor_convert={
        "ContextTimeStamp": epoch_seconds,
        "ChangeTime": epoch_seconds,
        "Tags": comma_list,
        "LocalAddressIP4": as_list,
    },
    require="event_simpleName",
)

# One FDR event → the `logs-crowdstrike.fdr` document; None when the object has no `event_simpleName`. The mapping
# itself: a wrapper function would cost a call per record.
normalize: t.Callable[[dict], t.Optional[dict]] = _map


def sniff(raw: dict) -> bool:
    return "event_simpleName" in raw and ("aid" in raw or "cid" in raw or "event_platform" in raw)


def index(doc: dict) -> str:
    return INDEX


ADAPTER = Adapter(
    name="crowdstrike_fdr",
    description="CrowdStrike Falcon Data Replicator raw events (as Elastic's crowdstrike.fdr pipeline maps them)",
    sniff=sniff,
    normalize=normalize,
    index=index,
    aliases=("crowdstrike", "fdr"),
    # Projected: only the steps the rules' fields need; lines holding `event_simpleName` (every FDR event) are
    # decoded for the raw keys those steps read only.
    projector=projector(_map, marker="event_simpleName"),
)
