"""Projected decoding gives the query's fields the same values a full decode does, in every document shape."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from vigil.engine import fields
from vigil.eql import parse
from vigil.io.ndjson import NdjsonReader
from vigil.io.projection import projected_decoder, query_fields

WANTED = ["process.name", "process.parent.name", "event.type", "dll.name"]

DOCS = [
    {"process": {"name": "nping", "parent": {"name": "bash"}, "pid": 1}, "event": {"type": ["start"]}, "x": [1, 2]},
    {"process.name": "nping", "process.parent.name": "bash", "event.type": "start", "other": {"deep": 1}},
    {"process": {"name": "a", "parent.name": "b"}, "event": {"type": None}},
    {"dll": [{"name": "a.so"}, {"name": "b.so"}], "process": None},
    {"unrelated": {"process": {"name": "no"}}},
]


@pytest.mark.parametrize("doc", DOCS)
def test_same_values_as_full_decode(doc):
    decode = projected_decoder(WANTED)
    raw = orjson.dumps(doc)
    projected = decode(raw)
    for name in WANTED:
        assert fields.getter(name)(projected) == fields.getter(name)(orjson.loads(raw)), name
    assert "x" not in projected and "other" not in projected and "unrelated" not in projected


def test_unexpected_shape_raises_and_reader_falls_back(tmp_path):
    decode = projected_decoder(WANTED)
    with pytest.raises(msgspec.ValidationError):
        decode(b'{"process": "a string"}')
    path = tmp_path / "e.ndjson"
    path.write_bytes(b'{"process": "a string"}\n{"process": {"name": "nping", "pid": 3}}\n')
    docs = [line.doc for line in NdjsonReader([str(path)], decode=decode)]
    assert docs == [{"process": "a string"}, {"process": {"name": "nping"}}]


def test_query_fields():
    q = parse('sequence by host.id [process where process.name == "a"] [file where file.path : "*x"]')
    assert query_fields(q, "event.category", "@timestamp", None) == {
        "host.id", "process.name", "file.path", "event.category", "@timestamp"
    }
