"""Projected decoding: decode only the fields a query reads, and skip the rest of each line inside msgspec.

Parsing a ~1 KB Elastic Defend line into a full dict costs most of an event query's time. A query reads a handful of
fields, so we build a msgspec `TypedDict` type holding just those paths and let msgspec skip everything else at C
speed. A path `process.parent.name` is declared in every spelling a document may use: nested
(`{"process": {"parent": {"name": ...}}}`), flattened (`{"process.parent.name": ...}`) and mixed
(`{"process": {"parent.name": ...}}`); objects may also come as arrays of objects (Elasticsearch flattens those) or
null. Leaves are `Any`, so values keep their JSON types exactly as orjson would give them.

A line of another shape (say `"process": "x"`) makes msgspec raise; `NdjsonReader` then decodes that line in full with
orjson, so nothing is lost, only slower. The projected dict is for *evaluating* the query: re-decode `raw` with
orjson for output.
"""

from __future__ import annotations

import itertools
import typing as t

import msgspec

from vigil.eql import ast

_LEAF = object()
_names = itertools.count()


def query_fields(query: ast.Node, *extra: t.Optional[str]) -> set[str]:
    """Every field path `query` reads, plus `extra` ones (category, timestamp, tiebreaker fields), Nones ignored."""
    fields = {f.name for f in query.find_all(ast.Field) if f.name}
    fields.update(e for e in extra if e)
    return fields


def _trie(fields: t.Iterable[str]) -> dict[str, t.Any]:
    root: dict[str, t.Any] = {}

    def add(node: dict[str, t.Any], parts: list[str]) -> None:
        for k in range(1, len(parts) + 1):
            key = ".".join(parts[:k])
            if k == len(parts):
                node[key] = _LEAF  # a leaf wins over deeper paths: it decodes the whole subtree
            elif node.get(key) is not _LEAF:
                add(node.setdefault(key, {}), parts[k:])

    for name in fields:
        add(root, name.split("."))
    return root


def _typed_dict(node: dict[str, t.Any], strict: bool) -> type:
    annotations: dict[str, t.Any] = {}
    for key, child in node.items():
        if child is _LEAF:
            annotations[key] = t.Any
        else:
            sub = _typed_dict(child, strict)
            annotations[key] = sub if strict else t.Union[sub, t.List[sub], None]  # type: ignore[valid-type]
    return t.TypedDict(f"Projection{next(_names)}", annotations, total=False)  # type: ignore[operator]


def projected_type(fields: t.Iterable[str], *, strict: bool = False) -> type:
    """A TypedDict type that decodes exactly `fields` (dotted paths) in nested, flattened or mixed form.

    `strict=True` gives the common shape only (objects along the path are objects, never arrays or null): it is
    about a third faster to decode, because msgspec need not try the members of a union at every level."""
    return _typed_dict(_trie(fields), strict)


def projected_decoder(fields: t.Iterable[str]) -> t.Callable[[bytes], dict]:
    """`decode(raw) -> dict` holding only `fields`; raises msgspec errors on lines of an unexpected shape.

    Tries the strict shape first and the general one (arrays of objects, nulls) when that fails; both give the same
    dict whenever the strict one succeeds."""
    fields = list(fields)
    strict = msgspec.json.Decoder(projected_type(fields, strict=True)).decode
    general = msgspec.json.Decoder(projected_type(fields)).decode
    invalid = msgspec.ValidationError

    def decode(raw: bytes) -> dict:
        try:
            return strict(raw)
        except invalid:
            return general(raw)

    decode.accepts_buffers = True  # type: ignore[attr-defined]  # any bytes-like object: NdjsonReader passes views
    decode.first = strict  # type: ignore[attr-defined]  # what a hot loop may call directly, `decode` on failure
    return decode
