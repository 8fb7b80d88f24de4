"""Adapter throughput: events/s per source adapter on one core.

Generates raw records from the shipped samples (vigil/data/samples/<source>.ndjson) as templates, varying the pid,
timestamp and id fields so no two records are equal, and times two things per adapter:
  normalize  — `adapter.normalize(raw)` + `adapter.index(doc)` on already-decoded records;
  decode+    — `orjson.loads(line)` first, as a reader does.
Generation is not timed. Records are produced in chunks so memory stays small at 1M records.

    .venv/bin/python bench/bench_adapters.py                 # 1,000,000 records per adapter
    .venv/bin/python bench/bench_adapters.py -n 200000 -a crowdstrike_fdr
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import orjson

from vigil.sources.adapters import ADAPTERS

SAMPLES = Path(__file__).resolve().parents[1] / "vigil" / "data" / "samples"
CHUNK = 20_000


def templates(source: str) -> list[dict]:
    return [orjson.loads(line) for line in (SAMPLES / f"{source}.ndjson").read_bytes().splitlines() if line]


def vary(record: dict, i: int) -> dict:
    """A copy of `record` with per-record values changed where the source has them (flat or nested keys)."""
    out = copy.deepcopy(record)
    for key in ("RawProcessId", "tgt.process.pid", "pid"):
        if key in out:
            out[key] = str(10_000 + i) if isinstance(out[key], str) else 10_000 + i
    if "timestamp" in out and isinstance(out["timestamp"], str) and out["timestamp"].isdigit():
        out["timestamp"] = str(int(out["timestamp"]) + i)
    if "event.time" in out:
        out["event.time"] += i
    if isinstance(out.get("process"), dict) and "pid" in out["process"]:
        out["process"]["pid"] = 10_000 + i
    if "id" in out and isinstance(out["id"], str):
        out["id"] = f"{out['id'][:8]}{i:x}"
    return out


def bench(source: str, total: int) -> tuple[float, float]:
    adapter = ADAPTERS[source]
    base = templates(source)
    normalize, index = adapter.normalize, adapter.index
    spent_norm = spent_full = 0.0
    done = 0
    while done < total:
        n = min(CHUNK, total - done)
        lines = [orjson.dumps(vary(base[(done + k) % len(base)], done + k)) for k in range(n)]
        decoded = [orjson.loads(line) for line in lines]
        start = time.process_time()
        for raw in decoded:
            doc = normalize(raw)
            if doc is not None:
                index(doc)
        spent_norm += time.process_time() - start
        loads = orjson.loads
        start = time.process_time()
        for line in lines:
            doc = normalize(loads(line))
            if doc is not None:
                index(doc)
        spent_full += time.process_time() - start
        done += n
    return total / spent_norm, total / spent_full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--records", type=int, default=1_000_000, help="records per adapter")
    parser.add_argument("-a", "--adapter", action="append", choices=[a for a in ADAPTERS if a != "ecs"],
                        help="adapter(s) to run (default: all six)")
    args = parser.parse_args()
    print(f"{'adapter':28} {'records':>10} {'normalize ev/s':>15} {'decode+ ev/s':>13}")
    for source in args.adapter or [a for a in ADAPTERS if a != "ecs"]:
        norm, full = bench(source, args.records)
        print(f"{source:28} {args.records:>10,} {norm:>15,.0f} {full:>13,.0f}", flush=True)


if __name__ == "__main__":
    main()
