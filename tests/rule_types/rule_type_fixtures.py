"""Real KQL rules (TOML through the loader) and hand-written events for the rule type tests."""

from __future__ import annotations

import datetime as dt
import typing as t
from pathlib import Path

from tests.runs.run_fixtures import M, T, event, make_rule  # noqa: F401  (re-exported for the tests)
from vigil.alerts.times import js_iso
from vigil.rules.model import Rule
from vigil.sources.base import Record

INDEX = "logs-endpoint.events.process-default"


def kql_rule(tmp_path: Path, rule_type: str, query: str, **fields: t.Any) -> Rule:
    return make_rule(tmp_path, type=rule_type, language="kuery", query=query, **fields)


def threshold_rule(tmp_path: Path, fields: list[str], value: int, *, query: str = "event.action:exec",
                   cardinality: t.Optional[tuple[str, int]] = None, **extra: t.Any) -> Rule:
    threshold: dict[str, t.Any] = {"field": fields, "value": value}
    if cardinality is not None:
        threshold["cardinality"] = [{"field": cardinality[0], "value": cardinality[1]}]
    return kql_rule(tmp_path, "threshold", query, threshold=threshold, **extra)


def new_terms_rule(tmp_path: Path, fields: list[str], *, history: str = "now-7d",
                   query: str = "event.action:exec", **extra: t.Any) -> Rule:
    table = {"field": "new_terms_fields", "value": fields,
             "history_window_start": [{"field": "history_window_start", "value": history}]}
    return kql_rule(tmp_path, "new_terms", query, new_terms=table, **extra)


def doc_event(n: int, at: dt.datetime, **fields: t.Any) -> Record:
    """An exec event on host `h1` by user `ana`; `fields` are dotted ECS paths set on top (None removes)."""
    doc: dict[str, t.Any] = {
        "@timestamp": js_iso(at),
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"id": "h1", "name": "web-01", "os": {"type": "linux"}},
        "user": {"name": "ana"},
        "process": {"name": "ls", "executable": "/usr/bin/ls", "pid": 1000 + n},
    }
    for path, value in fields.items():
        *parents, leaf = path.split("__")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return Record(doc=doc, index=INDEX, id=f"doc-{n}", path="test.ndjson", line=n, source="defend")
