"""Unwrap the shapes in which people hold Elasticsearch data into plain documents, keeping `_index` and `_id`.

Recognised, per line (NDJSON) or for a whole file (pretty-printed JSON):

* a raw `_source` document: `{"@timestamp": ..., "process": {...}}`;
* a hit: `{"_index": ..., "_id": ..., "_source": {...}}` (what `elasticdump` and scroll exporters write per line);
* a search / scroll / EQL response: `{"hits": {"hits": [hit, ...]}}`, `{"hits": {"events": [...]}}`,
  `{"hits": {"sequences": [{"events": [...]}]}}`, or a multi-search `{"responses": [response, ...]}`;
* a `_bulk` body: an action line `{"index"|"create": {"_index": ..., "_id": ...}}` followed by the document line;
  `delete` has no document line; `update` carries a partial document, so it is reported and skipped;
* a JSON array of any of the above, or one wrapped as `{"events": [...]}` / `{"expected": [...]}` (Elastic
  pipeline-test files) or `{"docs": [...]}` (`_ingest/pipeline/_simulate` bodies).

A whole file is parsed at once only when its first line is not a complete JSON value (pretty-printed output); that
is the one case that is not streaming, and it is bounded by the size of that one response.
"""

from __future__ import annotations

import typing as t

import orjson

from vigil.sources.readers import BadRecords, Line

Prefilter = t.Callable[[bytes], bool]

_BULK_ACTIONS = ("index", "create", "delete", "update")
_BULK_LINE_STARTS = tuple(f'{{"{a}"'.encode() for a in _BULK_ACTIONS)
# Keys an action's metadata may carry (`_bulk` API); a one-key document whose value has other keys is a document.
_BULK_META_KEYS = frozenset(
    {"_index", "_id", "_type", "routing", "_routing", "pipeline", "require_alias", "require_data_stream", "version",
     "version_type", "if_seq_no", "if_primary_term", "dynamic_templates", "retry_on_conflict", "op_type",
     "list_executed_pipelines", "_source"}
)


_WRAPPER_KEYS = ("events", "expected", "docs")


class RawDoc(t.NamedTuple):
    """One document found in an export, with where it came from and where reading may resume after it."""

    doc: dict
    index: t.Optional[str]
    id: t.Optional[str]
    line: int  # line of the document (for whole-file JSON: the file's first line)
    end: int  # byte offset just after the document's last line
    next_line: int  # number of the line after it
    data: t.Optional[bytes] = None  # the line, when `doc` is a projected decoding of it (see `iter_documents`)


def _bulk_action(obj: dict) -> t.Optional[tuple[str, dict]]:
    if len(obj) != 1:
        return None
    (action, meta), = obj.items()
    if action in _BULK_ACTIONS and isinstance(meta, dict) and meta.keys() <= _BULK_META_KEYS:
        return action, meta
    return None


def _str_or_none(value: t.Any) -> t.Optional[str]:
    return None if value is None else str(value)


def unwrap(value: t.Any, path: str, line: int, bad: BadRecords) -> t.Iterator[tuple[dict, t.Optional[str], t.Optional[str]]]:
    """(document, _index, _id) for every document inside one decoded JSON value (not a bulk pair)."""
    if isinstance(value, list):
        for item in value:
            yield from unwrap(item, path, line, bad)
        return
    if not isinstance(value, dict):
        bad.add(path, line, f"expected a JSON object, found {type(value).__name__}")
        return
    hits = value.get("hits")
    if isinstance(hits, dict) and any(isinstance(hits.get(k), list) for k in ("hits", "events", "sequences")):
        for hit in hits.get("hits") or ():
            yield from unwrap_hit(hit, path, line, bad)
        for hit in hits.get("events") or ():
            yield from unwrap_hit(hit, path, line, bad)
        for sequence in hits.get("sequences") or ():
            for hit in (sequence.get("events") or ()) if isinstance(sequence, dict) else ():
                yield from unwrap_hit(hit, path, line, bad)
        return
    responses = value.get("responses")
    if isinstance(responses, list) and len(value) <= 2:  # _msearch: {"took":..., "responses": [...]}
        for response in responses:
            yield from unwrap(response, path, line, bad)
        return
    if len(value) == 1:  # Elastic pipeline-test files and _ingest/_simulate bodies wrap their documents
        (key, inner), = value.items()
        if key in _WRAPPER_KEYS and isinstance(inner, list):
            for item in inner:
                yield from unwrap(item, path, line, bad)
            return
    if "_source" in value:
        yield from unwrap_hit(value, path, line, bad)
        return
    yield value, None, None


def unwrap_hit(hit: t.Any, path: str, line: int, bad: BadRecords) -> t.Iterator[tuple[dict, t.Optional[str], t.Optional[str]]]:
    if not isinstance(hit, dict):
        bad.add(path, line, "a search hit is not a JSON object")
        return
    source = hit.get("_source")
    if not isinstance(source, dict):
        bad.add(path, line, f"hit {hit.get('_id', '?')} has no _source object (was the search run with _source: false?)")
        return
    yield source, _str_or_none(hit.get("_index")), _str_or_none(hit.get("_id"))


def _starts_pretty_json(data: bytes) -> bool:
    """True when a first line that failed to decode is the start of a multi-line JSON value."""
    stripped = data.strip()
    return stripped[:1] in (b"[", b"{") and not stripped.endswith(b"}")


def iter_documents(
    path: str,
    lines: t.Iterable[Line],
    bad: BadRecords,
    *,
    prefilter: t.Optional[Prefilter] = None,
    allow_whole_file: bool = True,
    decode: t.Optional[t.Callable[[bytes], t.Optional[dict]]] = None,
) -> t.Iterator[RawDoc]:
    """Documents from the lines of one file, whatever export shape it is in (see the module docstring).

    `decode`: a projected decoder (vigil/sources/adapters/projection.py) tried first on each line outside a bulk
    pair; a dict is a plain record (yielded with its line as `data`, for completing it later), None sends the line
    through the full decoding below."""
    pending: t.Optional[tuple[str, dict, int]] = None  # a bulk action waiting for its document line
    first = allow_whole_file
    it = iter(lines)
    for ln in it:
        data = ln.data
        if not data.strip():
            continue
        if prefilter is not None and not first and not data.startswith(_BULK_LINE_STARTS) and not prefilter(data):
            pending = None  # this line cannot match; if it was a bulk action's document, the pair is done
            continue
        if decode is not None and pending is None and not first:
            projected = decode(data)
            if projected is not None:
                yield RawDoc(projected, None, None, ln.number, ln.end, ln.number + 1, data)
                continue
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            if first and _starts_pretty_json(data):
                yield from _whole_file(path, ln, it, bad, prefilter, decode)
                return
            first = False
            if pending is not None:
                bad.add(path, pending[2], f"bulk {pending[0]} action without a valid document line ({ln.number})")
                pending = None
            bad.add(path, ln.number, f"invalid JSON: {error}")
            continue
        first = False
        if pending is not None:
            action, meta, action_line = pending
            pending = None
            if not isinstance(value, dict):
                bad.add(path, ln.number, f"bulk {action} document is not a JSON object")
            elif action == "update":
                bad.add(path, action_line, "bulk update carries a partial document; skipped")
            else:
                yield RawDoc(value, _str_or_none(meta.get("_index")), _str_or_none(meta.get("_id")),
                             ln.number, ln.end, ln.number + 1)
            continue
        if isinstance(value, dict):
            bulk = _bulk_action(value)
            if bulk is not None:
                if bulk[0] != "delete":  # delete has no document line; it removes nothing from a detection run
                    pending = (bulk[0], bulk[1], ln.number)
                continue
        for doc, index, doc_id in unwrap(value, path, ln.number, bad):
            yield RawDoc(doc, index, doc_id, ln.number, ln.end, ln.number + 1)
    if pending is not None:
        bad.add(path, pending[2], f"bulk {pending[0]} action at end of file without its document line")


def _whole_file(
    path: str, head: Line, rest: t.Iterator[Line], bad: BadRecords, prefilter: t.Optional[Prefilter],
    decode: t.Optional[t.Callable[[bytes], t.Optional[dict]]] = None,
) -> t.Iterator[RawDoc]:
    """Decode `head` plus every remaining line as one JSON value (a pretty-printed response or array).

    When that fails the first line was simply broken NDJSON: fall back to line by line so good lines still flow.
    """
    lines = [head, *rest]
    try:
        value = orjson.loads(b"\n".join(ln.data for ln in lines))
    except orjson.JSONDecodeError:
        yield from iter_documents(path, lines, bad, prefilter=prefilter, allow_whole_file=False, decode=decode)
        return
    last = lines[-1]
    for doc, index, doc_id in unwrap(value, path, head.number, bad):
        yield RawDoc(doc, index, doc_id, head.number, last.end, last.number + 1)
