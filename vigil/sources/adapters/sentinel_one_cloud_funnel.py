"""SentinelOne Cloud Funnel (Deep Visibility) raw events → ECS, as Elastic's `sentinel_one_cloud_funnel.event` pipeline
writes them.

Raw: flat JSON with dotted keys (`"tgt.process.name"`), `src.process.*` the actor, `tgt.process.*` the created process
(datasources.md §6b). Mapping source: elastic/integrations `packages/sentinel_one_cloud_funnel/data_stream/event/
elasticsearch/ingest_pipeline/{default,pipeline-process}.yml`, checked against `test-process.log-expected.json`.
Quirks kept on purpose, because rules see them:
- `event.action` is an ARRAY copied from `event.type` (`["start"]` on ProcessCreation, `["end"]` on exit), not the S1
  event name; other process events get neither.
- after the process pipeline `process.*` is the target and `process.parent.*` the source (actor) process.
- `user.*` is the ACTOR's user (`src.process.user`), dissected as `domain\\name` only when it has a backslash; so a
  Linux `root` gives `user.name == user.domain == "root"` (inferred from the pipeline, not seen in a test).
Index: `logs-sentinel_one_cloud_funnel.event-default`.
"""

from __future__ import annotations

import typing as t

from vigil.sources.adapters.cmdline import windows_argv
from vigil.sources.adapters.convert import as_list, epoch_ms, to_int
from vigil.sources.adapters.mapping import (
    Append,
    Copy,
    Derive,
    Lookup,
    Set,
    compile_mapping,
)
from vigil.sources.adapters.projection import projector
from vigil.sources.base import Adapter

INDEX = "logs-sentinel_one_cloud_funnel.event-default"

# `host.os.type` is only set for values ECS allows; anything else leaves it unset.
OS_TYPES = {name: name for name in ("linux", "windows", "macos", "ios", "android")}
START = {"PROCESSCREATION": (["start"], ["start"])}
END = {name: (["end"], ["end"]) for name in ("ProcessExit", "ProcessTermination", "Process Exit", "Process Termination")}


def _is(expected: str) -> t.Callable[[t.Any], bool]:
    return lambda value: value == expected


def _process(prefix: str, dst: str) -> list:
    return [
        Copy(f"{prefix}.name", f"{dst}.name"),
        Copy(f"{prefix}.image.path", f"{dst}.executable"),
        Copy(f"{prefix}.cmdline", f"{dst}.command_line"),
        Copy(f"{prefix}.pid", f"{dst}.pid", to_int),
        Copy(f"{prefix}.uid", f"{dst}.entity_id"),
        Copy(f"{prefix}.startTime", f"{dst}.start", epoch_ms),
        Copy(f"{prefix}.displayName", f"{dst}.title"),
        Copy(f"{prefix}.image.md5", f"{dst}.hash.md5"),
        Copy(f"{prefix}.image.sha1", f"{dst}.hash.sha1"),
        Copy(f"{prefix}.image.sha256", f"{dst}.hash.sha256"),
        Copy(f"{prefix}.user", f"{dst}.user.name"),
    ]


_RELATED_HASHES = (
    "src.process.image.md5", "src.process.image.sha1", "src.process.image.sha256",
    "src.process.parent.image.sha1", "src.process.parent.image.sha256", "src.process.parent.image.md5",
    "tgt.process.image.md5", "tgt.process.image.sha1", "tgt.process.image.sha256",
)
_RELATED_HOSTS = ("endpoint.name", "endpoint.os", "endpoint.type")
_RELATED_USERS = ("src.process.parent.user", "src.process.user", "tgt.process.user")


def _argv_row(command_line: t.Any) -> t.Optional[tuple[list[str], int]]:
    args = windows_argv(command_line) if isinstance(command_line, str) else None
    return (args, len(args)) if args else None


def _dissect_user(actor: t.Any) -> t.Optional[tuple[str, str]]:
    # `domain\\name` when there is a backslash; otherwise the pipeline copies the whole value to both.
    if not isinstance(actor, str):
        return None
    domain, sep, name = actor.partition("\\")
    return (domain, name) if sep else (actor, actor)


_map = compile_mapping(
    "sentinel_one_cloud_funnel",
    [
        Copy("event.time", "@timestamp", epoch_ms),
        Set("ecs.version", "8.11.0"),
        Copy("event.category", "event.category", as_list),
        Lookup("meta.event.name", START, ("event.type", "event.action")),
        Lookup("event.type", END, ("event.type", "event.action")),
        Set("event.kind", "event"),
        Copy("event.id", "event.id"),
        Copy("endpoint.os", "host.os.type", OS_TYPES.get),
        Copy("endpoint.os", "host.os.platform"),
        Copy("os.name", "host.os.name"),
        Copy("endpoint.name", "host.hostname"),
        Copy("agent.uuid", "host.id"),
        Copy("endpoint.type", "host.type"),
        Copy("group.id", "group.id"),
        *_process("tgt.process", "process"),
        *_process("src.process", "process.parent"),
        Copy("src.process.publisher", "process.parent.code_signature.subject_name"),
        Copy("src.process.signedStatus", "process.parent.code_signature.exists", _is("signed")),
        Copy("src.process.verifiedStatus", "process.parent.code_signature.trusted", _is("verified")),
        Derive(("tgt.process.cmdline",), ("process.args", "process.args_count"), _argv_row),
        Derive(("src.process.cmdline",), ("process.parent.args", "process.parent.args_count"), _argv_row),
        Derive(("src.process.user",), ("user.domain", "user.name"), _dissect_user),
        Append(_RELATED_HASHES, "related.hash"),
        Append(_RELATED_HOSTS, "related.hosts"),
        Append(_RELATED_USERS, "related.user"),
    ],
)

def _events_only(mapped: t.Callable[[dict], dict]) -> t.Callable[[dict], t.Optional[dict]]:
    # A document without any `event.*` field is not an event. Projections keep `event.kind` (see ADAPTER) so that
    # this test gives the same answer on a projected document as on the full one.
    def normalize(raw: dict) -> t.Optional[dict]:
        doc = mapped(raw)
        if not doc.get("event"):
            return None
        return doc

    return normalize


normalize = _events_only(_map)
normalize.__doc__ = """One Cloud Funnel event → the `logs-sentinel_one_cloud_funnel.event` document."""


def sniff(raw: dict) -> bool:
    return "meta.event.name" in raw or ("event.time" in raw and "endpoint.os" in raw)


def index(doc: dict) -> str:
    return INDEX


ADAPTER = Adapter(
    name="sentinel_one_cloud_funnel",
    description="SentinelOne Cloud Funnel raw events (as Elastic's sentinel_one_cloud_funnel pipeline maps them)",
    sniff=sniff,
    normalize=normalize,
    index=index,
    aliases=("sentinelone", "s1"),
    projector=projector(_map, marker="meta.event.name", extra=("event.kind",), wrap=_events_only),
)
