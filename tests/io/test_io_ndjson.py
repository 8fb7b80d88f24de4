"""The block reader on real files: formats, line numbers across blocks, bad lines, the prefilter's safety."""

from __future__ import annotations

import gzip
import io
import random
import sys

import orjson
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.eql import parse
from vigil.eql.literals import required_literals
from vigil.io import ndjson
from vigil.io.ndjson import BadLine, NdjsonReader, iter_lines

NPING = required_literals(parse('process where process.name == "nping"'))


def event(i: int, name: str = "bash") -> dict:
    return {"@timestamp": f"2024-01-01T00:00:{i % 60:02d}Z", "event": {"category": ["process"]},
            "process": {"name": name, "pid": i, "args": ["x" * (i % 50)]}}


def write_lines(path, lines: list[bytes], compress: str = "") -> None:
    data = b"".join(line + b"\n" for line in lines)
    if compress == "gz":
        data = gzip.compress(data)
    elif compress == "zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


@pytest.mark.parametrize("compress", ["", "gz", "zst"])
def test_formats_and_line_numbers(tmp_path, compress):
    lines = [orjson.dumps(event(i, "nping" if i % 7 == 3 else "bash")) for i in range(200)]
    path = tmp_path / f"events.ndjson{'.' + compress if compress else ''}"
    write_lines(path, lines, compress)
    reader = NdjsonReader([str(path)], block_size=257)  # tiny blocks: lines cross block boundaries
    got = [(line.line, line.doc["process"]["pid"]) for line in reader]
    assert got == [(i + 1, i) for i in range(200)]
    assert reader.stats.lines == 200 and reader.stats.parsed == 200 and reader.stats.bad == 0
    filtered = NdjsonReader([str(path)], prefilter=NPING, block_size=257)
    assert [(line.line, line.doc["process"]["name"]) for line in filtered] == [
        (i + 1, "nping") for i in range(200) if i % 7 == 3
    ]
    assert filtered.stats.skipped == 200 - filtered.stats.parsed


def test_stdin(monkeypatch):
    lines = [orjson.dumps(event(i, "nping")) for i in range(5)]
    fake = io.TextIOWrapper(io.BufferedReader(io.BytesIO(gzip.compress(b"\n".join(lines)))))
    monkeypatch.setattr(sys, "stdin", fake)
    assert [line.line for line in NdjsonReader(["-"], prefilter=NPING)] == [1, 2, 3, 4, 5]


def test_last_line_without_newline_and_blank_lines(tmp_path):
    path = tmp_path / "e.ndjson"
    path.write_bytes(b'{"a":1}\n\n   \n{"a":2}\r\n{"a":3}')
    reader = NdjsonReader([str(path)], block_size=5)
    assert [(line.line, line.doc["a"]) for line in reader] == [(1, 1), (4, 2), (5, 3)]
    assert reader.stats.lines == 5 and reader.stats.blank == 2


def test_bad_lines_counted_good_lines_kept(tmp_path):
    path = tmp_path / "bad.ndjson"
    lines = [
        orjson.dumps(event(1, "nping")),
        b'{"process": {"name": "nping"',  # truncated
        b'["process", "nping"]',  # not an object
        b'{"process": {"name": "nping\xff"}}',  # invalid UTF-8
        orjson.dumps(event(5, "nping")),
    ]
    write_lines(path, lines)
    for prefilter in (None, NPING):
        reader = NdjsonReader([str(path)], prefilter=prefilter, block_size=40)
        assert [line.line for line in reader] == [1, 5]
        assert [(b.line, b.reason.split(":")[0]) for b in reader.bad_lines] == [
            (2, "malformed JSON"), (3, "not a JSON object (a list)"), (4, "invalid UTF-8"),
        ]
        assert reader.stats.bad == 3 and reader.stats.parsed == 2
        assert str(reader.bad_lines[0]).startswith(f"{path}:2: malformed JSON")


def test_overlong_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(ndjson, "MAX_LINE", 100)
    path = tmp_path / "long.ndjson"
    long_line = b'{"x":"' + b"a" * 500 + b'"}'
    write_lines(path, [b'{"n":1}', long_line, b'{"n":3}', long_line, b'{"n":5}'])
    for block_size in (16, 64, 4096):
        reader = NdjsonReader([str(path)], block_size=block_size)
        assert [(line.line, line.doc["n"]) for line in reader] == [(1, 1), (3, 3), (5, 5)]
        assert reader.bad_lines == [BadLine(str(path), 2, "line longer than 16 MiB"),
                                    BadLine(str(path), 4, "line longer than 16 MiB")]
        assert reader.stats.lines == 5


def test_unreadable_and_corrupt_files_do_not_stop_the_rest(tmp_path):
    good = tmp_path / "good.ndjson"
    write_lines(good, [orjson.dumps(event(1))])
    corrupt = tmp_path / "corrupt.ndjson.gz"
    corrupt.write_bytes(gzip.compress(b'{"a":1}\n' * 1000)[:30])
    reader = NdjsonReader([str(tmp_path / "missing.ndjson"), str(corrupt), str(good)])
    docs = list(reader)
    assert docs[-1].path == str(good)
    assert [e.location.path for e in reader.errors] == [str(tmp_path / "missing.ndjson"), str(corrupt)]
    assert "cannot read" in str(reader.errors[0])


def test_iter_lines_alone(tmp_path):
    path = tmp_path / "e.ndjson"
    write_lines(path, [b'{"a":"nping"}', b'{"a":"x"}', b"not json at all nping"])
    lits = required_literals(parse('any where process.name == "nping"'))
    assert list(iter_lines(str(path), prefilter=lits)) == [(1, b'{"a":"nping"}'), (3, b"not json at all nping")]


def test_weak_prefilter_is_not_used():
    weak = required_literals(parse('process where event.type == "start"'))
    assert NdjsonReader([], prefilter=weak).prefilter is None
    assert NdjsonReader([], prefilter=NPING).prefilter is NPING


def _escaped(value: str, rnd: random.Random) -> str:
    out = []
    for ch in value:
        roll = rnd.random()
        if roll < 0.3:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else orjson.dumps(ch).decode()[1:-1])
        elif ch == "/" and roll < 0.6:
            out.append("\\/")
        else:
            out.append(orjson.dumps(ch).decode()[1:-1])
    return "".join(out)


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(st.sampled_from(["nping", "bash", "/usr/bin/nping", "np/ing", "sshd"]), min_size=1, max_size=40),
    seed=st.integers(0, 2**32),
    block_size=st.integers(16, 300),
)
def test_prefilter_never_drops_a_matching_line(tmp_path_factory, names, seed, block_size):
    """Whatever escapes a writer used, every line whose decoded value contains the literal comes through."""
    rnd = random.Random(seed)
    queries = ['any where process.name == "nping"', 'any where process.name : "*/nping"',
               'any where process.name == "np/ing"']
    path = tmp_path_factory.mktemp("p") / "e.ndjson"
    lines = [('{"process":{"name":"' + _escaped(name, rnd) + '"},"pad":"' + "z" * rnd.randrange(30) + '"}').encode()
             for name in names]
    write_lines(path, lines)
    for text in queries:
        lits = required_literals(parse(text))
        expected = [i + 1 for i, name in enumerate(names)
                    if (name == "nping" if "==" in text and "np/ing" not in text else
                        name.endswith("/nping") if ":" in text else name == "np/ing")]
        got = [line.line for line in NdjsonReader([str(path)], prefilter=lits, block_size=block_size)
               if (line.doc["process"]["name"] == "nping" if "==" in text and "np/ing" not in text else
                   line.doc["process"]["name"].endswith("/nping") if ":" in text else
                   line.doc["process"]["name"] == "np/ing")]
        assert got == expected, (text, lines)


# ------------------------------------------------------------------ fast paths agree with the plain reading
def _mixed_lines(rnd: random.Random, n: int) -> list[bytes]:
    """Lines of every shape a reader meets: nested, flattened, null/array objects, blank, whitespace-only, CRLF,
    malformed, non-object, long, and a few `nping` / `start` hits."""
    shapes = [
        lambda i: orjson.dumps(event(i, "nping" if i % 9 == 0 else "bash")),
        lambda i: orjson.dumps({"process.name": "nping", "process.pid": i, "event.category": "process"}),
        lambda i: orjson.dumps({"process": None, "event": {"category": ["process"], "type": ["start"]}}),
        lambda i: orjson.dumps({"process": [{"name": "nping"}, {"name": "x"}], "event": {"type": "start"}}),
        lambda i: b"",
        lambda i: b"   \t",
        lambda i: orjson.dumps(event(i)) + b"\r",
        lambda i: b'{"process": {"name": "nping"',
        lambda i: b'["start", "nping"]',
        lambda i: orjson.dumps({"process": {"name": "start", "args": ["y" * rnd.randrange(400)]}}),
    ]
    return [rnd.choice(shapes)(i) for i in range(n)]


def _read(reader: NdjsonReader, predicate=None) -> tuple[list, dict, list]:
    from vigil.engine import fields

    get = fields.getter("process.name")
    lines = list(reader if predicate is None else reader.matching(predicate))
    return [(x.line, get(x.doc), x.raw) for x in lines], reader.stats.to_dict(), reader.bad_lines


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), block_size=st.integers(16, 600))
def test_projected_views_and_matching_agree_with_plain_reading(tmp_path_factory, seed, block_size):
    from vigil.engine import compile_query
    from vigil.io.projection import projected_decoder

    rnd = random.Random(seed)
    path = tmp_path_factory.mktemp("v") / "e.ndjson"
    write_lines(path, _mixed_lines(rnd, 60))
    query = 'any where process.name == "nping"'
    matches = compile_query(query).matches
    plain, plain_stats, plain_bad = _read(NdjsonReader([str(path)], block_size=block_size))
    projected = NdjsonReader([str(path)], block_size=block_size, decode=projected_decoder(["process.name"]))
    got, stats, bad = _read(projected)
    assert got == plain and stats == plain_stats and bad == plain_bad
    assert all(raw.__class__ is bytes for _, _, raw in got)  # views never escape the reader
    expected = [item for item in plain if item[1] == "nping" or (item[1].__class__ is list and "nping" in item[1])]
    for decode in (None, projected_decoder(["process.name"])):
        for prefilter in (None, required_literals(parse(query))):
            reader = NdjsonReader([str(path)], block_size=block_size, decode=decode, prefilter=prefilter)
            assert _read(reader, matches)[0] == expected


def test_prefilter_adapts_to_the_data(tmp_path):
    """The scanner picks the clause that is rare in the data (not the one that looks rare) and, when every clause
    is common, tests lines one by one; both give exactly the lines the formula allows."""
    rnd = random.Random(7)
    lines = []
    for i in range(3000):
        doc = {"event": {"category": ["process"], "type": ["start" if i % 50 == 0 else "end"]},
               "process": {"name": "nping" if i % 3 == 0 else "bash", "pad": "p" * rnd.randrange(300)}}
        lines.append(orjson.dumps(doc))
    path = tmp_path / "e.ndjson"
    write_lines(path, lines)
    # Static scores prefer `nping` (a third of the lines); `start` is rarer here: 60 lines.
    lits = required_literals(parse('process where process.name == "nping" and event.type == "start"'))
    reader = NdjsonReader([str(path)], prefilter=lits, block_size=8192)
    got = [line.line for line in reader]
    assert got == [i + 1 for i in range(3000) if i % 50 == 0 and i % 3 == 0]
    scanner = ndjson._Scanner(lits)
    assert scanner.exact[0] == b"nping"  # the static guess
    block = bytearray(b"\n".join(lines[:100]) + b"\n")
    scanner.block(block, memoryview(block), len(block), 0, "p", ndjson.ReadStats(), lambda bad: None)
    assert scanner.exact[0] == b"start" and not scanner.dense  # what the data says
    assert reader.stats.skipped == 3000 - len(got) and reader.stats.lines == 3000
    # Every clause common: lines are still filtered, each tested on its own.
    dense = required_literals(parse('process where event.category == "process" and process.name : "*p*"'))
    reader = NdjsonReader([str(path)], prefilter=dense, block_size=8192)
    assert len(list(reader)) == 3000 and reader.stats.skipped == 0
    assert list(iter_lines(str(path), prefilter=required_literals(parse('any where process.name == "nping"')),
                           block_size=8192)) == [(i + 1, lines[i]) for i in range(3000) if i % 3 == 0]


def test_buffer_grows_for_long_lines_and_shrinks_nothing(tmp_path):
    from vigil.io.projection import projected_decoder

    path = tmp_path / "e.ndjson"
    big = orjson.dumps({"process": {"name": "nping", "args": ["z" * 50_000]}})
    write_lines(path, [b'{"process":{"name":"a"}}', big, b'{"process":{"name":"b"}}'] * 3)
    for decode in (None, projected_decoder(["process.name"])):
        reader = NdjsonReader([str(path)], block_size=64, decode=decode)
        names = [line.doc["process"]["name"] for line in reader]
        assert names == ["a", "nping", "b"] * 3 and reader.stats.lines == 9 and reader.stats.bad == 0
