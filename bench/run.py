"""The benchmark suite: vigil against grep, the eql package and DuckDB on the "Nping Process Activity" rule.

    ./dev bench                         # 1,000,000 events, every part; writes docs/benchmarks.md
    ./dev bench -n 200000 --only grep,vigil,noliteral --reps 3 --out /tmp/bench.md

Generates the data once into bench/data/ (bench/gen_events.py, seed 42), then times every tool side by side in ONE
run: repetitions are interleaved (round r runs every tool once) so a slow spell of a shared VM hits all tools alike,
and each figure is the median of the rounds. Each run is a whole process (start-up and imports included): wall time,
CPU time (user + system) and peak RSS come from `os.wait4` on that very child. Every rule evaluator's sorted event
ids must equal the planted truth; a mismatch is printed, written into the report, and the exit status is 1.

The eql package (AGPL) and DuckDB run only in bench/.venv, created here from bench/requirements.txt; vigil never
imports them. The layout of the report lives in bench/report.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import typing as t
import venv
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402  (bench/report.py, beside this file)

NPING_QUERY = (
    'process where host.os.type == "linux" and event.type == "start" and event.action in ("exec", "exec_event", '
    '"start", "ProcessRollup2", "executed", "process_started") and process.name == "nping"'
)
NO_LITERAL_QUERY = 'process where event.type == "start" and process.args_count >= 4'
PARTS = ("grep", "vigil", "eql", "duckdb", "noliteral", "memory", "startup", "adapters", "auditd", "rules", "sensor")
# Opt-in: the live sensor load test saturates the machine and needs root; all prebuilt rules in one pass takes long.
DEFAULT_PARTS = set(PARTS) - {"sensor", "rules"}
SEED = 42
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


@dataclass
class Run:
    wall: float
    cpu: float
    rss_kib: int
    status: int
    load: float = 0.0  # 1-minute load average just before the run: how busy the shared VM was


@dataclass
class Tool:
    """One command line to time; `check(tool, output_file)` records the match count and returns an error or None."""

    key: str
    label: str
    argv: list[str]
    data: Path
    events: int
    check: t.Callable[[Tool, Path], t.Optional[str]]
    warmup: bool = True
    runs: list[Run] = field(default_factory=list)
    matches: t.Optional[int] = None
    problem: t.Optional[str] = None

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)


# ----------------------------------------------------------------------------------------------------- setup
def bench_python(quiet: bool) -> Path:
    """bench/.venv (eql, duckdb, py-spy), created or refreshed from bench/requirements.txt."""
    env_dir = HERE / ".venv"
    python = env_dir / "bin" / "python"
    requirements = HERE / "requirements.txt"
    stamp = env_dir / ".installed"
    if not python.exists():
        log(quiet, f"creating {env_dir.relative_to(ROOT)}")
        venv.EnvBuilder(with_pip=True).create(env_dir)
    if not stamp.exists() or requirements.stat().st_mtime > stamp.stat().st_mtime:
        log(quiet, f"installing {requirements.relative_to(ROOT)} into {env_dir.relative_to(ROOT)}")
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
        stamp.touch()
    return python


def dataset(data_dir: Path, events: int, quiet: bool, rates: tuple[float, float] = (1e-5, 1e-5)) -> tuple[Path, dict]:
    """The NDJSON file and its truth for `events` events, generated unless already there."""
    data_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if rates == (1e-5, 1e-5) else f"-rates{rates[0]:g},{rates[1]:g}"
    path = data_dir / f"events-{events}-seed{SEED}{suffix}.ndjson"
    truth_path = path.with_suffix(".truth.json")
    if not (path.exists() and truth_path.exists()):
        log(quiet, f"generating {events:,} events into {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        started = time.perf_counter()
        subprocess.run([sys.executable, str(HERE / "gen_events.py"), "-n", str(events), "--seed", str(SEED),
                        "--nping-rate", str(rates[0]), "--near-miss-rate", str(rates[1]),
                        "-o", str(path) + ".tmp", "--truth", str(truth_path) + ".tmp"], check=True)
        os.replace(str(path) + ".tmp", path)
        os.replace(str(truth_path) + ".tmp", truth_path)
        log(quiet, f"  generated in {time.perf_counter() - started:.0f} s")
    truth = json.loads(truth_path.read_text())
    if truth.get("bytes") != path.stat().st_size:
        raise SystemExit(f"bench: {path} does not match its truth file; delete both to regenerate")
    return path, truth


def warm_page_cache(path: Path) -> None:
    with open(path, "rb") as handle:
        while handle.read(1 << 24):
            pass


def log(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------- timing
def measure(argv: list[str], stdout: Path, stderr: Path, priority: int = 0) -> Run:
    """Run one child: wall clock around it, CPU time of exactly that child from wait4, peak RSS from GNU time.

    Linux keeps a process's RSS high-water mark across fork and exec, so ru_maxrss of a child forked from this
    Python process starts at this process's own RSS (~40 MiB): a small `grep` would appear to use 40 MiB. GNU
    time is itself tiny, so the command it forks reports its true peak (%M).
    """
    rss_file = stdout.with_suffix(".rss")
    wrapped = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv] if GNU_TIME else argv
    load = os.getloadavg()[0]
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        env = dict(os.environ, LC_ALL="C")
        started = time.perf_counter()
        child = subprocess.Popen(wrapped, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                 start_new_session=bool(priority), preexec_fn=raise_priority(priority))
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    rss_kib = usage.ru_maxrss
    if GNU_TIME:
        try:
            rss_kib = int(rss_file.read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
    return Run(wall, usage.ru_utime + usage.ru_stime, rss_kib, child.returncode, load)


def raise_priority(priority: int) -> t.Optional[t.Callable[[], None]]:
    """A pre-exec hook giving the timed command `priority` as its nice value.

    With the scheduler's autogroups (the default on desktop and many VM kernels) nice only ranks processes of one
    session against each other: the command gets a session of its own and that session's group gets the nice value.
    """
    if not priority:
        return None

    def hook() -> None:
        os.setpriority(os.PRIO_PROCESS, 0, priority)
        try:
            with open("/proc/self/autogroup", "w") as group:
                group.write(str(priority))
        except OSError:
            pass  # no autogroups: the process nice value is what counts

    return hook


def run_rounds(tools: list[Tool], reps: int, work: Path, quiet: bool, priority: int = 0) -> None:
    for tool in tools:
        if tool.warmup:
            measure(tool.argv, work / f"{tool.key}.out", work / f"{tool.key}.err", priority)
    for round_no in range(1, reps + 1):
        for tool in tools:
            out, err = work / f"{tool.key}.out", work / f"{tool.key}.err"
            run = measure(tool.argv, out, err, priority)
            tool.runs.append(run)
            log(quiet, f"  round {round_no}/{reps}  {tool.label:<44} {run.wall:7.2f} s wall {run.cpu:7.2f} s CPU "
                       f"{run.rss_kib / 1024:7.1f} MiB")
            problem = tool.check(tool, out)
            if run.status not in (0, 1):  # vigil query exits 1 when nothing matched; anything else is a failure
                problem = f"exit status {run.status}: {err.read_text(errors='replace')[-500:]}"
            if problem and not tool.problem:
                tool.problem = problem
                print(f"bench: MISMATCH in {tool.label}: {problem}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------- checks
def ids_check(expected: list[str], reader: t.Callable[[Path], list[str]]) -> t.Callable:
    """The sorted event ids the tool printed must equal the planted truth."""

    def check(tool: Tool, out: Path) -> t.Optional[str]:
        got = sorted(reader(out))
        tool.matches = len(got)
        if got != expected:
            missing = sorted(set(expected) - set(got))[:5]
            extra = sorted(set(got) - set(expected))[:5]
            return f"{len(got)} matches, expected {len(expected)}; missing {missing}, unexpected {extra}"
        return None
    return check


def ndjson_ids(out: Path) -> list[str]:
    return [json.loads(line)["event"]["id"] for line in out.read_bytes().splitlines() if line.strip()]


def plain_ids(out: Path) -> list[str]:
    return [line for line in out.read_text().splitlines() if line.strip()]


def count_check(expected: int, counter: t.Callable[[Path], int]) -> t.Callable:
    def check(tool: Tool, out: Path) -> t.Optional[str]:
        got = counter(out)
        tool.matches = got
        return None if got == expected else f"{got} matches, expected {expected}"
    return check


def line_count(out: Path) -> int:
    with open(out, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


# ----------------------------------------------------------------------------------------------------- profile
def profile(argv_tail: list[str], work: Path, name: str) -> str:
    """cProfile of one `vigil query` run: the functions with the most own time (cProfile inflates Python calls)."""
    prof = work / f"{name}.prof"
    vigil_python = str(ROOT / ".venv" / "bin" / "python")
    with open(work / f"{name}.profile.out", "wb") as out:
        subprocess.run([vigil_python, "-m", "cProfile", "-o", str(prof), "-m", "vigil", *argv_tail], stdout=out,
                       stderr=subprocess.DEVNULL, check=False)
    script = (
        "import pstats,sys,io;s=io.StringIO();p=pstats.Stats(sys.argv[1],stream=s);"
        "p.sort_stats('tottime').print_stats(14);print(s.getvalue())"
    )
    text = subprocess.run([vigil_python, "-c", script, str(prof)], capture_output=True, text=True).stdout
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    trimmed = [line.replace(str(ROOT) + "/", "").replace(str(ROOT / ".venv"), ".venv") for line in lines[start:]]
    return "\n".join(line for line in trimmed if line.strip() and not line.lstrip().startswith("Ordered by"))


# ----------------------------------------------------------------------------------------------------- extras
def extra_script(name: str, args: list[str], quiet: bool, timeout: int, priority: int = 0) -> t.Optional[str]:
    """Output of another engineer's benchmark script (bench/NAME), or None when it does not exist."""
    script = HERE / name
    if not script.exists():
        return None
    log(quiet, f"running bench/{name} {' '.join(args)}")
    try:
        done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), str(script), *args], capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT,
                              start_new_session=bool(priority), preexec_fn=raise_priority(priority))
    except subprocess.TimeoutExpired:
        return f"(bench/{name} did not finish within {timeout} s)"
    if done.returncode != 0:
        return f"(bench/{name} failed with exit status {done.returncode})\n{done.stderr[-2000:]}"
    return done.stdout.rstrip()


# ----------------------------------------------------------------------------------------------------- main
def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=1_000_000, help="events in the main file (1,000,000)")
    parser.add_argument("--reps", type=int, default=3, help="interleaved timed rounds; medians are reported (3)")
    parser.add_argument("--only", help=f"comma-separated parts to run: {','.join(PARTS)} (default: all but rules and sensor)")
    parser.add_argument("--skip", help="comma-separated parts to leave out")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="DuckDB threads (all cores)")
    parser.add_argument("--adapter-records", type=int, default=200_000, help="records per adapter (200,000)")
    parser.add_argument("--rule-events", type=int, default=100_000, help="events for the rules part (100,000)")
    parser.add_argument("--nping-rate", type=float, default=1e-5, help="planted true positives per event (1e-5)")
    parser.add_argument("--near-miss-rate", type=float, default=1e-5, help="each near miss per event (1e-5)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data", help="where generated data goes")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="report file")
    parser.add_argument("--priority", type=int, default=-10 if os.geteuid() == 0 else 0,
                        help="nice value of the timed commands (-10 as root: other work disturbs them less)")
    parser.add_argument("--no-profile", action="store_true", help="no cProfile even when a goal is missed")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)

    parts = set(DEFAULT_PARTS) if not args.only else {p.strip() for p in args.only.split(",") if p.strip()}
    parts -= {p.strip() for p in (args.skip or "").split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    if args.reps < 1 or args.events < 1:
        parser.error("--reps and --events must be >= 1")

    quiet = args.quiet
    vigil = str(ROOT / ".venv" / "bin" / "vigil")
    bench_py = str(bench_python(quiet)) if parts & {"eql", "duckdb"} else None
    rates = (args.nping_rate, args.near_miss_rate)
    main_file, truth = dataset(args.data_dir, args.events, quiet, rates)
    small_file, small_truth = (dataset(args.data_dir, args.events // 4, quiet, rates) if "memory" in parts
                               else (None, None))
    work = args.data_dir / "runs"
    work.mkdir(exist_ok=True)
    expected = truth["nping_ids"]
    n = args.events

    tools: list[Tool] = []
    if "grep" in parts:
        tools.append(Tool("grep", "`grep -c -F nping` (LC_ALL=C)", ["grep", "-c", "-F", "nping", str(main_file)],
                               main_file, n, count_check(truth["grep_nping_lines"],
                                                                 lambda o: int(o.read_text().strip() or 0))))
    if "vigil" in parts:
        tools.append(Tool("vigil", "`vigil query` (Nping rule)", [vigil, "query", NPING_QUERY, str(main_file)],
                               main_file, n, ids_check(expected, ndjson_ids)))
    if "duckdb" in parts:
        tools.append(Tool("duckdb", f"DuckDB `read_json` + SQL ({args.threads} threads)",
                               [bench_py, str(HERE / "duckdb_nping.py"), str(main_file), str(args.threads)],
                               main_file, n, ids_check(expected, plain_ids)))
    if "eql" in parts:
        tools.append(Tool("eql", "eql 1.0.1 PythonEngine, ES syntax (fixed up)",
                               [bench_py, str(HERE / "eql_nping.py"), str(main_file)],
                               main_file, n, ids_check(expected, plain_ids), warmup=False))
    if "noliteral" in parts:
        tools.append(Tool("noliteral", "`vigil query` no-literal query",
                               [vigil, "query", NO_LITERAL_QUERY, str(main_file)], main_file, n,
                               count_check(truth["no_literal_matches"], line_count)))
    if "startup" in parts:
        empty = args.data_dir / "empty.ndjson"
        empty.write_bytes(b"")
        tools.append(Tool("startup", "`vigil query` start-up (empty file)", [vigil, "query", NPING_QUERY,
                          str(empty)], empty, 0, count_check(0, line_count)))
    if "memory" in parts and small_file is not None:
        small_n = args.events // 4
        tools.append(Tool("vigil_small", "`vigil query` (Nping rule), 1/4 file",
                               [vigil, "query", NPING_QUERY, str(small_file)], small_file, small_n,
                               ids_check(small_truth["nping_ids"], ndjson_ids)))
        tools.append(Tool("noliteral_small", "`vigil query` no-literal query, 1/4 file",
                               [vigil, "query", NO_LITERAL_QUERY, str(small_file)], small_file, small_n,
                               count_check(small_truth["no_literal_matches"], line_count)))

    started = time.time()
    if tools:
        log(quiet, f"warming the page cache and timing {len(tools)} commands x {args.reps} interleaved rounds")
        warm_page_cache(main_file)
        if small_file is not None:
            warm_page_cache(small_file)
        run_rounds(tools, args.reps, work, quiet, args.priority)

    by_key = {tool.key: tool for tool in tools}
    profiles: dict[str, str] = {}
    goals = report.goals(by_key)
    if not args.no_profile:
        if any(g.borderline for g in goals if g.key in ("grep", "eql")) and "vigil" in by_key:
            log(quiet, "profiling the Nping query (a goal was missed in the median or a round)")
            profiles["Nping rule"] = profile(["query", NPING_QUERY, str(main_file)], work, "nping")
        if any(g.borderline for g in goals if g.key == "noliteral") and "noliteral" in by_key:
            log(quiet, "profiling the no-literal query (a goal was missed in the median or a round)")
            profiles["no-literal query"] = profile(["query", NO_LITERAL_QUERY, str(main_file)], work, "noliteral")

    extras: dict[str, t.Optional[str]] = {}
    if "adapters" in parts:
        extras["Source adapters (bench/bench_adapters.py)"] = extra_script(
            "bench_adapters.py", ["-n", str(args.adapter_records)], quiet, timeout=900, priority=args.priority)
    if "auditd" in parts:
        extras["auditd audit.log (bench/bench_auditd_log.py)"] = extra_script(
            "bench_auditd_log.py", ["--file", str(args.data_dir / "audit-bench.log")], quiet, timeout=900,
            priority=args.priority)

    if "rules" in parts:
        extras["All Linux EQL rules in one pass (bench/bench_rules.py)"] = extra_script(
            "bench_rules.py", ["--events", str(args.rule_events)], quiet, timeout=1800, priority=args.priority)
    if "sensor" in parts:
        extras["Live sensor (bench/bench_sensor.py)"] = extra_script("bench_sensor.py", ["--target", "true,tiny"], quiet,
                                                                  timeout=900)

    context = report.Context(
        events=n, data=main_file, truth=truth, small_file=small_file, small_truth=small_truth, reps=args.reps,
        threads=args.threads, bench_python=bench_py, duration=time.time() - started,
        md5=file_md5(main_file), nping_query=NPING_QUERY, no_literal_query=NO_LITERAL_QUERY,
        priority=args.priority,
        command=" ".join(["./dev bench", *(argv if argv is not None else sys.argv[1:])]).strip(),
    )
    text = report.render(context, tools, goals, profiles, extras)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    log(quiet, f"wrote {args.out}")
    print(report.summary(tools, goals))
    failed = [tool for tool in tools if tool.problem]
    if failed:
        print("bench: FAILED - these tools did not report the expected matches: "
              + ", ".join(f"{tool.label} ({tool.problem})" for tool in failed), file=sys.stderr)
        return 1
    return 0


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 24), b""):
            digest.update(chunk)
    return digest.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
