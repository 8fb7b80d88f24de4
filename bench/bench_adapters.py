"""Adapter throughput: events/s per source adapter on one core.

Generates raw records from the shipped samples (vigil/data/samples/<source>.ndjson) as templates, varying the pid,
timestamp and id fields so no two records are equal, and times two things per adapter:
  normalize  — `adapter.normalize(raw)` + `adapter.index(doc)` on already-decoded records;
  decode+    — `orjson.loads(line)` first, as a reader does.
Generation is not timed. Records are produced in chunks so memory stays small at 1M records.

    .venv/bin/python bench/bench_adapters.py                 # 1,000,000 records per adapter
    .venv/bin/python bench/bench_adapters.py -n 200000 -a crowdstrike_fdr
    .venv/bin/python bench/bench_adapters.py -n 200000 --compare /tmp/vigil-before   # same run, ratios
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
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
    parser.add_argument("--compare", metavar="DIR", help="also run with the vigil package found in DIR (before)")
    parser.add_argument("--rounds", type=int, default=3, help="with --compare: alternating rounds, best kept")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sources = args.adapter or [a for a in ADAPTERS if a != "ecs"]
    if args.json:
        print(json.dumps({source: bench(source, args.records) for source in sources}))
        return
    before: dict[str, list[float]] = {}
    now: dict[str, list[float]] = {}
    # The machine is shared: before and now alternate, `--rounds` times, and the best of each is kept, so that a
    # burst of load elsewhere cannot make one side look faster.
    for _ in range(args.rounds if args.compare else 1):
        if args.compare:
            command = [sys.executable, __file__, "-n", str(args.records), "--json"]
            for source in sources:
                command += ["-a", source]
            child = subprocess.run(command, env=dict(os.environ, PYTHONPATH=args.compare), cwd="/",
                                   capture_output=True, text=True, check=True)
            for source, pair in json.loads(child.stdout).items():
                before[source] = [max(a, b) for a, b in zip(before.get(source, (0, 0)), pair)]
        for source in sources:
            now[source] = [max(a, b) for a, b in zip(now.get(source, (0, 0)), bench(source, args.records))]
    if before:
        print(f"{'adapter':28} {'records':>10} {'normalize ev/s':>23} {'decode+ ev/s':>23}")
        print(f"{'':28} {'':>10} {'before':>8} {'now':>8} {'x':>5} {'before':>8} {'now':>8} {'x':>5}")
    else:
        print(f"{'adapter':28} {'records':>10} {'normalize ev/s':>15} {'decode+ ev/s':>13}")
    for source in sources:
        norm, full = now[source]
        if before:
            b_norm, b_full = before[source]
            print(f"{source:28} {args.records:>10,} {b_norm:>8,.0f} {norm:>8,.0f} {norm / b_norm:>5.2f} "
                  f"{b_full:>8,.0f} {full:>8,.0f} {full / b_full:>5.2f}", flush=True)
        else:
            print(f"{source:28} {args.records:>10,} {norm:>15,.0f} {full:>13,.0f}", flush=True)


if __name__ == "__main__":
    main()
