"""Live sensor: exec → alert latency, events lost under load, and vigil's CPU at a steady 100 execs/s.

    .venv/bin/python bench/bench_sensor.py                    # 500 and 2,000 execs/s for 5 s each, then CPU
    .venv/bin/python bench/bench_sensor.py --rates 2000 --seconds 10 --no-cpu

Load: separate generator processes (pure Python, `os.posix_spawn` of /bin/true, paced to the rate) so the load does
not share vigil's GIL. Every `--alert-every`-th exec is a copy of /bin/true named `nping`, which the built-in Nping
rule alerts on.

Latency is measured the way `vigil watch` runs (same ConnectorBackend → queue → LiveDetector → SQLite store):
kernel exec timestamp (`@timestamp`, CLOCK_MONOTONIC converted to wall time) → the alert committed in the store.
Loss = spawned pids never reported by the sensor; `gone` = reported but reaped before /proc could be read.
CPU: `vigil watch` as a subprocess; user+system time of all its threads over the load window / wall time.
Numbers, not assertions. Needs the proc connector (Linux, initial namespaces).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATOR = r"""
import os, sys, time
rate, seconds, every, fake = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
true = "/bin/true"
pids = []
start = time.monotonic()
n = 0
total = int(rate * seconds)
while n < total:
    due = start + n / rate
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    path = fake if every and n % every == every - 1 else true
    pids.append(os.posix_spawn(path, [os.path.basename(path)], {}))
    n += 1
    while True:  # reap what has exited, without blocking the pace
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
elapsed = time.monotonic() - start
print(" ".join(map(str, pids)))
print(elapsed)
"""


def iso_ns(text: str) -> int:
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def start_generators(rate: float, seconds: float, every: int, fake: Path, workers: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", GENERATOR, str(rate / workers), str(seconds), str(every),
                              str(fake)], stdout=subprocess.PIPE, text=True) for _ in range(workers)]


def finish_generators(procs: list[subprocess.Popen]) -> tuple[set[int], float]:
    pids: set[int] = set()
    elapsed = 0.0
    for proc in procs:
        out, _ = proc.communicate()
        line, took = out.strip().splitlines()
        pids.update(int(p) for p in line.split())
        elapsed = max(elapsed, float(took))
    return pids, elapsed


def latency_run(rate: float, seconds: float, every: int, fake: Path, realtime: bool, isolate: bool) -> dict:
    from vigil.alerts import AlertStore
    from vigil.rules.registry import builtin_rules
    from vigil.sensor.ecs import EventBuilder, HostInfo
    from vigil.sensor.live import LiveDetector, load_runners
    from vigil.sensor.select import choose_backend

    q: queue.SimpleQueue = queue.SimpleQueue()
    backend = choose_backend("connector", q.put, EventBuilder(HostInfo.detect()), realtime=realtime,
                             isolate=isolate).backend
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-sensor-"))
    store = AlertStore(tmp / "alerts.db")
    detector = LiveDetector(store, load_runners(builtin_rules()).runners)
    seen: set[int] = set()
    latencies: list[tuple[int, float]] = []  # (pid, ms): other processes on the host may alert too
    backend.start()
    time.sleep(0.2)
    workers = max(2, int(rate // 500))
    gens = start_generators(rate, seconds, every, fake, workers)
    deadline = None
    while True:
        try:
            record = q.get(timeout=0.1)
        except queue.Empty:
            if deadline is None and all(g.poll() is not None for g in gens):
                deadline = time.monotonic() + 1.0  # let the tail drain
            if deadline is not None and time.monotonic() > deadline:
                break
            continue
        pid = record.doc["process"]["pid"]
        seen.add(pid)
        if detector.feed(record):
            latencies.append((pid, (time.time_ns() - iso_ns(record.doc["@timestamp"])) / 1e6))
    backend.stop()
    store.close()
    spawned, elapsed = finish_generators(gens)
    shutil.rmtree(tmp, ignore_errors=True)
    stats = backend.stats
    fakes = len(spawned) // every if every else 0
    ours = [ms for pid, ms in latencies if pid in spawned]
    latencies = ours
    return {
        "target_rate": rate,
        "achieved_rate": round(len(spawned) / elapsed, 1),
        "spawned": len(spawned),
        "lost": len(spawned - seen),
        "lost_batches": stats.lost_batches,
        "gone": stats.gone,
        "zombie": stats.zombie,
        "alerts": len(latencies),
        "expected_alerts": fakes,
        "p50_ms": round(pct(latencies, 50), 2),
        "p99_ms": round(pct(latencies, 99), 2),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "notes": backend.notes,
    }


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime of the whole process (all threads)


def cpu_run(rate: float, seconds: float, fake: Path) -> dict:
    home = Path(tempfile.mkdtemp(prefix="vigil-bench-cpu-"))
    env = {**os.environ, "VIGIL_HOME": str(home)}
    watch = subprocess.Popen([sys.executable, "-m", "vigil", "watch", "--db", str(home / "a.db")], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    status = home / "watch-status.json"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (status.exists() and json.loads(status.read_text()).get("running")):
        time.sleep(0.05)
    time.sleep(0.5)
    idle_t0, idle_c0 = time.monotonic(), cpu_ticks(watch.pid)
    time.sleep(3)
    idle = (cpu_ticks(watch.pid) - idle_c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - idle_t0)
    t0, c0 = time.monotonic(), cpu_ticks(watch.pid)
    gens = start_generators(rate, seconds, 0, fake, 1)
    spawned, _ = finish_generators(gens)
    busy = (cpu_ticks(watch.pid) - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
    watch.send_signal(signal.SIGTERM)
    _, err = watch.communicate(timeout=30)
    shutil.rmtree(home, ignore_errors=True)
    return {"rate": rate, "spawned": len(spawned), "cpu_percent_of_one_core": round(100 * busy, 2),
            "idle_cpu_percent": round(100 * idle, 2), "stop_line": err.strip().splitlines()[-1] if err else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="500,2000", help="comma-separated exec rates (per second)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--alert-every", type=int, default=20, help="every Nth exec is an alerting fake nping")
    parser.add_argument("--no-realtime", action="store_true")
    parser.add_argument("--thread", action="store_true", help="reader as a thread instead of a process")
    parser.add_argument("--no-cpu", action="store_true")
    parser.add_argument("--cpu-rate", type=float, default=100.0)
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-bin-"))
    fake = work / "nping"
    shutil.copy2("/bin/true", fake)
    results = {"cpus": os.cpu_count(), "kernel": os.uname().release, "latency": [], "cpu": None}
    try:
        for rate in (float(r) for r in args.rates.split(",") if r):
            result = latency_run(rate, args.seconds, args.alert_every, fake, not args.no_realtime, not args.thread)
            results["latency"].append(result)
            print(f"{rate:>6.0f}/s target ({result['achieved_rate']}/s achieved): spawned {result['spawned']}, "
                  f"lost {result['lost']} (ENOBUFS batches {result['lost_batches']}), gone {result['gone']}, "
                  f"zombie {result['zombie']}; alerts {result['alerts']}/{result['expected_alerts']}, "
                  f"exec→alert p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms",
                  flush=True)
        if not args.no_cpu:
            cpu = cpu_run(args.cpu_rate, args.cpu_seconds, fake)
            results["cpu"] = cpu
            print(f"CPU of `vigil watch` at {cpu['rate']:.0f} execs/s: {cpu['cpu_percent_of_one_core']} % of one "
                  f"core (idle: {cpu['idle_cpu_percent']} %)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
