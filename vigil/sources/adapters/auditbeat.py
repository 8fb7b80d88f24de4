"""Standalone Auditbeat documents (auditd module, system/process dataset): already ECS, passed through.

Auditbeat ships straight to Elasticsearch with no ingest pipeline (datasources.md §4), so nothing is rewritten — not
even the legacy shapes (`event.category: "audit-rule"`, `process.ppid`) that make old documents miss current rules;
rewriting them would hide exactly what Elastic would miss. `event.action` is `executed` (auditd execve) or
`process_started` (system/process); quark's `process_ran` is a start that is not in the rules' lists.
Index: `auditbeat-<agent.version>-<yyyy.MM.dd of @timestamp>`, the classic Auditbeat index name
(`auditbeat-%{[agent.version]}-%{+yyyy.MM.dd}`); a missing part is left out (`auditbeat-2026.11.28`,
`auditbeat-default`). Every form matches the rules' `auditbeat-*`.
"""

from __future__ import annotations

import typing as t

from vigil.sources.adapters.auditd_manager import is_auditd_manager
from vigil.sources.adapters.mapping import lookup
from vigil.sources.adapters.projection import passthrough_projector
from vigil.sources.base import Adapter

MODULES = ("auditd", "system", "file_integrity")


def sniff(raw: dict) -> bool:
    if is_auditd_manager(raw):
        return False
    agent_type = lookup(raw, "agent.type")
    if agent_type is not None:
        return agent_type == "auditbeat"
    # Old documents carry no `agent`; Auditbeat's modules still name themselves twice.
    module = lookup(raw, "event.module")
    return module in MODULES and lookup(raw, "service.type") == module


def normalize(raw: dict) -> t.Optional[dict]:
    # Checks only: a document without an `event` object is not an event Auditbeat wrote.
    if not isinstance(raw, dict) or lookup(raw, "event.action") is None and lookup(raw, "event.module") is None:
        return None
    return raw


def index(doc: dict) -> str:
    parts = ["auditbeat"]
    version = lookup(doc, "agent.version")
    if isinstance(version, str) and version:
        parts.append(version)
    stamp = doc.get("@timestamp")
    if isinstance(stamp, str) and len(stamp) >= 10 and stamp[4] == "-":
        parts.append(stamp[:10].replace("-", "."))
    return "-".join(parts) if len(parts) > 1 else "auditbeat-default"


ADAPTER = Adapter(
    name="auditbeat",
    description="Auditbeat documents (auditd module, system/process dataset), indexed as auditbeat-<version>-<date>",
    sniff=sniff,
    normalize=normalize,
    index=index,
    projector=passthrough_projector(normalize, reads=("event.action", "event.module")),
    index_fields=("agent.version", "@timestamp"),
)
