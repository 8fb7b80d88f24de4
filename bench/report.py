"""docs/benchmarks.md from one bench/run.py run: machine, data, the side-by-side table, goals, profiles, extras."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000


@dataclass
class Context:
    events: int
    data: Path
    truth: dict
    small_file: t.Optional[Path]
    small_truth: t.Optional[dict]
    reps: int
    threads: int
    bench_python: t.Optional[str]
    duration: float
    md5: str
    nping_query: str
    no_literal_query: str
    command: str
    priority: int = 0


@dataclass
class Goal:
    key: str
    text: str
    measured: str
    missed: t.Optional[bool]  # None: not measured in this run
    spread: str = ""
    rounds_missed: int = 0  # rounds whose own figure misses the goal (the median may still meet it)
    rounds: int = 0

    @property
    def verdict(self) -> str:
        if self.missed is None:
            return "not measured"
        if self.missed:
            return "**missed**"
        if self.rounds_missed:
            return f"met by the median; missed in {self.rounds_missed} of {self.rounds} rounds"
        return "met"

    @property
    def borderline(self) -> bool:
        return bool(self.missed or self.rounds_missed)


# ------------------------------------------------------------------------------------------------------- goals
def goals(by_key: dict) -> list[Goal]:
    """The issue's four goals (and flat memory), each judged on medians of this one run."""
    out: list[Goal] = []
    vigil, grep, eql = by_key.get("vigil"), by_key.get("grep"), by_key.get("eql")
    if vigil and grep and vigil.runs and grep.runs:
        ratio = vigil.median("wall") / grep.median("wall")
        cpu = vigil.median("cpu") / grep.median("cpu")
        out.append(Goal("grep", "vigil ≤ 1.3× grep (wall)", f"{ratio:.2f}× (CPU time: {cpu:.2f}×)", ratio > 1.3,
                        per_round(vigil, grep, lambda a, b: a / b, "×"),
                        sum(x.wall / y.wall > 1.3 for x, y in zip(vigil.runs, grep.runs)), len(vigil.runs)))
    else:
        out.append(Goal("grep", "vigil ≤ 1.3× grep (wall)", "not run", None))
    if vigil and eql and vigil.runs and eql.runs:
        ratio = eql.median("wall") / vigil.median("wall")
        cpu = eql.median("cpu") / vigil.median("cpu")
        out.append(Goal("eql", "vigil ≥ 20× faster than eql (wall)", f"{ratio:.1f}× (CPU time: {cpu:.1f}×)",
                        ratio < 20, per_round(eql, vigil, lambda a, b: a / b, "×"),
                        sum(x.wall / y.wall < 20 for x, y in zip(eql.runs, vigil.runs)), len(eql.runs)))
    else:
        out.append(Goal("eql", "vigil ≥ 20× faster than eql (wall)", "not run", None))
    noliteral = by_key.get("noliteral")
    if noliteral and noliteral.runs:
        rate = noliteral.events / noliteral.median("wall")
        rates = sorted(noliteral.events / r.wall for r in noliteral.runs)
        per_cpu = noliteral.events / noliteral.median("cpu")
        out.append(Goal("noliteral", "no-literal query ≥ 200,000 events/s (whole process)",
                        f"{rate:,.0f} events/s (per CPU second: {per_cpu:,.0f})",
                        rate < 200_000, f"{rates[0]:,.0f} - {rates[-1]:,.0f}", sum(r < 200_000 for r in rates),
                        len(rates)))
    else:
        out.append(Goal("noliteral", "no-literal query ≥ 200,000 events/s", "not run", None))
    full = [tool for tool in (vigil, noliteral) if tool and tool.runs]
    if full:
        peak = max(max(r.rss_kib for r in tool.runs) for tool in full) * 1024 / MB
        size = full[0].data.stat().st_size / 1e9
        out.append(Goal("memory", f"vigil peak RSS ≤ 150 MB on the {size:.2f} GB file",
                        f"{peak:.0f} MB (max of runs)", peak > 150))
    small = [by_key.get(k) for k in ("vigil_small", "noliteral_small")]
    pairs = [(big, little) for big, little in zip((vigil, noliteral), small)
             if big and little and big.runs and little.runs]
    if pairs:
        ratios = [big.median("rss_kib") / little.median("rss_kib") for big, little in pairs]
        out.append(Goal("flat", "flat memory: peak RSS on the full file ≤ 1.25× on a 4× smaller one",
                        " / ".join(f"{r:.2f}×" for r in ratios) + " (Nping / no-literal)", max(ratios) > 1.25))
    return out


def per_round(a: t.Any, b: t.Any, fn: t.Callable[[float, float], float], unit: str) -> str:
    values = sorted(fn(x.wall, y.wall) for x, y in zip(a.runs, b.runs))
    return f"{values[0]:.2f}{unit} - {values[-1]:.2f}{unit}" if values else ""


# ------------------------------------------------------------------------------------------------------- machine
def machine(ctx: Context) -> list[tuple[str, str]]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal"))
        memory = f"{mem_kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        memory = "unknown"
    rows = [
        ("CPU", f"{os.cpu_count()} vCPUs, {cpu}"),
        ("memory", memory),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python (vigil)", platform.python_version()),
        ("vigil", f"{version('vigil')} (git {git_head()})"),
        ("vigil's decoders", f"orjson {version('orjson')}, msgspec {version('msgspec')}"),
        ("grep", first_line(["grep", "--version"])),
    ]
    if ctx.bench_python:
        versions = first_line([ctx.bench_python, "-c", "import importlib.metadata as m;"
                               "print('eql', m.version('eql'), '/ duckdb', m.version('duckdb'))"])
        rows.append(("benchmark venv (bench/.venv)", versions))
    return rows


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_head() -> str:
    head = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout.strip().splitlines() or ["unknown"])[0]


# ------------------------------------------------------------------------------------------------------- render
def table(ctx: Context, tools: list) -> list[str]:
    lines = ["| tool (how) | events | matches | wall s | CPU s | events/s | MB/s | peak RSS MiB | wall s, min - max |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for tool in tools:
        if not tool.runs:
            continue
        wall, cpu = tool.median("wall"), tool.median("cpu")
        size = tool.data.stat().st_size
        rate = f"{tool.events / wall:,.0f}" if tool.events else "-"
        throughput = f"{size / MB / wall:,.0f}" if size else "-"
        walls = sorted(r.wall for r in tool.runs)
        matches = f"{tool.matches:,}" if tool.matches is not None else "?"
        if tool.problem:
            matches = f"**{matches} MISMATCH**"
        lines.append(
            f"| {tool.label} | {tool.events:,} | {matches} | {wall:.2f} | {cpu:.2f} | {rate} | {throughput} | "
            f"{tool.median('rss_kib') / 1024:.1f} | {walls[0]:.2f} - {walls[-1]:.2f} |"
        )
    return lines


def headline(ctx: Context, tools: list) -> list[str]:
    """The findings in a few sentences, from this run's medians."""
    by_key = {tool.key: tool for tool in tools if tool.runs}
    vigil, grep, eql, duck = (by_key.get(k) for k in ("vigil", "grep", "eql", "duckdb"))
    noliteral, startup = by_key.get("noliteral"), by_key.get("startup")
    said: list[str] = []
    if vigil:
        size = vigil.data.stat().st_size / 1e9
        text = (f"vigil runs the Nping rule over the {size:.2f} GB file in {vigil.median('wall'):.2f} s "
                f"({vigil.events / vigil.median('wall'):,.0f} events/s, {vigil.median('rss_kib') / 1024:.0f} MiB peak)")
        others = []
        if grep:
            ratio = vigil.median("wall") / grep.median("wall")
            others.append(f"{ratio:.2f}× the time of `grep -c` over the same bytes")
        if eql:
            others.append(f"{eql.median('wall') / vigil.median('wall'):.0f}× faster than the eql package")
        if duck:
            others.append(f"{duck.median('wall') / vigil.median('wall'):.1f}× faster than DuckDB")
        said.append(text + (": " + ", ".join(others) if others else "") + ".")
    if noliteral:
        said.append("A query with no rare literal to scan for (`" + ctx.no_literal_query + "`) runs at "
                    f"{noliteral.events / noliteral.median('wall'):,.0f} events/s.")
    if startup:
        said.append(f"Start-up alone (the query over an empty file) takes {startup.median('wall'):.2f} s.")
    return (["## Summary", "", " ".join(said), ""] if said else [])


def noise(tools: list) -> list[str]:
    """How disturbed this run was: wall / CPU of the single-threaded commands (1.0 on an idle machine) and load."""
    runs = [r for tool in tools if not tool.key.startswith("duckdb") for r in tool.runs if r.cpu > 0]
    if not runs:
        return []
    stretch = sorted(r.wall / r.cpu for r in runs)
    loads = sorted(r.load for r in runs)
    busy = "other work shared the machine" if loads[-1] > (os.cpu_count() or 1) else "the machine was otherwise quiet"
    return [
        f"**Noise in this run.** Wall time of the single-threaded commands was {stretch[len(stretch) // 2]:.2f}× "
        f"their CPU time at the median ({stretch[0]:.2f}× - {stretch[-1]:.2f}×; 1.00× on an idle machine), and the "
        f"1-minute load average before a command was {loads[0]:.1f} - {loads[-1]:.1f} on {os.cpu_count()} vCPUs: "
        f"{busy}. The CPU-time ratios in the goals table are the less disturbed measure.",
        "",
    ]


def render(ctx: Context, tools: list, goal_list: list[Goal], profiles: dict[str, str],
           extras: dict[str, t.Optional[str]]) -> str:
    truth = ctx.truth
    size = ctx.data.stat().st_size
    out = [
        "# Benchmarks",
        "",
        "Generated by `bench/run.py` (`./dev bench`); do not edit by hand, re-run it. "
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC as `{ctx.command}`, {ctx.duration / 60:.1f} minutes.",
        "",
        "The rule is Elastic's prebuilt \"Nping Process Activity\":",
        "",
        "```",
        ctx.nping_query,
        "```",
        "",
        "Every figure is a **whole process** (start-up and imports included), the **median of "
        f"{ctx.reps} interleaved rounds** (round r runs every command once, so a slow spell of this shared VM hits "
        "all tools alike) after one untimed warm-up run of each fast tool, with the file in the page cache. "
        "Wall and CPU time (user + system) are those of that one child process (`os.wait4`), peak RSS its "
        "high-water mark as GNU `time` reports it (`%M`). "
        + (f"Timed commands ran at `nice {ctx.priority}`, each in a session (scheduler autogroup) of its own, so "
           "that other work on the VM disturbs them less. " if ctx.priority else "")
        + "These VMs are noisy: compare tools by the ratios below, which come from this same run.",
        "",
        *headline(ctx, tools),
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine(ctx)],
        "",
        "## Data",
        "",
        f"`bench/gen_events.py -n {ctx.events} --seed 42` (standard library only; same arguments, byte-identical "
        f"output): {ctx.events:,} Elastic Defend-shaped events, {size:,} bytes ({size / 1e9:.2f} GB, "
        f"{size / ctx.events:,.0f} bytes/event on average), MD5 `{ctx.md5}`. Nested `_source` objects; "
        "`event.category` and `event.type` are arrays; 35% process start (Linux 70% `exec` / 30% `fork`, Windows "
        "`start`, macOS `exec`), 25% process end, 20% network, 20% file; hosts 50% Linux, 35% Windows, 15% macOS.",
        "",
        f"Planted: **{len(truth['nping_ids'])} true positives** (half `exec`, the rest cycling through the rule's "
        "other five actions) and "
        f"{sum(len(v) for v in truth['near_misses'].values())} near misses "
        f"({', '.join(f'{k} {len(v)}' for k, v in sorted(truth['near_misses'].items()))}): `process.name` `nping2` "
        "and `NPING`, nping only in the arguments (`sudo nping`), nping on Windows and on macOS, the nping process "
        "ending, a `fork`, nping only as the parent, a network event of an nping process. No other line contains "
        f"`nping`, so `grep -c` counts {truth['grep_nping_lines']} lines. The no-literal query "
        f"`{ctx.no_literal_query}` matches {truth['no_literal_matches']:,} events.",
        "",
        "## Results",
        "",
        *table(ctx, tools),
        "",
        "events/s and MB/s are computed from the median wall time. Every rule evaluator's sorted event ids were "
        "compared with the planted truth after every round"
        + (": **all agree**." if not any(tool.problem for tool in tools) else ": **SOME DISAGREE (below)**."),
        "`grep -c` is not the rule: it counts every line containing the bytes (true positives and near misses); "
        "it marks what a single-core raw scan of the file costs here.",
        "",
    ]
    problems = [tool for tool in tools if tool.problem]
    if problems:
        out += ["### Mismatches", ""] + [f"* **{tool.label}**: {tool.problem}" for tool in problems] + [""]
    out += [
        *noise(tools),
        "## Goals (ratios from this run)",
        "",
        "| goal | measured (medians) | per round | verdict |",
        "|---|---|---|---|",
        *[f"| {g.text} | {g.measured} | {g.spread} | "
          f"{g.verdict} |" for g in goal_list],
        "",
    ]
    if profiles:
        out += ["## Where the time goes (goals missed, or met only narrowly)", "",
                "cProfile of one `vigil query` run over the same file, the functions with the most own time "
                "(cProfile slows Python-level calls down, so read it for proportions, not seconds).", ""]
        for name, text in profiles.items():
            out += [f"### {name}", "", "```", text, "```", ""]
    out += [
        "## How each tool was run",
        "",
        "* **vigil**: `vigil query QUERY FILE` as a user runs it, matches written as NDJSON to a file. Its reader "
        "scans blocks for the query's required literal (`nping`) and decodes only lines around a hit, with only the "
        "fields the query reads.",
        "* **grep**: `LC_ALL=C grep -c -F nping FILE`.",
        f"* **DuckDB** (`bench/duckdb_nping.py`, {ctx.threads} threads): `read_json` + SQL. DuckDB infers "
        "`event.type` as `VARCHAR[]`, so the rule's `event.type == \"start\"` has to be written "
        "`list_contains(event.type, 'start')` (`=` is rejected with a conversion error).",
        "* **eql** (`bench/eql_nping.py`): the `eql` package's PythonEngine with `eql.parser.elasticsearch_syntax`. "
        "As shipped, `eql query` returns 0 matches on this data (legacy dialect, category from a top-level "
        "`event_type`). The harness takes the category from `event.category`, unwraps one-element `event.type` "
        "arrays (the engine has no multi-value semantics: `[\"start\"] == \"start\"` is null), and sets "
        "`eql.utils.CASE_INSENSITIVE = False` (otherwise `NPING` matches too, unlike Elasticsearch). Lines are "
        "decoded with the standard `json` module, as eql's own readers do. eql is AGPL: it is installed only in "
        "bench/.venv and never imported by vigil.",
        "",
    ]
    for title, text in extras.items():
        if text is None:
            continue
        out += [f"## {title}", ""]
        out += ([text] if text.lstrip().startswith("|") else ["```", text, "```"]) + [""]
    out += [
        "## Reproduce",
        "",
        "```",
        "./dev bench                                  # everything, 1,000,000 events (about 10-15 minutes)",
        "./dev bench -n 200000 --only grep,vigil      # a quick look",
        "./dev bench --reps 5 --skip eql,adapters     # more rounds, without the slow parts",
        "```",
        "",
        "Parts: `grep`, `vigil`, `eql`, `duckdb`, `noliteral`, `memory` (the same two vigil queries on a 4× smaller "
        "file), `startup` (the Nping query on an empty file), `adapters` and `auditd` (bench/bench_adapters.py and "
        "bench/bench_auditd_log.py, when present); `sensor` (bench/bench_sensor.py, live exec load, root) runs only "
        "when named with `--only`. "
        "Data is generated once into bench/data/ (gitignored); the eql and DuckDB harnesses run in bench/.venv, "
        "created from bench/requirements.txt on first use.",
        "",
    ]
    return "\n".join(out)


def summary(tools: list, goal_list: list[Goal]) -> str:
    lines = [f"{'tool':<46} {'matches':>9} {'wall s':>8} {'CPU s':>8} {'events/s':>11} {'RSS MiB':>8}"]
    for tool in tools:
        if tool.runs:
            wall = tool.median("wall")
            rate = tool.events / wall if tool.events else 0
            lines.append(f"{tool.label:<46} {tool.matches if tool.matches is not None else '?':>9} {wall:8.2f} "
                         f"{tool.median('cpu'):8.2f} {rate:11,.0f} {tool.median('rss_kib') / 1024:8.1f}"
                         + ("  MISMATCH" if tool.problem else ""))
    for goal in goal_list:
        lines.append(f"goal: {goal.text}: {goal.measured} -> {goal.verdict.replace('**', '')}")
    return "\n".join(lines)
