"""Auditd Manager (Elastic Agent running the Auditbeat auditd input) → `logs-auditd_manager.auditd-*`.

The agent already produces ECS exactly as Auditbeat's auditd module does (`event.action: "executed"` on execve,
datasources.md §4a/§5); the integration's ingest pipeline (`packages/auditd_manager/data_stream/auditd/elasticsearch/
ingest_pipeline/default.yml`) only tidies, and this adapter applies the same tidy-ups:
- `event.original` (list of raw audit lines) → `auditd.messages`, and back into one `\\n`-joined `event.original`;
- `error.message` → `auditd.warnings`; `-` → `_` in every field name;
- `user.{audit,new_auid,old_auid,selinux,saved,filesystem}` → `auditd.user.*`, `file.selinux` → `auditd.file.selinux`;
- `auditd.sequence` → `event.sequence`, `auditd.data.id` → `event.id`; `event.outcome` `fail` → `failure`;
- numeric converts (`process.pid`, `process.parent.pid`, `event.sequence`); null and empty values dropped.
It leaves `event.action`, `event.type`, `host.*` and `process.name` alone: `host.os.type` comes from the agent's
`add_host_metadata`, so a document without it (like the package's own sample event) cannot match Linux rules.
Index: `logs-auditd_manager.auditd-<data_stream.namespace or default>`.
"""

from __future__ import annotations

import typing as t

from vigil.sources.adapters.convert import to_int
from vigil.sources.adapters.defend import data_stream_index
from vigil.sources.adapters.mapping import lookup, put
from vigil.sources.base import Adapter

DATASET = "auditd_manager.auditd"
INDEX = f"logs-{DATASET}-default"
_USER_FIELDS_MOVED = ("audit", "new_auid", "old_auid", "selinux", "saved", "filesystem")


def is_auditd_manager(raw: dict) -> bool:
    """Agent-shipped auditd documents: the data stream, the integration's tag, or an `elastic_agent` block."""
    if lookup(raw, "data_stream.dataset") == DATASET or lookup(raw, "event.dataset") == DATASET:
        return True
    tags = raw.get("tags")
    if isinstance(tags, list) and "auditd_manager-auditd" in tags:
        return True
    return lookup(raw, "agent.type") == "auditbeat" and "elastic_agent" in raw and lookup(raw, "event.module") == "auditd"


def sniff(raw: dict) -> bool:
    return is_auditd_manager(raw)


def _clean(value: dict) -> dict:
    """Copy with `-` → `_` in keys and null / empty values dropped (the pipeline's last two scripts).

    Strings, the bulk of a document, are tested in place; only objects and arrays recurse."""
    out = {}
    for key, item in value.items():
        if item.__class__ is str:
            if not item:
                continue
        elif isinstance(item, dict):
            item = _clean(item)
            if not item:
                continue
        elif isinstance(item, list):
            item = _clean_list(item)
            if not item:
                continue
        elif item is None or item == "":
            continue
        out[key.replace("-", "_") if "-" in key else key] = item
    return out


def _clean_list(value: list) -> list:
    out = []
    for item in value:
        if item.__class__ is str:
            if item:
                out.append(item)
        elif isinstance(item, dict):
            item = _clean(item)
            if item:
                out.append(item)
        elif isinstance(item, list):
            item = _clean_list(item)
            if item:
                out.append(item)
        elif item is not None and item != "":
            out.append(item)
    return out


def normalize(raw: dict) -> t.Optional[dict]:
    if not isinstance(raw, dict):
        return None
    doc = _clean(raw)
    event = doc.setdefault("event", {})
    auditd = doc.setdefault("auditd", {})
    original = event.get("original")
    if isinstance(original, list):
        auditd["messages"] = original
        event["original"] = "\n".join(str(line) for line in original)
    error = doc.get("error")
    if isinstance(error, dict) and "message" in error:
        message = error.pop("message")
        auditd["warnings"] = message if isinstance(message, list) else [message]
        if not error:
            del doc["error"]
    user = doc.get("user")
    if isinstance(user, dict):
        for name in _USER_FIELDS_MOVED:
            if name in user:
                auditd.setdefault("user", {})[name] = user.pop(name)
        if not user:
            del doc["user"]
    file = doc.get("file")
    if isinstance(file, dict) and "selinux" in file:
        auditd.setdefault("file", {})["selinux"] = file.pop("selinux")
    if "sequence" in auditd:
        event["sequence"] = auditd.pop("sequence")
    data = auditd.get("data")
    if isinstance(data, dict) and "id" in data:
        event["id"] = data.pop("id")
    if event.get("outcome") == "fail":
        event["outcome"] = "failure"
    for path in ("process.pid", "process.parent.pid", "process.ppid", "event.sequence"):
        value = lookup(doc, path)
        if value is not None:
            converted = to_int(value)
            if converted is not None:
                put(doc, path, converted)
    if not auditd:
        del doc["auditd"]
    event.setdefault("module", "auditd")
    event.setdefault("dataset", DATASET)
    stream = doc.setdefault("data_stream", {})
    stream.setdefault("type", "logs")
    stream.setdefault("dataset", DATASET)
    stream.setdefault("namespace", "default")
    return doc


def index(doc: dict) -> str:
    return data_stream_index(doc) or INDEX


ADAPTER = Adapter(
    name="auditd_manager",
    description="Auditd Manager (Elastic Agent auditd) documents, with the integration pipeline's tidy-ups",
    sniff=sniff,
    normalize=normalize,
    index=index,
    aliases=("auditd-manager",),
)
