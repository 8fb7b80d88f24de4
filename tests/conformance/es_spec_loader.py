"""Load Elasticsearch's EQL spec suites and their data the way ES's DataLoader / EqlSpecLoader do.

See /work/shared/docs/conformance.md §2.1. Per index:

* `endgame-140`: `test_data.json`; `@timestamp` := Windows FILETIME `timestamp` / 10,000 - 11,644,473,600,000
  (epoch ms, stored as an ISO string as ECS data has it); tiebreaker `serial_event_id`.
* `endgame-140-nanos`: same data, `timestamp` read as *nanoseconds* since the epoch (date_nanos).
* `extra`, `missing-events`: the `.data` file as is (`//` comment lines stripped: ES's JSON parser accepts them);
  tiebreaker `sequence`. In `extra`, `optional_field_default_null` has `null_value: "NULL"`.
* `sample-multi`: as is, no tiebreaker; ids come from `id`.

Every index maps `event.category` as an alias of `event_type` (and `event.sequence` of the tiebreaker), so the
loader materialises those aliases as nested fields. Events are returned sorted in ES's ordinal order.
"""

from __future__ import annotations

import json
import re
import tomllib
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from vigil.engine import sort_key

FILETIME_EPOCH_MS = 11_644_473_600_000
_NULL_SENTINEL = "__vigil_toml_null__"


@dataclass(frozen=True)
class Index:
    name: str
    data: str  # file name relative to the suite folder
    id_field: str
    tiebreaker: t.Optional[str]


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    query: str
    expected: list  # list[int] or list[list[int]] (alternatives)
    join_keys: t.Optional[list]
    max_samples_per_key: int = 1
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def alternatives(self) -> list[list[int]]:
        if self.expected and isinstance(self.expected[0], list):
            return self.expected
        return [self.expected]


INDICES = {
    "endgame-140": Index("endgame-140", "test_data.json", "serial_event_id", "serial_event_id"),
    "endgame-140-nanos": Index("endgame-140-nanos", "test_data.json", "serial_event_id", "serial_event_id"),
    "extra": Index("extra", "data/extra.data", "sequence", "sequence"),
    "missing-events": Index("missing-events", "data/missing-events.data", "sequence", "sequence"),
    "sample-multi": Index("sample-multi", "data/sample-multi.data", "id", None),
}

# query file -> index it runs against (ES's test classes)
SUITES = {
    "test_queries.toml": "endgame-140",
    "test_queries_date.toml": "endgame-140",
    "test_queries_date_nanos.toml": "endgame-140-nanos",
    "test_extra.toml": "extra",
    "test_missing_events.toml": "missing-events",
    "test_sample_multi.toml": "sample-multi",
    "test_sample.toml": "sample1,sample2,sample3",  # held back from the copy; run when present
    "test_sampling.toml": "sampling1,sampling2,sampling3",  # historical; its data was not copied
    "test_failing_shards.toml": "endgame-140,endgame-shard-failures",  # shard failures: not applicable
}


def load_cases(path: Path) -> list[Case]:
    text = path.read_text(encoding="utf-8")
    # jtoml accepts a bare `null` (test_extra.toml's `join_keys = [null]`); TOML 1.0 does not
    # (only outside the triple-quoted query literals, whose EQL may say `== null]`)
    parts = text.split("'''")
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"(?<=[\[,\s])null(?=\s*[,\]])", f'"{_NULL_SENTINEL}"', parts[i])
    text = "'''".join(parts)
    doc = tomllib.loads(text)
    cases = []
    for entry in doc.get("queries", []):
        keys = entry.get("join_keys")
        if keys is not None:
            keys = [None if k in (_NULL_SENTINEL, "null") else k for k in keys]
        cases.append(
            Case(
                file=path.name,
                name=entry.get("name") or entry["query"].strip().splitlines()[0],
                query=entry["query"].strip(),
                expected=entry["expected_event_ids"],
                join_keys=keys,
                max_samples_per_key=entry.get("max_samples_per_key", 1),
                raw=entry,
            )
        )
    return cases


def _iso_from_ns(ns: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    digits = f"{fraction:09d}"
    digits = digits[:3] if digits[3:] == "000000" else digits
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{digits}Z"


def _read_json_with_comments(path: Path) -> list[dict]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("//")]
    return json.loads("\n".join(lines))


def load_index(suite_dir: Path, name: str) -> list[dict]:
    index = INDICES[name]
    events = _read_json_with_comments(suite_dir / index.data)
    for event in events:
        if name == "endgame-140":
            ms = event["timestamp"] // 10_000 - FILETIME_EPOCH_MS
            event["@timestamp"] = _iso_from_ns(ms * 1_000_000)
        elif name == "endgame-140-nanos":
            event["@timestamp"] = _iso_from_ns(event["timestamp"])
        elif name == "extra" and "optional_field_default_null" in event and event["optional_field_default_null"] is None:
            event["optional_field_default_null"] = "NULL"  # mapping: null_value "NULL"
        aliases = {"category": event.get("event_type")}
        if index.tiebreaker:
            aliases["sequence"] = event.get(index.tiebreaker)
        event.setdefault("event", {}).update(aliases)
    if index.tiebreaker or any("@timestamp" in e for e in events):
        events.sort(key=lambda e: sort_key(e, tiebreaker_field=index.tiebreaker))
    return events
