"""Real rules (TOML files through the loader) and real records for the run tests."""

from __future__ import annotations

import datetime as dt
import typing as t
from pathlib import Path

import tomli_w

from vigil.alerts.times import js_iso
from vigil.rules import load_rule_file
from vigil.rules.model import Rule
from vigil.sources.base import Record

UTC = dt.timezone.utc
T = dt.datetime(2026, 11, 28, 12, 5, tzinfo=UTC)
M = dt.timedelta(minutes=1)


def make_rule(tmp_path: Path, **fields: t.Any) -> Rule:
    rule = {
        "rule_id": "7e5a1c2b-0000-4000-8000-000000000001", "name": "Test nping", "description": "test rule",
        "type": "eql", "language": "eql", "query": 'process where process.name == "nping"',
        "index": ["logs-endpoint.events.*"], "severity": "medium", "risk_score": 47, "author": ["vigil tests"],
        "license": "Elastic License v2", "interval": "5m", "from": "now-9m", "max_signals": 100,
    }
    rule.update(fields)
    doc = {"metadata": {"creation_date": "2026/01/01", "updated_date": "2026/01/01", "maturity": "production"},
           "rule": rule}
    path = tmp_path / f"rule-{rule['rule_id'][-4:]}-{abs(hash(str(sorted(rule.items())))) % 10**8}.toml"
    path.write_bytes(tomli_w.dumps(doc).encode())
    return load_rule_file(path)


def event(n: int, at: dt.datetime, *, name: str = "nping", index: str = "logs-endpoint.events.process-default",
          ingested: t.Optional[dt.datetime] = None, **extra: t.Any) -> Record:
    doc: dict[str, t.Any] = {
        "@timestamp": js_iso(at),
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"name": "web-01", "os": {"type": "linux"}},
        "user": {"name": extra.pop("user", "ana")},
        "process": {"name": name, "pid": 1000 + n, "entity_id": f"e{n}"},
    }
    if ingested is not None:
        doc["event"]["ingested"] = js_iso(ingested)
    for key, value in extra.items():
        doc[key] = value
    return Record(doc=doc, index=index, id=f"doc-{n}", path="test.ndjson", line=n, source="defend")
