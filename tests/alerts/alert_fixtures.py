"""Helpers for the alert tests: the Nping rule (from the shared upstream TOML) and a Defend exec event of nping."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path

from vigil.alerts import AlertContext
from vigil.rules.model import Tactic, Technique, Threat, Rule
from vigil.sources.base import Record

DATA = Path(__file__).parent / "data"
NPING_TOML = ("rules", "elastic", "linux", "discovery_linux_nping_activity.toml")
# version.lock.json's version for the Nping rule (rules-corpus.md §4.4): TOML files carry no version
NPING_VERSION = 213
CREATED = dt.datetime(2026, 9, 1, 12, 5, 0, 17000, tzinfo=dt.timezone.utc)
EXECUTION = "5c2a6d2e-8a43-4d8f-9d36-0f3c7b1e9a21"


def nping_rule(shared_path) -> Rule:
    """The upstream Nping rule as a vigil Rule, built straight from its TOML (independent of the rule loader).

    `shared_path` is the `shared` fixture (skips the test when ../shared is absent).
    """
    raw = tomllib.loads(shared_path(*NPING_TOML).read_text(encoding="utf-8"))["rule"]
    threat = tuple(
        Threat(
            framework=t["framework"],
            tactic=Tactic(**t["tactic"]),
            technique=tuple(Technique(**x) for x in t.get("technique", [])),
        )
        for t in raw["threat"]
    )
    return Rule(
        rule_id=raw["rule_id"], name=raw["name"], description=raw["description"], type=raw["type"],
        severity=raw["severity"], risk_score=raw["risk_score"], language=raw["language"], query=raw["query"],
        index=tuple(raw["index"]), from_=raw["from"], timestamp_override=raw["timestamp_override"],
        threat=threat, note=raw["note"], setup=raw["setup"], references=tuple(raw["references"]),
        tags=tuple(raw["tags"]), false_positives=tuple(raw["false_positives"]), author=tuple(raw["author"]),
        license=raw["license"], version=NPING_VERSION,
    )


def nping_event() -> Record:
    hit = json.loads((DATA / "defend_nping_exec.json").read_text(encoding="utf-8"))
    return Record(doc=hit["_source"], index=hit["_index"], id=hit["_id"], source="defend")


def fixed_context(**kw) -> AlertContext:
    return AlertContext(created_at=CREATED, execution_uuid=EXECUTION, **kw)


