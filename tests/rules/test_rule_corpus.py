"""The 384 shared Elastic rules (363 linux + 21 building blocks): all load, and survive TOML → NDJSON → TOML."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import orjson
import pytest

from vigil.rules.loader import load_ndjson, load_rule_dir, load_rules
from vigil.rules.ndjson_io import dumps_export, from_api, read_ndjson_export, to_api
from vigil.rules.schema import load_field_schema
from vigil.rules.toml_io import dumps_document


@functools.lru_cache(maxsize=1)
def _load_corpus(path: Path):
    return load_rule_dir(path)


@pytest.fixture
def corpus(shared):
    """All shared rules, loaded once per test session (the `shared` fixture skips when the data is absent)."""
    return _load_corpus(shared("rules", "elastic"))


def test_every_shared_rule_loads(corpus):
    assert corpus.files == 384
    assert corpus.errors == []
    assert len(corpus.rules) == 384
    # rules-corpus.md §1.4: eql 295, new_terms 59, query 17, esql 9, threshold 4
    assert corpus.counts_by_type() == {"eql": 295, "new_terms": 59, "query": 17, "esql": 9, "threshold": 4}
    assert sum(r.is_building_block for r in corpus.rules) == 21
    # every eql, query, threshold and new_terms rule runs; the 9 esql rules do not
    assert sum(r.runnable for r in corpus.rules) == 375
    assert {r.type for r in corpus.rules if not r.runnable} == {"esql"}


def test_scheduling_fields_match_the_survey(corpus):
    linux_eql = [r for r in corpus.rules if r.type == "eql" and "/linux/" in r.location]
    assert len(linux_eql) == 287
    assert sum(r.from_ == "now-9m" for r in linux_eql) == 280
    assert sum(r.max_signals == 100 for r in linux_eql) == 281
    assert sum(r.timestamp_override == "event.ingested" for r in linux_eql) == 237
    assert all(r.interval == "5m" for r in linux_eql)


def test_round_trip_in_memory_keeps_every_field(corpus):
    for rule in corpus.rules:
        api = orjson.loads(orjson.dumps(to_api(rule.document)))
        assert api["rule_id"] == rule.rule_id and "metadata" not in api
        back = from_api(api)
        assert back == rule.document, rule.location
        assert tomllib.loads(dumps_document(back)) == rule.document, rule.location


def test_round_trip_through_files(corpus, tmp_path):
    export = tmp_path / "export.ndjson"
    export.write_bytes(dumps_export(r.document for r in corpus.rules))
    lines = export.read_bytes().splitlines()
    assert len(lines) == 385
    summary = orjson.loads(lines[-1])
    assert summary["exported_count"] == 384 and summary["exported_rules_count"] == 384
    assert read_ndjson_export(export).summary == summary

    loaded = load_ndjson(export)
    assert loaded.errors == [] and len(loaded.rules) == 384
    originals = {r.rule_id: r.document for r in corpus.rules}
    toml_dir = tmp_path / "toml"
    toml_dir.mkdir()
    for rule in loaded.rules:
        assert rule.document == originals[rule.rule_id]
        (toml_dir / f"{rule.rule_id}.toml").write_text(dumps_document(rule.document), encoding="utf-8")
    again = load_rules(toml_dir)
    assert again.errors == [] and len(again.rules) == 384
    assert {r.rule_id: r.document for r in again.rules} == originals


def test_new_terms_become_api_fields(corpus):
    rule = next(r for r in corpus.rules if r.type == "new_terms")
    api = to_api(rule.document)
    assert "new_terms" not in api
    assert api["new_terms_fields"] == rule.new_terms["value"]
    assert api["history_window_start"] == rule.new_terms["history_window_start"][0]["value"]


def test_field_check_against_shared_schemas(shared):
    schema = load_field_schema(shared("schemas"))
    assert schema.type_of("process.name") == "keyword" and schema.has("auditd.data.syscall")
    result = load_rule_dir(shared("rules", "elastic", "linux"), schema=schema)
    assert result.errors == []
    flagged = [w for w in result.warnings if w.error.location.key == "rule.query"]
    # Only Elastic Defend file/user fields that the shared endpoint_process schema does not define are unknown.
    unknown = {f for w in flagged for f in w.error.message.split(": ", 1)[1].split(", ")}
    assert unknown and all(".Ext." in f for f in unknown)
    assert all(w.error.location.line is not None for w in flagged)
