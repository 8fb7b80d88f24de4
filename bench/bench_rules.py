"""All runnable Linux EQL rules over generated Elastic Defend events: the one-pass engine vs each rule on its own.

    .venv/bin/python bench/bench_rules.py                       # 1,000,000 events (bench/data, generated if absent)
    .venv/bin/python bench/bench_rules.py --events 100000 --per-rule-sample 10 --eql-sample 5

Modes (each runs in its own process, so its peak RSS is its own):

* `onepass`: `MultiRuleEngine(rules).run_files([path])`: every rule, one read, one decode per candidate line;
* `nping`: the same engine with the Nping rule only (the first job's rule, as a reference point);
* `per-rule`: each rule alone, as `vigil query` runs one (its own literal prefilter, decode, `compile_query`): a
  deterministic sample of rules is timed and the total for all rules extrapolated from their mean (said so);
* `eql`: the AGPL `eql` package's PythonEngine (bench/.venv only, never a vigil dependency) on a sample of rules,
  events converted as bench/eql_nping.py does; skipped with a note when bench/.venv has no eql.

Prints a markdown table: events/s over the events read, from the process's CPU time (`time.process_time`: the
development box is shared and loaded, wall time mostly measures the other jobs; wall seconds are in the raw JSON),
and peak RSS. `--src DIR` runs the vigil package found in DIR instead of this checkout (e.g. an older commit
extracted with `git archive <commit> vigil | tar -x -C DIR`), for before/after ratios on the same events:

    .venv/bin/python bench/bench_rules.py --events 50000 --modes onepass,nping --src /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RULES_DIR = REPO.parent / "shared" / "rules" / "elastic" / "linux"
EQL_PYTHON = HERE / ".venv" / "bin" / "python"


def _events_file(count: int, workdir: Path) -> Path:
    """An NDJSON file of exactly `count` events: the head of bench/data's file, or freshly generated."""
    source = HERE / "data" / "events-1000000-seed42.ndjson"
    if not source.exists():
        source = workdir / "generated.ndjson"
        subprocess.run([sys.executable, str(HERE / "gen_events.py"), "-n", str(max(count, 1000)), "--seed", "42",
                        "-o", str(source)], check=True)
    target = workdir / f"events-{count}.ndjson"
    with open(source, "rb") as src, open(target, "wb") as out:
        for index, line in enumerate(src):
            if index == count:
                break
            out.write(line)
    return target


def _rules():
    sys.path.insert(0, os.environ.get("VIGIL_BENCH_SRC") or str(REPO))
    from vigil.rules import load_rules

    loaded = load_rules(RULES_DIR)
    return [r for r in loaded.rules if r.language == "eql" and r.query and r.runnable]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one_pass(rules: list, path: Path) -> dict:
    from vigil.engine.multi import MultiRuleEngine

    started = time.perf_counter()
    engine = MultiRuleEngine(rules)
    compiled = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    matches = sum(1 for _ in engine.run_files([str(path)]))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    stats = engine.stats
    return {"rules": len(engine.slots), "seconds": seconds, "cpu_seconds": cpu_seconds, "compile_seconds": compiled,
            "matches": matches, "lines": stats.lines, "skipped_lines": stats.skipped, "decoded": stats.decoded,
            "evaluations": stats.evaluations, "union": stats.prefilter.get("needles"), "peak_mib": _peak_mib(),
            "vigil": _vigil_source()}


def _vigil_source() -> str:
    import vigil

    return str(Path(vigil.__file__).resolve().parent.parent)


def mode_onepass(path: Path, _args: argparse.Namespace) -> dict:
    return _one_pass(_rules(), path)


def mode_nping(path: Path, _args: argparse.Namespace) -> dict:
    return _one_pass([r for r in _rules() if r.name == "Nping Process Activity"], path)


def mode_per_rule(path: Path, args: argparse.Namespace) -> dict:
    rules = _rules()  # first: it puts the vigil source on sys.path
    from vigil.engine import compile_query
    from vigil.engine.prefilter import RulePrefilter, rule_literals
    from vigil.io.ndjson import NdjsonReader

    sample = random.Random(42).sample(rules, min(args.per_rule_sample, len(rules)))
    seconds = 0.0
    matches = 0
    for rule in sample:
        started = time.process_time()
        compiled = compile_query(rule.query, category_field=rule.event_category_override or "event.category")
        literals = RulePrefilter([rule_literals(compiled.query)]).union_literals
        reader = NdjsonReader([str(path)], prefilter=literals)
        matches += sum(1 for _ in compiled.run(item.doc for item in reader))
        seconds += time.process_time() - started
    return {"rules": len(rules), "sampled": len(sample), "seconds_sampled": seconds,
            "seconds": seconds / len(sample) * len(rules), "matches_sampled": matches, "peak_mib": _peak_mib()}


_EQL_SCRIPT = r"""
import json, sys, time, resource
from datetime import datetime
import eql, eql.utils
from eql.events import Event
from eql.parser import elasticsearch_syntax, ignore_missing_functions
eql.utils.CASE_INSENSITIVE = False
queries, path = json.load(open(sys.argv[1])), sys.argv[2]
engine = eql.PythonEngine()
parsed = 0
for text in queries:
    try:
        with elasticsearch_syntax, ignore_missing_functions:
            engine.add_query(eql.parse_query(text))
        parsed += 1
    except Exception:
        pass
count = [0]
engine.add_output_hook(lambda output: count.__setitem__(0, count[0] + 1))
started = time.perf_counter()
with open(path, encoding="utf-8") as handle:
    for line in handle:
        data = json.loads(line)
        event = data.get("event") or {}
        types = event.get("type")
        if isinstance(types, list) and len(types) == 1:
            event["type"] = types[0]
        category = event.get("category")
        if isinstance(category, list):
            category = category[0] if category else "generic"
        stamp = datetime.fromisoformat(data["@timestamp"].replace("Z", "+00:00")).timestamp() * 1000
        engine.stream_event(Event(category or "generic", int(stamp), data))  # epoch ms: maxspan needs numbers
engine.finalize()
print(json.dumps({"parsed": parsed, "seconds": time.perf_counter() - started, "matches": count[0],
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def mode_eql(path: Path, args: argparse.Namespace) -> dict:
    if not EQL_PYTHON.exists() or subprocess.run([str(EQL_PYTHON), "-c", "import eql"],
                                                 capture_output=True).returncode != 0:
        return {"skipped": "bench/.venv with the eql package not found (pip install -r bench/requirements.txt)"}
    rules = _rules()
    sample = random.Random(42).sample(rules, min(args.eql_sample, len(rules)))
    with tempfile.TemporaryDirectory() as tmp:
        queries = Path(tmp) / "queries.json"
        queries.write_text(json.dumps([r.query for r in sample]))
        script = Path(tmp) / "run_eql.py"
        script.write_text(_EQL_SCRIPT)
        done = subprocess.run([str(EQL_PYTHON), str(script), str(queries), str(path)], capture_output=True,
                              text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["sampled"] = len(sample)
    return result


MODES = {"onepass": mode_onepass, "nping": mode_nping, "per-rule": mode_per_rule, "eql": mode_eql}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-rule-sample", type=int, default=10, help="rules timed alone (total extrapolated)")
    parser.add_argument("--eql-sample", type=int, default=5, help="rules given to eql's PythonEngine")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated modes to run ({','.join(MODES)})")
    parser.add_argument("--src", help="run the vigil package in this directory instead of this checkout")
    parser.add_argument("--mode", choices=sorted(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:  # a child process: one mode, JSON out
        print(json.dumps(MODES[args.mode](Path(args.path), args)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = _events_file(args.events, Path(tmp))
        results = {}
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        unknown = [m for m in modes if m not in MODES]
        if unknown:
            parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}")
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        if args.src:
            env["VIGIL_BENCH_SRC"] = str(Path(args.src).resolve())
        for mode in modes:
            child = subprocess.run(
                [sys.executable, __file__, "--mode", mode, "--path", str(path), "--events", str(args.events),
                 "--per-rule-sample", str(args.per_rule_sample), "--eql-sample", str(args.eql_sample)],
                capture_output=True, text=True, env=env,
            )
            if child.returncode != 0:
                results[mode] = {"skipped": f"failed: {child.stderr.strip().splitlines()[-1:]}"}
            else:
                results[mode] = json.loads(child.stdout.strip().splitlines()[-1])
    print(_table(args.events, results))
    print("\n<!-- raw: " + json.dumps(results) + " -->")
    return 0


def _table(events: int, results: dict) -> str:
    rows = [f"Linux EQL rules over {events:,} generated ~1 KB Elastic Defend events (bench/bench_rules.py; "
            "CPU seconds of the benchmark process)", "",
            "| engine | rules | CPU time (s) | events/s | peak RSS (MiB) | note |", "|---|---:|---:|---:|---:|---|"]
    labels = (("onepass", "vigil one pass (`MultiRuleEngine`)"), ("nping", "vigil one pass, Nping rule only"))
    for mode, label in labels:
        one = results.get(mode, {})
        if "seconds" in one:
            cpu = one.get("cpu_seconds", one["seconds"])
            rows.append(f"| {label} | {one['rules']} | {cpu:.1f} | {events / cpu:,.0f} | {one['peak_mib']:.0f} | "
                        f"{one['skipped_lines']:,} lines skipped undecoded; {one['evaluations']:,} rule evaluations; "
                        f"{one['matches']} matches |")
    per = results.get("per-rule", {})
    if "seconds" in per:
        rows.append(f"| vigil, each rule alone | {per['rules']} | {per['seconds']:.0f} (extrapolated) | "
                    f"{events / per['seconds']:,.0f} | {per['peak_mib']:.0f} | {per['sampled']} rules timed "
                    f"({per['seconds_sampled']:.1f} s), total = mean x {per['rules']} |")
    eql_result = results.get("eql", {})
    if "seconds" in eql_result:
        rows.append(f"| eql PythonEngine (AGPL, bench only; wall time) | {eql_result['parsed']} of "
                    f"{eql_result['sampled']} | {eql_result['seconds']:.1f} | {events / eql_result['seconds']:,.0f} | "
                    f"{eql_result['peak_mib']:.0f} | a sample of rules only; not comparable per rule count |")
    for mode, result in results.items():
        if "skipped" in result:
            rows.append(f"| {mode} | | | | | skipped: {result['skipped']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
