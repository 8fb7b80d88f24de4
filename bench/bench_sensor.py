"""Live sensor: exec → alert latency, events lost under load, and vigil's CPU at a steady 100 execs/s.

    .venv/bin/python bench/bench_sensor.py                          # 500 and 2,000 execs/s for 5 s, then CPU
    .venv/bin/python bench/bench_sensor.py --rates 2000 --target tiny --no-cpu
    .venv/bin/python bench/bench_sensor.py --json out.json          # also write the results

Load: bench/execgen.c, compiled here with the system `cc` into a temp dir: a C loop of `posix_spawn` paced by
`clock_nanosleep` on an absolute schedule, which records each pid and its spawn time. Why C: the former Python
generator saturated both CPUs at ~1,200 execs/s, so it measured itself. Targets (`--target`):

* `true`: `/bin/true` (dynamically linked, lives ~1 ms; on this VM each exec costs ~0.8 ms of CPU in the child, so
  2,000/s is ~1.7 CPUs of pure workload: the host IS saturated, by the execs themselves);
* `tiny`: a 9 KB static program that exits at once (~0.1 ms): cheap load, and the harshest race for /proc readers.

Every `--alert-every`-th exec is a copy of the target named `nping`, which the built-in Nping rule alerts on. By
default the generator reaps each child the moment it exits (a thread blocked in waitpid, like a shell loop):
the zombie window is as short as it gets. `--lazy-reap` reaps between spawns instead.

Latency is measured the way `vigil watch` runs (same backend → queue → LiveDetector → SQLite path): from the kernel's
exec timestamp (`@timestamp`, CLOCK_MONOTONIC converted to wall time) to the `on_alerts` callback, which runs after
the alert is committed. Counted per spawned pid: never reported (kernel loss), `full`, `zombie` (comm from stat),
`named` (reaped, comm from the exit record), `gone` (pid only). CPU: `vigil watch` as a subprocess, user+system time
of the watcher AND its reader process over the load window / wall time. The load average is printed with each run:
other work on a shared machine changes the numbers. Numbers, not assertions. Needs the proc connector.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TINY_SOURCE = r"""
/* exits at once: the cheapest possible exec (no libc, no dynamic loader) */
void _start(void) { __asm__ volatile("mov $60, %eax\n xor %edi, %edi\n syscall"); }
"""


def iso_ns(text: str) -> int:
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class Tools:
    """execgen and the exec targets, built once into a temp dir (nothing binary is kept in the repo)."""

    def __init__(self, work: Path):
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            sys.exit("bench_sensor: needs a C compiler (`cc`) to build bench/execgen.c")
        self.execgen = work / "execgen"
        subprocess.run([cc, "-O2", "-pthread", "-o", str(self.execgen), str(HERE / "execgen.c")], check=True)
        tiny_c = work / "tiny.c"
        tiny_c.write_text(TINY_SOURCE)
        self.targets: dict[str, tuple[Path, Path]] = {}
        tiny = work / "tiny" / "tinytrue"
        tiny.parent.mkdir()
        built = subprocess.run([cc, "-O2", "-static", "-nostdlib", "-o", str(tiny), str(tiny_c)],
                               capture_output=True, text=True)
        if built.returncode == 0:
            shutil.copy2(tiny, tiny.parent / "nping")
            self.targets["tiny"] = (tiny, tiny.parent / "nping")
        (work / "true").mkdir()
        shutil.copy2("/bin/true", work / "true" / "nping")
        self.targets["true"] = (Path("/bin/true"), work / "true" / "nping")


def _normal_priority() -> None:
    """The load must not inherit the evaluator's raised priority (nice or real-time) from this process."""
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    os.setpriority(os.PRIO_PROCESS, 0, 0)


def start_generators(tools: Tools, target: str, rate: float, seconds: float, every: int, lazy: bool,
                     workers: int) -> list[subprocess.Popen]:
    true, fake = tools.targets[target]
    extra = ["lazy"] if lazy else []
    # Output goes to unlinked temp files, not pipes: nobody reads a pipe during the run, and 64 KiB of pids would
    # block the generator at its end.
    procs = []
    for _ in range(workers):
        out = tempfile.TemporaryFile("w+")
        proc = subprocess.Popen([str(tools.execgen), str(rate / workers), str(seconds), str(every), str(fake),
                                 str(true), *extra], stdout=out, preexec_fn=_normal_priority)
        proc.output = out  # type: ignore[attr-defined]
        procs.append(proc)
    return procs


def finish_generators(procs: list[subprocess.Popen]) -> tuple[set[int], set[int], float]:
    """(all pids, the fake-nping pids, elapsed seconds of the slowest generator)."""
    pids: set[int] = set()
    elapsed = 0.0
    for proc in procs:
        proc.wait()
        proc.output.seek(0)  # type: ignore[attr-defined]
        out = proc.output.read()  # type: ignore[attr-defined]
        proc.output.close()  # type: ignore[attr-defined]
        for line in out.splitlines():
            if line.startswith("#"):
                elapsed = max(elapsed, float(line.split()[4]))
            else:
                pids.add(int(line.split()[0]))
    return pids, set(), elapsed


def process_ticks(pid: int) -> int:
    """utime + stime of `pid` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def tree_ticks(pid: int) -> int:
    """CPU ticks of `pid` and its live children (the watcher's reader is a forked child: count it too)."""
    total = process_ticks(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        try:
            total += process_ticks(int(child))
        except OSError:
            pass
    return total


def latency_run(tools: Tools, target: str, rate: float, seconds: float, every: int, realtime: bool, isolate: bool,
                lazy: bool, priority: str, batch_ms: float) -> dict:
    from vigil.alerts import AlertStore
    from vigil.rules.registry import builtin_rules
    from vigil.sensor import live
    from vigil.sensor.ecs import EventBuilder, HostInfo
    from vigil.sensor.live import LiveDetector, load_runners
    from vigil.sensor.select import choose_backend

    try:
        from vigil.sensor.priority import raise_thread
    except ImportError:  # an older vigil (before/after comparisons): its evaluator ran at normal priority
        def raise_thread(mode: str) -> str:
            return "normal priority"

    q: queue.SimpleQueue = queue.SimpleQueue()
    backend = choose_backend("connector", q.put, EventBuilder(HostInfo.detect()), realtime=realtime,
                             isolate=isolate).backend
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-sensor-"))
    store = AlertStore(tmp / "alerts.db")
    try:
        detector = LiveDetector(store, load_runners(builtin_rules()).runners, batch_ms=batch_ms)
    except TypeError:  # an older vigil: one transaction per alert
        detector = LiveDetector(store, load_runners(builtin_rules()).runners)
        detector.flush = lambda: []  # type: ignore[attr-defined]
    obtained = raise_thread(priority)  # as `vigil watch` does for its evaluator loop and the pipe thread
    if hasattr(backend, "evaluator_priority"):
        backend.evaluator_priority = priority
    exec_ns: dict[int, int] = {}  # pid → kernel exec time of its latest event
    outcome: dict[int, str] = {}
    stage_ms: dict[int, tuple[float, float]] = {}  # pid → (exec→event built in the reader, exec→dequeued here)
    latencies: list[tuple[int, float]] = []  # (pid, ms): other processes on the host may alert too

    def on_alerts(alerts: list[dict], rule) -> None:
        now = time.time_ns()
        for alert in alerts:
            pid = (alert.get("process") or {}).get("pid")
            if pid in exec_ns:
                latencies.append((pid, (now - exec_ns[pid]) / 1e6))

    live.on_alerts.append(on_alerts)
    load0 = loadavg()
    backend.start()
    time.sleep(0.2)
    child = getattr(backend, "_child", None)
    reader_t0 = process_ticks(child) if child else None
    wall_t0 = time.monotonic()
    workers = max(1, math.ceil(rate / 1000))
    gens = start_generators(tools, target, rate, seconds, every, lazy, workers)
    deadline = None
    try:
        while True:
            # Checked on every event: other work on the host execs too, so the queue may never fall silent.
            if deadline is None and all(g.poll() is not None for g in gens):
                deadline = time.monotonic() + 1.0  # let the tail drain
            if deadline is not None and time.monotonic() > deadline:
                break
            try:
                record = q.get(timeout=0.1)
            except queue.Empty:
                continue
            doc = record.doc
            pid = doc["process"]["pid"]
            exec_ns[pid] = iso_ns(doc["@timestamp"])
            stage_ms[pid] = ((iso_ns(doc["event"]["created"]) - exec_ns[pid]) / 1e6,
                             (time.time_ns() - exec_ns[pid]) / 1e6)
            tags = doc.get("tags") or ()
            outcome[pid] = ("gone" if "enrichment_failed" in tags else "named" if "from_exit_record" in tags
                            else "zombie" if "enrichment_partial" in tags else "full")
            detector.feed(record)
            if q.empty():
                detector.flush()
        detector.flush()
        reader_cpu = None
        if child and reader_t0 is not None:
            reader_cpu = (process_ticks(child) - reader_t0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - wall_t0)
    finally:
        live.on_alerts.remove(on_alerts)
        backend.stop()
        store.close()
    spawned, _, elapsed = finish_generators(gens)
    shutil.rmtree(tmp, ignore_errors=True)
    stats = backend.stats
    fakes = len(spawned) // every if every else 0
    ours = [ms for pid, ms in latencies if pid in spawned]
    alerted = [pid for pid, _ in latencies if pid in spawned and pid in stage_ms]
    built = [stage_ms[pid][0] for pid in alerted]
    dequeued = [stage_ms[pid][1] for pid in alerted]
    counts = {k: sum(1 for p in spawned if outcome.get(p) == k) for k in ("full", "zombie", "named", "gone")}
    return {
        "target": target,
        "target_rate": rate,
        "achieved_rate": round(len(spawned) / elapsed, 1) if elapsed else None,
        "spawned": len(spawned),
        "loadavg_before": load0,
        "never_reported": len(spawned - set(outcome)),
        "lost_batches": stats.lost_batches,
        **counts,
        "alerts": len(ours),
        "expected_alerts": fakes,
        "p50_ms": round(pct(ours, 50), 2),
        "p99_ms": round(pct(ours, 99), 2),
        "max_ms": round(max(ours), 2) if ours else None,
        # where the time goes, for the alerting events: exec → event built in the reader → dequeued by the evaluator
        "built_p50_ms": round(pct(built, 50), 2), "built_p99_ms": round(pct(built, 99), 2),
        "dequeued_p50_ms": round(pct(dequeued, 50), 2), "dequeued_p99_ms": round(pct(dequeued, 99), 2),
        "reader_cpu_percent": round(100 * reader_cpu, 1) if reader_cpu is not None else None,
        "evaluator": obtained,
        "notes": backend.notes,
    }


def cpu_run(tools: Tools, target: str, rate: float, seconds: float) -> dict:
    home = Path(tempfile.mkdtemp(prefix="vigil-bench-cpu-"))
    env = {**os.environ, "VIGIL_HOME": str(home)}
    watch = subprocess.Popen([sys.executable, "-m", "vigil", "watch", "--db", str(home / "a.db")], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    status = home / "watch-status.json"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (status.exists() and json.loads(status.read_text()).get("running")):
        time.sleep(0.05)
    time.sleep(0.5)
    tck = os.sysconf("SC_CLK_TCK")
    idle_t0, idle_c0 = time.monotonic(), tree_ticks(watch.pid)
    time.sleep(3)
    idle = (tree_ticks(watch.pid) - idle_c0) / tck / (time.monotonic() - idle_t0)
    t0, c0, p0 = time.monotonic(), tree_ticks(watch.pid), process_ticks(watch.pid)
    gens = start_generators(tools, target, rate, seconds, 0, False, 1)
    spawned, _, _ = finish_generators(gens)
    wall = time.monotonic() - t0
    busy = (tree_ticks(watch.pid) - c0) / tck / wall
    main_only = (process_ticks(watch.pid) - p0) / tck / wall
    watch.send_signal(signal.SIGTERM)
    _, err = watch.communicate(timeout=30)
    shutil.rmtree(home, ignore_errors=True)
    return {"rate": rate, "target": target, "spawned": len(spawned), "cpu_percent_of_one_core": round(100 * busy, 2),
            "evaluator_process_percent": round(100 * main_only, 2), "idle_cpu_percent": round(100 * idle, 2),
            "stop_line": err.strip().splitlines()[-1] if err else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="500,2000", help="comma-separated exec rates (per second)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--target", default="true", help="comma-separated: true (/bin/true), tiny (static, ~0.1 ms)")
    parser.add_argument("--alert-every", type=int, default=20, help="every Nth exec is an alerting fake nping")
    parser.add_argument("--lazy-reap", action="store_true", help="the generator reaps between spawns, not at once")
    parser.add_argument("--no-realtime", action="store_true")
    parser.add_argument("--thread", action="store_true", help="reader as a thread instead of a process")
    parser.add_argument("--no-cpu", action="store_true")
    parser.add_argument("--cpu-rate", type=float, default=100.0)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--evaluator-priority", default="nice", choices=("realtime", "nice", "normal"))
    parser.add_argument("--batch-ms", type=float, default=5.0, help="alert commit window (vigil watch: 5)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-bin-"))
    results: dict = {"cpus": os.cpu_count(), "kernel": os.uname().release, "latency": [], "cpu": None}
    try:
        tools = Tools(work)
        for target in args.target.split(","):
            if target not in tools.targets:
                sys.exit(f"bench_sensor: unknown or unbuildable target {target!r} (have {', '.join(tools.targets)})")
            for rate in (float(r) for r in args.rates.split(",") if r):
                r = latency_run(tools, target, rate, args.seconds, args.alert_every, not args.no_realtime,
                                not args.thread, args.lazy_reap, args.evaluator_priority, args.batch_ms)
                results["latency"].append(r)
                print(f"[{r['evaluator']}] {target:>4} {rate:>6.0f}/s ({r['achieved_rate']}/s, load {r['loadavg_before']}): "
                      f"spawned {r['spawned']}, never reported {r['never_reported']} (ENOBUFS {r['lost_batches']}); "
                      f"full {r['full']}, zombie {r['zombie']}, named {r['named']}, gone {r['gone']}; "
                      f"alerts {r['alerts']}/{r['expected_alerts']}, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                      f"max {r['max_ms']} ms (built p50/p99 {r['built_p50_ms']}/{r['built_p99_ms']}, dequeued "
                      f"{r['dequeued_p50_ms']}/{r['dequeued_p99_ms']}); reader CPU {r['reader_cpu_percent']} %",
                      flush=True)
        if not args.no_cpu:
            cpu = cpu_run(tools, args.target.split(",")[0], args.cpu_rate, args.cpu_seconds)
            results["cpu"] = cpu
            print(f"CPU of `vigil watch` + reader at {cpu['rate']:.0f} execs/s: {cpu['cpu_percent_of_one_core']} % "
                  f"of one core (evaluator process alone {cpu['evaluator_process_percent']} %, idle "
                  f"{cpu['idle_cpu_percent']} %)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
