"""Alerts as NDJSON for Elasticsearch's `_bulk` API: an action line, then the document, per alert.

`{"create":{"_index":".alerts-security.alerts-default","_id":"<kibana.alert.uuid>"}}` — `create` (not `index`) so
re-importing the same export into an index that already has an alert is a per-item 409, never an overwrite, which is
also how Kibana itself writes alerts.
"""

from __future__ import annotations

import typing as t

import orjson

from vigil.alerts.document import alerts_index


def bulk_lines(docs: t.Iterable[t.Mapping[str, t.Any]], index: t.Optional[str] = None) -> t.Iterator[bytes]:
    """The `_bulk` body, two newline-terminated lines per alert."""
    for doc in docs:
        target = index or alerts_index(_space(doc))
        yield orjson.dumps({"create": {"_index": target, "_id": doc["kibana.alert.uuid"]}}) + b"\n"
        yield orjson.dumps(doc) + b"\n"


def write_bulk(docs: t.Iterable[t.Mapping[str, t.Any]], out: t.BinaryIO, index: t.Optional[str] = None) -> int:
    """Write the `_bulk` body to `out`; return the number of alerts written."""
    count = 0
    for i, line in enumerate(bulk_lines(docs, index)):
        out.write(line)
        count += i % 2
    return count


def _space(doc: t.Mapping[str, t.Any]) -> str:
    spaces = doc.get("kibana.space_ids")
    return spaces[0] if isinstance(spaces, list) and spaces and spaces[0] != "*" else "default"
