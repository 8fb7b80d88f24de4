"""Elastic Defend (Elastic Endpoint) documents: ECS as the agent writes them, indexed by their data stream.

The agent emits ECS itself (datasources.md §2): the package's ingest pipeline only stamps `event.ingested` with the
ingest time, which is not reproducible offline, so documents pass through unchanged (the rule's `event.ingested`
timestamp override falls back to `@timestamp` downstream). A Linux process start is `event.action: "exec"`; `fork`
is also `event.type: ["start"]` but is not in the rules' action lists.
Index: `<data_stream.type>-<data_stream.dataset>-<data_stream.namespace>`, e.g. `logs-endpoint.events.process-default`;
without `data_stream`, from `event.dataset`, else from the first `event.category`.
"""

from __future__ import annotations

import typing as t

from vigil.sources.adapters.mapping import lookup
from vigil.sources.adapters.projection import passthrough_projector
from vigil.sources.base import Adapter

# event.category → the Endpoint data stream that carries it (elastic/endpoint-package `data_stream/*`).
DATASETS = {
    "process": "endpoint.events.process",
    "file": "endpoint.events.file",
    "network": "endpoint.events.network",
    "library": "endpoint.events.library",
    "driver": "endpoint.events.library",
    "registry": "endpoint.events.registry",
    "authentication": "endpoint.events.security",
    "session": "endpoint.events.security",
    "api": "endpoint.events.api",
    "intrusion_detection": "endpoint.alerts",
    "malware": "endpoint.alerts",
}


def sniff(raw: dict) -> bool:
    if lookup(raw, "agent.type") == "endpoint" or lookup(raw, "event.module") == "endpoint":
        return True
    dataset = lookup(raw, "data_stream.dataset")
    return isinstance(dataset, str) and dataset.startswith("endpoint.")


def normalize(raw: dict) -> t.Optional[dict]:
    return raw if isinstance(raw, dict) else None


def data_stream_index(doc: dict) -> t.Optional[str]:
    """`type-dataset-namespace` from the document's `data_stream` fields, when it has them."""
    dataset = lookup(doc, "data_stream.dataset")
    if not isinstance(dataset, str) or not dataset:
        return None
    kind = lookup(doc, "data_stream.type") or "logs"
    namespace = lookup(doc, "data_stream.namespace") or "default"
    return f"{kind}-{dataset}-{namespace}"


def index(doc: dict) -> str:
    found = data_stream_index(doc)
    if found:
        return found
    dataset = lookup(doc, "event.dataset")
    if not (isinstance(dataset, str) and dataset.startswith("endpoint.")):
        category = lookup(doc, "event.category")
        first = category[0] if isinstance(category, list) and category else category
        # No category at all cannot satisfy any `<category> where` query, so the process stream is a safe default.
        dataset = (DATASETS.get(first) if isinstance(first, str) else None) or "endpoint.events.process"
    return f"logs-{dataset}-default"


ADAPTER = Adapter(
    name="defend",
    description="Elastic Defend (Endpoint) ECS documents, indexed as logs-endpoint.events.*",
    sniff=sniff,
    normalize=normalize,
    index=index,
    aliases=("endpoint", "elastic_defend"),
    projector=passthrough_projector(normalize),
    index_fields=("data_stream.type", "data_stream.dataset", "data_stream.namespace", "event.dataset",
                  "event.category"),
)
