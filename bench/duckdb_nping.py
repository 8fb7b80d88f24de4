"""DuckDB `read_json` + SQL running the Nping rule over an NDJSON file.

    bench/.venv/bin/python bench/duckdb_nping.py events.ndjson [THREADS]    # prints matching event.ids, one per line

Benchmark only (duckdb lives in bench/.venv). DuckDB infers `event.type` as VARCHAR[], so the rule's
`event.type == "start"` must be spelled `list_contains(...)`; `=` on VARCHAR is case-sensitive like Elasticsearch.
"""

from __future__ import annotations

import sys

import duckdb

SQL = """
SELECT event.id
FROM read_json(?, format = 'newline_delimited', maximum_object_size = 16777216)
WHERE host.os.type = 'linux'
  AND list_contains(event.type, 'start')
  AND event.action IN ('exec', 'exec_event', 'start', 'ProcessRollup2', 'executed', 'process_started')
  AND process.name = 'nping'
  AND list_contains(event.category, 'process')
ORDER BY 1
"""


def main(path: str, threads: int) -> int:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    rows = con.execute(SQL, [path]).fetchall()
    sys.stdout.write("".join(f"{row[0]}\n" for row in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2))
