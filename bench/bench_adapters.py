"""Adapter throughput: events/s per source adapter on one core.

Generates raw records from the shipped samples (vigil/data/samples/<source>.ndjson) as templates, varying the pid,
timestamp and id fields so no two records are equal, and times per adapter:
  normalize       — `adapter.normalize(raw)` + `adapter.index(doc)` on already-decoded records;
  decode+         — `orjson.loads(line)` first, as a reader does;
  proj normalize  — the projected normalize for the Nping rule's fields (`adapter.project(FIELDS)`), decoded records;
  proj decode+    — the projected path as a hunt reads: the projected line decoder when the adapter has one (msgspec,
                    only the raw keys the projected steps read; orjson for lines it declines), else `orjson.loads`.
Adapters without a projection (pass-through ECS) run their full normalize in the projected columns.
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
# The fields the Nping rule reads (query fields + the event category and timestamp fields), what a hunt projects on.
FIELDS = ("event.category", "host.os.type", "event.type", "event.action", "process.name", "@timestamp")


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


def _timed(fn, items) -> float:
    start = time.process_time()
    fn(items)
    return time.process_time() - start


def bench(source: str, total: int) -> list:
    """[normalize, decode+, proj normalize, proj decode+] in events/s (projected ones None before projection)."""
    adapter = ADAPTERS[source]
    base = templates(source)
    normalize, index, loads = adapter.normalize, adapter.index, orjson.loads
    project = getattr(adapter, "project", None)  # absent in a --compare "before" tree
    projected = project(FIELDS) if project is not None else None
    decode = getattr(projected, "decode", None)

    def run_norm(decoded, normalize=normalize):
        for raw in decoded:
            doc = normalize(raw)
            if doc is not None:
                index(doc)

    def run_full(lines, normalize=normalize):
        for line in lines:
            doc = normalize(loads(line))
            if doc is not None:
                index(doc)

    def run_projected(lines):
        for line in lines:
            raw = decode(line)
            doc = projected(loads(line) if raw is None else raw)
            if doc is not None:
                index(doc)

    spent = [0.0, 0.0, 0.0, 0.0]
    done = 0
    while done < total:
        n = min(CHUNK, total - done)
        lines = [orjson.dumps(vary(base[(done + k) % len(base)], done + k)) for k in range(n)]
        decoded = [orjson.loads(line) for line in lines]
        spent[0] += _timed(run_norm, decoded)
        spent[1] += _timed(run_full, lines)
        if projected is not None:
            spent[2] += _timed(lambda items: run_norm(items, projected), decoded)
            spent[3] += _timed(run_projected if decode is not None else (lambda items: run_full(items, projected)),
                               lines)
        done += n
    return [total / s if s else None for s in spent]


def _rate(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


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
    before: dict[str, list] = {}
    now: dict[str, list] = {}

    def best(old, new):
        return [b if a is None else a if b is None else max(a, b) for a, b in zip(old or [None] * len(new), new)]

    # The machine is shared: before and now alternate, `--rounds` times, and the best of each is kept, so that a
    # burst of load elsewhere cannot make one side look faster.
    for _ in range(args.rounds if args.compare else 1):
        if args.compare:
            command = [sys.executable, __file__, "-n", str(args.records), "--json"]
            for source in sources:
                command += ["-a", source]
            child = subprocess.run(command, env=dict(os.environ, PYTHONPATH=args.compare), cwd="/",
                                   capture_output=True, text=True, check=True)
            for source, rates in json.loads(child.stdout).items():
                before[source] = best(before.get(source), rates)
        for source in sources:
            now[source] = best(now.get(source), bench(source, args.records))
    print("projected on the Nping rule's fields: " + ", ".join(FIELDS))
    columns = ("normalize", "decode+", "proj normalize", "proj decode+")
    if before:
        print(f"{'adapter':28} {'records':>10} " + " ".join(f"{c + ' ev/s':>26}" for c in columns))
        print(f"{'':28} {'':>10} " + " ".join(f"{'before':>9} {'now':>9} {'x':>6}" for _ in columns))
    else:
        print(f"{'adapter':28} {'records':>10} {'normalize ev/s':>15} {'decode+ ev/s':>13} "
              f"{'proj normalize ev/s':>20} {'proj decode+ ev/s':>18}")
    for source in sources:
        rates = now[source]
        if before:
            cells = []
            for old, new in zip(before[source], rates):
                ratio = f"{new / old:.2f}" if old and new else "-"
                cells.append(f"{_rate(old):>9} {_rate(new):>9} {ratio:>6}")
            print(f"{source:28} {args.records:>10,} " + " ".join(cells), flush=True)
        else:
            norm, full, proj, proj_full = rates
            print(f"{source:28} {args.records:>10,} {_rate(norm):>15} {_rate(full):>13} {_rate(proj):>20} "
                  f"{_rate(proj_full):>18}", flush=True)


if __name__ == "__main__":
    main()
