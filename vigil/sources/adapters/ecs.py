"""Generic ECS documents with no vendor signature: passed through; the fallback after every specific adapter.

Its `sniff` is deliberately weak (an `@timestamp` plus some `event.*` field) and the registry asks it last, so it never
takes a record a specific adapter recognises (`vigil.sources.adapters.sniff_adapter` enforces this order).
Index: the document's `data_stream` when present, else `logs-generic-default`.
"""

from __future__ import annotations

import typing as t

from vigil.sources.adapters.defend import data_stream_index
from vigil.sources.adapters.projection import passthrough_projector
from vigil.sources.base import Adapter

INDEX = "logs-generic-default"


def sniff(raw: dict) -> bool:
    if "@timestamp" not in raw:
        return False
    return isinstance(raw.get("event"), dict) or any(key.startswith("event.") for key in raw)


def normalize(raw: dict) -> t.Optional[dict]:
    return raw if isinstance(raw, dict) else None


def index(doc: dict) -> str:
    return data_stream_index(doc) or INDEX


ADAPTER = Adapter(
    name="ecs",
    description="already-ECS documents from any other shipper (passed through; index from data_stream)",
    sniff=sniff,
    normalize=normalize,
    index=index,
    aliases=("generic",),
    projector=passthrough_projector(normalize),
    index_fields=("data_stream.type", "data_stream.dataset", "data_stream.namespace"),
)
