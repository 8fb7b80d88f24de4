"""Files, directories, globs, compression and Elasticsearch export shapes, read through `open_sources`."""

from __future__ import annotations

import gzip
import json

import pytest
import zstandard

from vigil.errors import SourceError
from vigil.sources import SourceStats, open_sources
from vigil.sources.base import Adapter
from vigil.sources.exports import iter_documents
from vigil.sources.readers import BadRecords, expand_paths, iter_lines

# A stand-in JSON adapter: ECS documents pass through, indexed by their dataset.
ECS = Adapter(name="ecs", description="ECS documents", sniff=lambda d: "event" in d or "@timestamp" in d,
              normalize=lambda d: d if d.get("skip") is None else None,
              index=lambda d: f"logs-{d.get('event', {}).get('dataset', 'generic')}-default")
REGISTRY = {"ecs": ECS}


def doc(n: int) -> dict:
    return {"@timestamp": f"2024-01-01T00:00:{n:02d}Z", "event": {"dataset": "test"}, "process": {"name": f"p{n}"}}


def read(paths, **options):
    stats = SourceStats()
    with open_sources([str(p) for p in paths], stats=stats, registry=REGISTRY, **options) as stream:
        records = list(stream)
    return records, stats


def names(records):
    return [r.doc["process"]["name"] for r in records]


def write_ndjson(path, docs):
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def test_plain_gzip_and_zstd_files_are_read_by_content(tmp_path):
    body = "".join(json.dumps(doc(i)) + "\n" for i in range(3)).encode()
    (tmp_path / "a.ndjson").write_bytes(body)
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(body))
    (tmp_path / "c.log").write_bytes(zstandard.ZstdCompressor().compress(body))  # name says nothing
    records, stats = read([tmp_path / "a.ndjson", tmp_path / "b.json.gz", tmp_path / "c.log"])
    assert names(records) == ["p0", "p1", "p2"] * 3
    assert stats.files == 3 and stats.records == 9 and stats.per_source["ecs"] == 9
    assert records[4].path.endswith("b.json.gz") and records[4].line == 2
    assert records[0].index == "logs-test-default" and records[0].id is None and records[0].source == "ecs"


def test_directories_recurse_sorted_and_globs_expand(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    write_ndjson(tmp_path / "sub" / "deeper" / "2.ndjson", [doc(2)])
    write_ndjson(tmp_path / "sub" / "1.ndjson", [doc(1)])
    write_ndjson(tmp_path / "0.ndjson", [doc(0)])
    assert names(read([tmp_path])[0]) == ["p0", "p1", "p2"]
    assert names(read([tmp_path / "**" / "*.ndjson"])[0]) == ["p0", "p1", "p2"]
    with pytest.raises(SourceError, match="no such file"):
        expand_paths([str(tmp_path / "missing.ndjson")])
    with pytest.raises(SourceError, match="matches no files"):
        expand_paths([str(tmp_path / "*.nothing")])


def test_bad_lines_are_counted_with_location_and_good_lines_flow(tmp_path):
    path = tmp_path / "mixed.ndjson"
    path.write_text(json.dumps(doc(0)) + "\n{broken\n\n42\n" + json.dumps(doc(4)) + "\n")
    records, stats = read([path])
    assert names(records) == ["p0", "p4"]
    assert stats.bad.count == 2
    assert stats.bad.examples[0].startswith(f"{path}:2: invalid JSON")
    assert stats.bad.examples[1].startswith(f"{path}:4: expected a JSON object")
    assert "2 bad record(s)" in stats.report()


def test_not_event_documents_are_counted_not_bad(tmp_path):
    path = write_ndjson(tmp_path / "x.ndjson", [doc(0), {**doc(1), "skip": True}])
    records, stats = read([path])
    assert len(records) == 1 and stats.not_events == 1 and stats.bad.count == 0


def hit(n, index="logs-endpoint.events.process-default"):
    return {"_index": index, "_id": f"id{n}", "_score": 1.0, "_source": doc(n)}


def test_hits_per_line_keep_index_and_id(tmp_path):
    path = write_ndjson(tmp_path / "dump.ndjson", [hit(0), hit(1, "auditbeat-8.12.0")])
    records, _ = read([path])
    assert [(r.index, r.id) for r in records] == [("logs-endpoint.events.process-default", "id0"), ("auditbeat-8.12.0", "id1")]


def test_search_responses_one_per_line_and_pretty_whole_file(tmp_path):
    response = {"took": 3, "timed_out": False, "hits": {"total": {"value": 2}, "hits": [hit(0), hit(1)]}}
    per_line = write_ndjson(tmp_path / "pages.ndjson", [response, {"hits": {"hits": [hit(2)]}}])
    assert names(read([per_line])[0]) == ["p0", "p1", "p2"]
    pretty = tmp_path / "response.json"
    pretty.write_text(json.dumps(response, indent=2))
    records, stats = read([pretty])
    assert names(records) == ["p0", "p1"] and records[1].id == "id1" and stats.bad.count == 0
    eql = tmp_path / "eql.json"
    eql.write_text(json.dumps({"hits": {"sequences": [{"join_keys": ["a"], "events": [hit(5), hit(6)]}]}}, indent=1))
    assert names(read([eql])[0]) == ["p5", "p6"]


def test_top_level_array_file(tmp_path):
    pretty = tmp_path / "array.json"
    pretty.write_text(json.dumps([doc(0), hit(1)], indent=2))
    records, _ = read([pretty])
    assert names(records) == ["p0", "p1"] and records[1].index.startswith("logs-endpoint")
    one_line = tmp_path / "array1.json"
    one_line.write_text(json.dumps([doc(2), doc(3)]))
    assert names(read([one_line])[0]) == ["p2", "p3"]


def test_bulk_bodies_index_create_delete_update(tmp_path):
    lines = [
        {"index": {"_index": "logs-a", "_id": "1"}}, doc(1),
        {"delete": {"_index": "logs-a", "_id": "9"}},
        {"create": {"_index": "logs-b", "_id": "2"}}, doc(2),
        {"update": {"_index": "logs-a", "_id": "1"}}, {"doc": {"x": 1}},
        {"index": {}}, doc(3),
    ]
    records, stats = read([write_ndjson(tmp_path / "bulk.ndjson", lines)])
    assert [(r.index, r.id, r.line) for r in records] == [("logs-a", "1", 2), ("logs-b", "2", 5), ("logs-test-default", None, 9)]
    assert stats.bad.count == 1 and "bulk update" in stats.bad.examples[0] and ":6:" in stats.bad.examples[0]


def test_broken_first_line_does_not_swallow_the_file(tmp_path):
    path = tmp_path / "x.ndjson"
    path.write_text('{"@timestamp": "2024", "event": {\n' + json.dumps(doc(1)) + "\n")
    records, stats = read([path])
    assert names(records) == ["p1"] and stats.bad.count == 1


def test_a_single_broken_document_does_not_derail_detection(tmp_path):
    path = tmp_path / "x.ndjson"
    path.write_text("not json\n" + json.dumps(doc(1)) + "\n")
    records, stats = read([path])
    assert names(records) == ["p1"] and stats.bad.count == 1


def test_iter_lines_offsets_and_numbers(tmp_path):
    path = tmp_path / "l.txt"
    path.write_bytes(b"ab\r\n\ncd")
    lines = list(iter_lines(str(path)))
    assert [(ln.number, ln.start, ln.end, ln.data) for ln in lines] == [(1, 0, 4, b"ab"), (2, 4, 5, b""), (3, 5, 7, b"cd")]


def test_prefilter_skips_lines_but_not_bulk_pairing(tmp_path):
    lines = [{"index": {"_index": "i", "_id": "1"}}, doc(1), {"index": {"_index": "i", "_id": "2"}}, doc(2)]
    bad = BadRecords()
    from vigil.sources.readers import Line
    data = [Line(i + 1, 0, 0, json.dumps(x).encode()) for i, x in enumerate(lines)]
    out = list(iter_documents("b", data, bad, prefilter=lambda raw: b'"p2"' in raw))
    assert [(r.id, r.doc["process"]["name"]) for r in out] == [("2", "p2")] and bad.count == 0
