"""The `eql` package (PythonEngine, Elasticsearch syntax) running the Nping rule over an NDJSON file.

    bench/.venv/bin/python bench/eql_nping.py events.ndjson      # prints the matching event.ids, one per line

Benchmark only: eql is AGPL-licensed and lives in bench/.venv, never in vigil's dependencies. What it takes to get
the right answer out of it (see docs/benchmarks.md): the Elasticsearch dialect; the EQL category taken from
`event.category` (the engine reads a top-level `event_type`); one-element `event.type` arrays unwrapped (the engine
has no multi-value semantics, `["start"] == "start"` is null); and case-sensitive `==` as in Elasticsearch
(`eql.utils.CASE_INSENSITIVE = False`). Lines are decoded with the standard `json` module, as eql's own readers do.
"""

from __future__ import annotations

import json
import sys

import eql
import eql.utils
from eql.events import Event
from eql.parser import elasticsearch_syntax

QUERY = """process where host.os.type == "linux" and event.type == "start" and
 event.action in ("exec", "exec_event", "start", "ProcessRollup2", "executed", "process_started") and
 process.name == "nping"
"""


def main(path: str) -> int:
    eql.utils.CASE_INSENSITIVE = False  # Elasticsearch: `==` on keywords is case-sensitive
    with elasticsearch_syntax:
        query = eql.parse_query(QUERY)
    engine = eql.PythonEngine()
    engine.add_query(query)
    ids: list[str] = []
    engine.add_output_hook(lambda output: ids.extend(e.data["event"]["id"] for e in output.events))
    loads = json.loads
    stream_event = engine.stream_event
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            data = loads(line)
            event = data.get("event") or {}
            types = event.get("type")
            if isinstance(types, list) and len(types) == 1:
                event["type"] = types[0]
            category = event.get("category")
            if isinstance(category, list):
                category = category[0] if category else "generic"
            stream_event(Event(category or "generic", data.get("@timestamp", 0), data))
    engine.finalize()
    sys.stdout.write("".join(f"{i}\n" for i in sorted(ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
