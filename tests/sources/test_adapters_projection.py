"""Projected normalization (Adapter.project, mapping `fn.project`, projected decoding, Record.complete).

The invariant, for every adapter, every record and every field set F:
    restrict(project(F)(raw), F) == restrict(normalize(raw), F)   and   index() agrees.
Records come from the shipped samples and ../shared/datasets goldens (when present), with random keys dropped or
blanked so that other record shapes are compiled too; F is drawn from the paths the full documents contain.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED
from vigil.engine.fields import getter
from vigil.sources import exports, open_sources
from vigil.sources.adapters import ADAPTERS, crowdstrike_fdr, projection, sentinel_one_cloud_funnel
from vigil.sources.adapters.mapping import Copy, Derive, First, Lookup, Set, compile_mapping, needed, restrict
from vigil.sources.base import Record
from vigil.sources.readers import BadRecords, Line

from tests.sources.test_adapters_shapes import _values

SAMPLES = Path(__file__).resolve().parents[2] / "vigil" / "data" / "samples"
NPING = ("event.category", "host.os.type", "event.type", "event.action", "process.name", "@timestamp")


def _ndjson(path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _goldens() -> dict[str, list[dict]]:
    """Raw records of the shared datasets per adapter (empty when ../shared is not there)."""
    out: dict[str, list[dict]] = {name: [] for name in ADAPTERS}
    data = SHARED / "datasets"
    if not data.exists():
        return out
    out["crowdstrike_fdr"] += _ndjson(data / "crowdstrike_fdr" / "test-linux.log")
    out["sentinel_one_cloud_funnel"] += _ndjson(data / "sentinel_one_cloud_funnel" / "test-process.log")
    endgame = json.loads((data / "endgame" / "test_data.json").read_text())
    out["endgame"] += [e for e in endgame if isinstance(e, dict)][:200]
    out["auditd_manager"].append(json.loads((data / "auditd_manager" / "sample_event.json").read_text()))
    out["defend"].append(json.loads((data / "endpoint" / "sample_event.json").read_text()))
    for path in sorted((data / "auditbeat").rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue
        for item in doc if isinstance(doc, list) else [doc]:
            if isinstance(item, dict) and ADAPTERS["auditbeat"].sniff(item):
                out["auditbeat"].append(item)
    return out


def _records() -> dict[str, list[dict]]:
    out = _goldens()
    for name in ADAPTERS:
        path = Path(SAMPLES) / f"{name}.ndjson"
        if path.exists():
            out[name] = _ndjson(path) + out[name]
    return {name: records for name, records in out.items() if records}


RECORDS = _records()


def paths_of(doc: dict, prefix: str = "") -> list[str]:
    """Every path of a document, objects and leaves (keys may be dotted, as in a vendor namespace)."""
    out = []
    for key, value in doc.items():
        path = prefix + key
        out.append(path)
        if isinstance(value, dict):
            out += paths_of(value, path + ".")
    return out


OUTPUT_PATHS = {
    name: sorted({path for raw in records if (doc := ADAPTERS[name].normalize(copy.deepcopy(raw))) is not None
                  for path in paths_of(doc)})
    for name, records in RECORDS.items()
}


def _vary(raw: dict, rnd: random.Random) -> dict:
    """A copy with a few top-level keys dropped or blanked (other shapes, other First winners)."""
    out = copy.deepcopy(raw)
    for key in list(out):
        roll = rnd.random()
        if roll < 0.08:
            del out[key]
        elif roll < 0.12:
            out[key] = rnd.choice([None, ""])
    return out


def _check(name: str, raw: dict, fields: list[str]) -> None:
    adapter = ADAPTERS[name]
    projected_fn = adapter.project(fields)
    try:
        full = adapter.normalize(copy.deepcopy(raw))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return  # a record the full mapping rejects is a bad record either way
    projected = projected_fn(copy.deepcopy(raw))
    assert (projected is None) == (full is None), (name, fields)
    if full is None:
        return
    assert restrict(projected, fields) == restrict(full, fields), (name, fields)
    assert adapter.index(projected) == adapter.index(full)
    decode = getattr(projected_fn, "decode", None)
    if decode is not None:
        raw_projected = decode(orjson.dumps(raw))
        if raw_projected is not None:  # a plain record of the source: decoded for the keys read only
            doc = projected_fn(raw_projected)
            assert (doc is None) == (full is None), (name, fields)
            if doc is not None:
                assert restrict(doc, fields) == restrict(full, fields), (name, fields)
                assert adapter.index(doc) == adapter.index(full)
                for field in fields:  # what a rule reads, through the engine's own field access
                    assert getter(field)(doc) == getter(field)(full), (name, field)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(RECORDS)))
def test_projection_equals_the_full_document_on_the_needed_paths(data, name):
    records = RECORDS[name]
    raw = records[data.draw(st.integers(0, len(records) - 1))]
    if data.draw(st.booleans()):
        raw = _vary(raw, random.Random(data.draw(st.integers(0, 2**32))))
    fields = data.draw(st.lists(st.sampled_from(OUTPUT_PATHS[name] + ["nothing.here", "process.nope"]),
                                min_size=0, max_size=6, unique=True))
    _check(name, raw, fields)


def test_nping_fields_on_every_record_of_every_adapter():
    for name, records in RECORDS.items():
        for raw in records:
            _check(name, raw, list(NPING))


@pytest.mark.parametrize("name", sorted(set(ADAPTERS) - {"auditd_manager"}))
def test_adapters_project(name):
    assert ADAPTERS[name].project(NPING) is not ADAPTERS[name].normalize
    assert ADAPTERS[name].project(None) is ADAPTERS[name].normalize
    assert ADAPTERS[name].project(NPING) is ADAPTERS[name].project(list(reversed(NPING)))  # cached per field set
    # Which decode their lines projected: all but Endgame (mixed native and ECS lines; fast enough without).
    assert (getattr(ADAPTERS[name].project(NPING), "decode", None) is None) == (name == "endgame")


def test_a_hand_written_adapter_projects_to_its_full_normalize():
    assert ADAPTERS["auditd_manager"].project(NPING) is ADAPTERS["auditd_manager"].normalize


def test_projected_fdr_builds_only_the_needed_paths():
    raw = RECORDS["crowdstrike_fdr"][0]
    doc = ADAPTERS["crowdstrike_fdr"].project(["process.name", "host.os.type"])(raw)
    assert set(paths_of(doc)) <= {"process", "process.name", "host", "host.os", "host.os.type"}
    # A prefix covers everything below it, vendor namespace included.
    doc = ADAPTERS["crowdstrike_fdr"].project(["crowdstrike"])(raw)
    assert doc == {"crowdstrike": crowdstrike_fdr.normalize(raw)["crowdstrike"]}


def test_needed_and_restrict():
    wanted = needed(["process.parent.name", "host"])
    assert wanted("process") and wanted("process.parent") and wanted("process.parent.name")
    assert not wanted("process.name") and not wanted("process.parent.pid")
    assert wanted("host.os.type") and not wanted("hostname")
    doc = {"process": {"name": "a", "parent": {"name": "b", "pid": 1}}, "host": {"os": {"type": "linux"}},
           "crowdstrike": {"a.b": 1, "c": 2}}
    assert restrict(doc, ["process.parent.name", "host"]) == {"process": {"parent": {"name": "b"}},
                                                              "host": {"os": {"type": "linux"}}}
    assert restrict(doc, ["crowdstrike.a.b"]) == {"crowdstrike": {"a.b": 1}}
    assert restrict(doc, ["user"]) == {}


# ------------------------------------------------------------------------------- the compiled projected shapes

_MAPPING = compile_mapping("projection_test", [
    Copy("a", ("x.a", "y.a")),
    First(("b", "c"), "x.b"),
    Set("x.k", "const"),
    Lookup("t", {"P": (["process"], "start"), "Q": (None, "end")}, ("event.category", "event.type")),
    Derive(("a", "b"), ("d.one", "d.two"), lambda a, b: (a, b) if a != b else None),
], vendor="v", require="t")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_compiled_projection_equals_the_interpreted_projection(data):
    keys = data.draw(st.lists(st.sampled_from(["a", "b", "c", "t", "z", "w.q"]), unique=True))
    raw = {key: data.draw(st.one_of(_values, st.sampled_from(["P", "Q"]))) for key in keys}
    fields = data.draw(st.lists(st.sampled_from(["x", "x.a", "y", "x.k", "event", "event.type", "d.two", "d",
                                                 "v", "v.z", "v.w.q", "v.w", "nope"]), unique=True, max_size=4))
    projected = _MAPPING.project(fields)
    try:
        full = _MAPPING(raw)
    except (TypeError, ValueError):
        return
    got = projected(raw)
    assert got == projected.interpret(raw)
    assert (got is None) == (full is None)
    if full is not None:
        assert restrict(got, fields) == restrict(full, fields)


def test_projected_raw_keys():
    projected = _MAPPING.project(["x.b"])
    assert projected.raw_keys == {"b", "c", "t"}  # the First sources, and the required key
    assert _MAPPING.project(["v"]).raw_keys is None  # the vendor namespace may hold any key
    assert _MAPPING.raw_keys is None and _MAPPING.fields is None


# ------------------------------------------------------------------------------------------ projected decoding

def test_raw_decoder_takes_plain_records_and_refuses_everything_else():
    decode = projection.raw_decoder(["a", "b"], "m")
    assert decode(b'{"m":"x","a":"1","c":{"deep":[1,2]},"b":[1,{"k":null}]}') == {"m": "x", "a": "1",
                                                                                   "b": [1, {"k": None}]}
    assert decode(b'{"a":"1"}') is None  # no marker: a hit, a bulk action, another source
    assert decode(b'[{"m":"x"}]') is None and decode(b'{"m":') is None and decode(b'"m"') is None
    assert decode(b'{"m":"x","a":123456789012345678901234567890}') is None  # orjson reads a float: let it
    assert decode(b'{"m":"x","a":[1e400]}') is None
    assert decode(b'{"m":"x","a":"\\ud800"}') is None
    assert decode(b'{"m":"x","_source":{"m":"y"}}') is None  # a hit-like line: the reader unwraps it


def test_document_decoder_reads_every_spelling_and_declines_wrappers():
    decode = projection.document_decoder(["process.name", "host.os.type"])
    assert decode(b'{"@timestamp":"t","process":{"name":"a","pid":1},"host.os.type":"linux","x":[1]}') == {
        "@timestamp": "t", "process": {"name": "a"}, "host.os.type": "linux"}
    assert decode(b'{"@timestamp":"t","process":[{"name":"a"},{"pid":2}],"host":null}') == {
        "@timestamp": "t", "process": [{"name": "a"}, {}], "host": None}
    assert decode(b'{"@timestamp":"t","process":"oops"}') is None  # another shape: decoded in full by orjson
    assert decode(b'{"_index":"i","_source":{"@timestamp":"t"}}') is None  # a hit: unwrapped by the reader
    assert decode(b'{"@timestamp":"t","_source":{}}') is None
    assert decode(b'{"hits":{"hits":[]},"@timestamp":"t"}') is None
    assert decode(b'{"process":{"name":"a"}}') is None  # no @timestamp: not taken for a document
    assert decode(b'{"@timestamp":"t","process":{"name":123456789012345678901234567890}}') is None
    assert decode(b'{"@timestamp":"t","process":{"name":1e400}}') is None
    assert decode(b'{"@timestamp":"t","process":{"name":1.5}}') == {"@timestamp": "t", "process": {"name": 1.5}}


def _lines(datas: list[bytes]) -> list[Line]:
    out, offset = [], 0
    for number, data in enumerate(datas, 1):
        out.append(Line(number, offset, offset + len(data) + 1, data))
        offset += len(data) + 1
    return out


def test_iter_documents_uses_the_projected_decoder_for_plain_lines_only():
    fdr = RECORDS["crowdstrike_fdr"][0]
    normalize = ADAPTERS["crowdstrike_fdr"].project(NPING)
    hit = {"_index": "i", "_id": "7", "_source": fdr}
    lines = _lines([orjson.dumps(fdr), orjson.dumps(fdr), orjson.dumps(hit), b'{"index":{"_id":"9"}}',
                    orjson.dumps(fdr), b"{broken"])
    bad = BadRecords()
    docs = list(exports.iter_documents("f", lines, bad, decode=normalize.decode))
    assert [d.data is not None for d in docs] == [False, True, False, False]  # first line, plain, hit, bulk doc
    assert docs[2].id == "7" and docs[3].id == "9" and docs[2].doc == fdr and docs[3].doc == fdr
    assert set(docs[1].doc) <= normalize.decode.keys and normalize(docs[1].doc) == normalize(fdr)
    assert bad.count == 1


# -------------------------------------------------------------------------------------------- Record.complete

@pytest.mark.parametrize("name", sorted(RECORDS))
def test_open_sources_with_fields_gives_projected_records_that_complete(tmp_path, name):
    path = tmp_path / f"{name}.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(raw) for raw in RECORDS[name]) + b"\n")
    full = list(open_sources([str(path)], source=name))
    projected = list(open_sources([str(path)], source=name, fields=NPING))
    assert len(full) == len(projected) > 0
    for a, b in zip(full, projected):
        assert (b.index, b.id, b.line, b.source) == (a.index, a.id, a.line, a.source)
        assert restrict(b.doc, NPING) == restrict(a.doc, NPING)
        assert a.complete() is a.doc  # unprojected: its own document
        assert b.complete() == a.doc and b.doc == a.doc and b.completer is None
        assert b.complete() is b.doc  # computed once


def test_complete_keeps_the_projected_document_when_the_full_mapping_fails():
    def boom():
        raise ValueError("converter")

    record = Record(doc={"process": {"name": "nping"}}, index="i", completer=boom)
    assert record.complete() == {"process": {"name": "nping"}} and record.completer is None


def test_sentinel_one_projection_keeps_the_event_test():
    raw = RECORDS["sentinel_one_cloud_funnel"][0]
    projected = ADAPTERS["sentinel_one_cloud_funnel"].project(["process.name"])(raw)
    assert projected["event"] == {"kind": "event"} and projected["process"]["name"] == raw["tgt.process.name"]
    assert sentinel_one_cloud_funnel.normalize({"x": "1"}) is not None  # event.kind is always set: an event


def test_audit_log_stream_accepts_fields(tmp_path):
    sample = Path(SAMPLES) / "auditd.log"
    full = list(open_sources([str(sample)]))
    projected = list(open_sources([str(sample)], fields=NPING))
    assert len(full) == len(projected) > 0
    for a, b in zip(full, projected):
        assert restrict(b.complete(), NPING) == restrict(a.doc, NPING)
