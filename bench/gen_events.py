"""Deterministic generator of Elastic Defend-shaped ECS events for the "Nping Process Activity" benchmark.

    python3 bench/gen_events.py -n 1000000 --seed 42 -o events.ndjson --truth truth.json

Standard library only. The same arguments give byte-identical output (every random draw comes from one
`random.Random(seed)`, dictionaries keep insertion order and `json.dumps` is stable), so a file can be regenerated
instead of shipped. Events are NDJSON lines of ~1 KB with nested objects as Elasticsearch stores them in `_source`:
`event.category` / `event.type` are arrays, `process.args` is an array, Linux / Windows / macOS hosts.

Planted at seeded positions: `--nping-rate` true positives of the rule (half `exec`, the rest cycling through its
other five actions) and `--near-miss-rate` of each of nine near misses that a sloppy implementation gets wrong.
No other line contains the byte string `nping` (checked while writing), so `grep -c -F nping` counts exactly the
planted lines. `--truth` writes the expected event ids and counts as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import typing as t
from datetime import datetime, timedelta, timezone

RULE_ACTIONS = ("exec", "exec_event", "start", "ProcessRollup2", "executed", "process_started")
NEAR_MISSES = (
    "name_nping2",  # process.name "nping2": == is exact
    "name_upper",  # process.name "NPING": == is case-sensitive
    "args_only",  # `sudo nping ...`: nping appears only in the arguments
    "windows",  # nping on a Windows host
    "macos",  # nping on a macOS host
    "end",  # the nping process ending (event.type end)
    "fork",  # action fork: not one of the rule's actions
    "parent_only",  # nping is the parent, the process is something else
    "network",  # a network event of an nping process (category network)
)
START = datetime(2026, 11, 2, 8, 0, 0, tzinfo=timezone.utc)
STEP_MS = 3  # events are in timestamp order, ~3 ms apart (as a sorted export would be)

# Named hosts per OS (18 Linux, 13 Windows, 5 macOS) and the share of events each OS gets.
OS_SHARE = (("linux", 0.50), ("windows", 0.35), ("macos", 0.15))
HOSTS = {
    "linux": [f"{p}-{i:02d}" for p, n in (("web", 6), ("db", 4), ("build", 4), ("k8s-node", 4))
              for i in range(1, n + 1)],
    "windows": [f"{p}-{i:02d}" for p, n in (("WKS", 8), ("DC", 2), ("FS", 3)) for i in range(1, n + 1)],
    "macos": [f"mbp-{name}" for name in ("alice", "bob", "carol", "dave", "erin")],
}
OS_INFO = {
    "linux": {"family": "ubuntu", "name": "Linux", "platform": "ubuntu", "type": "linux", "version": "22.04.4"},
    "windows": {"family": "windows", "full": "Windows 11 Enterprise 23H2",
                "kernel": "23H2 (10.0.22631.4460)", "name": "Windows", "platform": "windows", "type": "windows",
                "version": "23H2"},
    "macos": {"family": "darwin", "name": "macOS", "platform": "macos", "type": "macos", "version": "14.6.1"},
}
# (name, executable, argument lists) per OS; none of these spell "nping".
PROGRAMS = {
    "linux": [
        ("bash", "/usr/bin/bash", [["bash"], ["bash", "-c", "make -j4 all"],
                                   ["bash", "/opt/deploy/run.sh", "--quiet"]]),
        ("sh", "/usr/bin/sh", [["sh", "-c", "date +%s"], ["sh", "/etc/cron.daily/logrotate"]]),
        ("python3", "/usr/bin/python3", [["python3", "/srv/app/manage.py", "runworker", "--threads", "4"],
                                         ["python3", "-m", "pip", "list"]]),
        ("curl", "/usr/bin/curl", [["curl", "-fsSL", "https://packages.example.com/repo.gpg"],
                                   ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                    "http://localhost:8080/health"]]),
        ("ssh", "/usr/bin/ssh", [["ssh", "-o", "BatchMode=yes", "deploy@db-01", "uptime"]]),
        ("sshd", "/usr/sbin/sshd", [["sshd", "-D", "-R"]]),
        ("cron", "/usr/sbin/cron", [["/usr/sbin/cron", "-f", "-P"]]),
        ("sudo", "/usr/bin/sudo", [["sudo", "-n", "systemctl", "restart", "nginx"], ["sudo", "apt-get", "update"]]),
        ("grep", "/usr/bin/grep", [["grep", "-r", "ERROR", "/var/log/app"], ["grep", "-c", "GET"]]),
        ("tar", "/usr/bin/tar", [["tar", "-czf", "/backup/etc.tgz", "/etc"]]),
        ("git", "/usr/bin/git", [["git", "fetch", "--all", "--prune"], ["git", "rev-parse", "HEAD"]]),
        ("containerd-shim", "/usr/bin/containerd-shim-runc-v2",
         [["/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "4f2a9c", "-address",
           "/run/containerd/containerd.sock"]]),
        ("ping", "/usr/bin/ping", [["ping", "-c", "1", "10.0.0.1"]]),
        ("nmap", "/usr/bin/nmap", [["nmap", "-sT", "-p", "22,80,443", "10.0.0.0/24"]]),
        ("journalctl", "/usr/bin/journalctl", [["journalctl", "-u", "nginx", "--since", "-1h", "--no-pager"]]),
    ],
    "windows": [
        ("svchost.exe", "C:\\Windows\\System32\\svchost.exe",
         [["C:\\Windows\\system32\\svchost.exe", "-k", "netsvcs", "-p"]]),
        ("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
         [["powershell.exe", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File", "C:\\Scripts\\inventory.ps1"]]),
        ("cmd.exe", "C:\\Windows\\System32\\cmd.exe",
         [["cmd.exe", "/c", "whoami"], ["cmd.exe", "/c", "dir", "C:\\Users"]]),
        ("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
         [["chrome.exe", "--type=renderer", "--lang=en-US"]]),
        ("rundll32.exe", "C:\\Windows\\System32\\rundll32.exe", [["rundll32.exe", "shell32.dll,Control_RunDLL"]]),
        ("conhost.exe", "C:\\Windows\\System32\\conhost.exe",
         [["\\??\\C:\\Windows\\system32\\conhost.exe", "0xffffffff"]]),
        ("MsMpEng.exe", "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090\\MsMpEng.exe",
         [["MsMpEng.exe"]]),
    ],
    "macos": [
        ("zsh", "/bin/zsh", [["-zsh"], ["/bin/zsh", "-c", "brew update"]]),
        ("mdworker_shared", "/System/Library/Frameworks/CoreServices.framework/mdworker_shared",
         [["mdworker_shared", "-s", "mdworker", "-c", "MDSImporterWorker"]]),
        ("curl", "/usr/bin/curl", [["curl", "-sS", "https://api.example.com/v1/status"]]),
        ("git", "/usr/bin/git", [["git", "status", "--porcelain"]]),
        ("softwareupdated", "/System/Library/PrivateFrameworks/SoftwareUpdate.framework/softwareupdated",
         [["softwareupdated"]]),
    ],
}
PARENTS = {
    "linux": [("bash", "/usr/bin/bash"), ("systemd", "/usr/lib/systemd/systemd"), ("sshd", "/usr/sbin/sshd"),
              ("cron", "/usr/sbin/cron"), ("containerd-shim", "/usr/bin/containerd-shim-runc-v2")],
    "windows": [("explorer.exe", "C:\\Windows\\explorer.exe"), ("services.exe", "C:\\Windows\\System32\\services.exe"),
                ("cmd.exe", "C:\\Windows\\System32\\cmd.exe")],
    "macos": [("launchd", "/sbin/launchd"), ("zsh", "/bin/zsh")],
}
USERS = {"linux": ["root", "deploy", "www-data", "postgres", "alice"],
         "windows": ["SYSTEM", "alice", "bob", "svc_backup"],
         "macos": ["alice", "bob", "_spotlight", "root"]}
FILE_PATHS = {"linux": ["/var/log/app/app.log", "/tmp/build-cache/obj.o", "/etc/nginx/conf.d/site.conf",
                        "/home/alice/.bash_history"],
              "windows": ["C:\\Users\\alice\\AppData\\Local\\Temp\\setup.tmp", "C:\\Windows\\Temp\\MpCmdRun.log",
                          "C:\\Users\\bob\\Documents\\report.docx"],
              "macos": ["/Users/alice/Library/Caches/com.apple.Safari/Cache.db", "/private/var/folders/tmp/item.plist"]}


class EventGenerator:
    """Builds one event document per index; every random choice comes from `rng`, in a fixed order."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.hosts = {os: [(name, f"{self.rng.getrandbits(128):032x}", f"10.{o}.{k // 250}.{k % 250 + 2}")
                           for k, name in enumerate(names)] for o, (os, names) in enumerate(HOSTS.items())}
        self.agents = {name: f"{self.rng.getrandbits(128):032x}" for names in HOSTS.values() for name in names}

    def hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def pick_os(self) -> str:
        r = self.rng.random()
        return "linux" if r < 0.50 else "windows" if r < 0.85 else "macos"

    def background(self, i: int) -> dict:
        """An ordinary event: 35% process start, 25% process end, 20% network, 20% file."""
        os_type = self.pick_os()
        r = self.rng.random()
        if r < 0.35:
            action = ("exec" if self.rng.random() < 0.70 else "fork") if os_type == "linux" else \
                "start" if os_type == "windows" else "exec"
            return self.process_event(i, os_type, action, ["start"])
        if r < 0.60:
            return self.process_event(i, os_type, "end", ["end"])
        if r < 0.80:
            return self.network_event(i, os_type)
        return self.file_event(i, os_type)

    def planted(self, i: int, kind: str, serial: int) -> dict:
        """A true positive (`kind` = an action of the rule) or one of NEAR_MISSES."""
        nping = ("nping", "/usr/bin/nping", ["nping", "--tcp", "-p", "80,443", "--rate", "100", "10.0.0.1"])
        if kind in RULE_ACTIONS:
            return self.process_event(i, "linux", kind, ["start"], program=nping)
        if kind == "name_nping2":
            return self.process_event(i, "linux", "exec", ["start"],
                                      program=("nping2", "/opt/tools/nping2", ["nping2", "--icmp", "10.0.0.7"]))
        if kind == "name_upper":
            return self.process_event(i, "linux", "exec", ["start"],
                                      program=("NPING", "/opt/tools/NPING", ["NPING", "--udp", "-c", "3",
                                                                            "--data-string", "nping-check"]))
        if kind == "args_only":
            return self.process_event(i, "linux", "exec", ["start"],
                                      program=("sudo", "/usr/bin/sudo", ["sudo", "nping", "--arp", "10.0.0.254"]))
        if kind == "windows":
            return self.process_event(i, "windows", "start", ["start"],
                                      program=("nping", "C:\\Program Files (x86)\\Nmap\\nping.exe",
                                               ["nping.exe", "--tcp", "-p", "3389", "10.1.0.5"]))
        if kind == "macos":
            return self.process_event(i, "macos", "exec", ["start"],
                                      program=("nping", "/usr/local/bin/nping", ["nping", "--icmp", "192.168.1.1"]))
        if kind == "end":
            return self.process_event(i, "linux", "end", ["end"], program=nping)
        if kind == "fork":
            return self.process_event(i, "linux", "fork", ["start"], program=nping)
        if kind == "parent_only":
            return self.process_event(i, "linux", "exec", ["start"], parent=("nping", "/usr/bin/nping"))
        if kind == "network":
            return self.network_event(i, "linux", program=("nping", "/usr/bin/nping"))
        raise ValueError(f"unknown planted kind {kind!r} (#{serial})")

    # ------------------------------------------------------------------------------------------------ documents
    def base(self, i: int, os_type: str, category: list, types: list, action: str, dataset: str) -> dict:
        rng = self.rng
        host_name, host_id, host_ip = self.hosts[os_type][rng.randrange(len(self.hosts[os_type]))]
        when = START + timedelta(milliseconds=i * STEP_MS)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        ingested = (when + timedelta(milliseconds=900 + rng.randrange(4000))).strftime("%Y-%m-%dT%H:%M:%SZ")
        agent_id = self.agents[host_name]
        return {
            "@timestamp": stamp,
            "agent": {"id": agent_id, "type": "endpoint", "version": "8.15.3"},
            "data_stream": {"dataset": dataset, "namespace": "default", "type": "logs"},
            "ecs": {"version": "8.11.0"},
            "event": {"action": action, "category": category, "created": stamp,
                      "dataset": dataset, "id": f"{i:08x}{self.hex(64)}", "ingested": ingested, "kind": "event",
                      "module": "endpoint", "sequence": 100_000 + i, "type": types},
            "host": {"architecture": "arm64" if os_type == "macos" else "x86_64", "hostname": host_name,
                     "id": host_id, "ip": [host_ip], "name": host_name, "os": OS_INFO[os_type]},
        }

    def process_fields(self, os_type: str, program: t.Optional[tuple], parent: t.Optional[tuple]) -> dict:
        rng = self.rng
        if program is None:
            name, executable, variants = PROGRAMS[os_type][rng.randrange(len(PROGRAMS[os_type]))]
            args = variants[rng.randrange(len(variants))]
        else:
            name, executable, args = program
        parent_name, parent_exe = parent or PARENTS[os_type][rng.randrange(len(PARENTS[os_type]))]
        pid, ppid = 1000 + rng.randrange(60000), 1 + rng.randrange(60000)
        return {
            "Ext": {"ancestry": [self.hex(96)]},
            "args": args, "args_count": len(args), "command_line": " ".join(args),
            "entity_id": self.hex(96), "executable": executable,
            "name": name,
            "parent": {"args": [parent_exe], "args_count": 1, "entity_id": self.hex(96), "executable": parent_exe,
                       "name": parent_name, "pid": ppid},
            "pid": pid,
            "working_directory": "C:\\Windows\\system32" if os_type == "windows" else "/",
        }

    def user(self, os_type: str) -> dict:
        name = USERS[os_type][self.rng.randrange(len(USERS[os_type]))]
        return {"id": "0" if name == "root" else str(1000 + len(name)), "name": name}

    def process_event(self, i: int, os_type: str, action: str, types: list, *,
                      program: t.Optional[tuple] = None, parent: t.Optional[tuple] = None) -> dict:
        doc = self.base(i, os_type, ["process"], types, action, "endpoint.events.process")
        doc["message"] = "Endpoint process event"
        doc["process"] = self.process_fields(os_type, program, parent)
        if action == "end":
            doc["process"]["exit_code"] = 0 if self.rng.random() < 0.9 else 1
        doc["user"] = self.user(os_type)
        return doc

    def network_event(self, i: int, os_type: str, program: t.Optional[tuple] = None) -> dict:
        rng = self.rng
        action = ("connection_attempted", "connection_accepted", "disconnect_received")[rng.randrange(3)]
        types = ["end"] if action == "disconnect_received" else ["start"]
        doc = self.base(i, os_type, ["network"], types, action, "endpoint.events.network")
        if program is None:
            name, executable, _ = PROGRAMS[os_type][rng.randrange(len(PROGRAMS[os_type]))]
        else:
            name, executable = program
        port = (22, 53, 80, 443, 5432, 8080)[rng.randrange(6)]
        doc["destination"] = {"address": f"10.20.{rng.randrange(256)}.{rng.randrange(256)}", "ip": None, "port": port}
        doc["destination"]["ip"] = doc["destination"]["address"]
        src = doc["host"]["ip"][0]
        doc["source"] = {"address": src, "ip": src, "port": 32768 + rng.randrange(28000)}
        doc["network"] = {"direction": "egress" if action == "connection_attempted" else "ingress",
                          "transport": "tcp" if port != 53 else "udp", "type": "ipv4"}
        doc["message"] = "Endpoint network event"
        doc["process"] = {"entity_id": self.hex(96), "executable": executable, "name": name,
                          "pid": 1000 + rng.randrange(60000)}
        doc["user"] = self.user(os_type)
        return doc

    def file_event(self, i: int, os_type: str) -> dict:
        rng = self.rng
        kinds = (("creation", "creation"), ("modification", "change"), ("deletion", "deletion"))
        action, kind = kinds[rng.randrange(3)]
        doc = self.base(i, os_type, ["file"], [kind], action, "endpoint.events.file")
        path = FILE_PATHS[os_type][rng.randrange(len(FILE_PATHS[os_type]))]
        sep = "\\" if os_type == "windows" else "/"
        directory, _, name = path.rpartition(sep)
        doc["file"] = {"Ext": {"header_bytes": self.hex(64)}, "directory": directory,
                       "extension": name.rpartition(".")[2] if "." in name else "", "name": name, "path": path,
                       "size": rng.randrange(1 << 20)}
        doc["message"] = "Endpoint file event"
        name, executable, _ = PROGRAMS[os_type][rng.randrange(len(PROGRAMS[os_type]))]
        doc["process"] = {"entity_id": self.hex(96), "executable": executable, "name": name,
                          "pid": 1000 + rng.randrange(60000)}
        doc["user"] = self.user(os_type)
        return doc


def plant_plan(n: int, rng: random.Random, nping_rate: float, near_miss_rate: float) -> dict[int, str]:
    """Index -> planted kind: true positives (half `exec`, then the other actions in turn) and each near miss."""
    positives = round(n * nping_rate)
    per_miss = round(n * near_miss_rate)
    kinds = [("exec" if k < (positives + 1) // 2 else RULE_ACTIONS[1 + (k - (positives + 1) // 2) % 5])
             for k in range(positives)]
    kinds += [kind for kind in NEAR_MISSES for _ in range(per_miss)]
    if len(kinds) > n:
        raise SystemExit(f"gen_events: {len(kinds)} planted events do not fit in {n} events; lower the rates")
    return dict(zip(rng.sample(range(n), len(kinds)), kinds))


def no_literal_match(doc: dict) -> bool:
    """`process where event.type == "start" and process.args_count >= 4`, evaluated on our own documents."""
    event = doc["event"]
    return "process" in event["category"] and "start" in event["type"] and doc["process"].get("args_count", 0) >= 4


def generate(n: int, seed: int, out: t.BinaryIO, nping_rate: float, near_miss_rate: float) -> dict:
    gen = EventGenerator(seed)
    plan = plant_plan(n, random.Random(seed ^ 0x6E70696E67), nping_rate, near_miss_rate)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    truth: dict[str, t.Any] = {"events": n, "seed": seed, "nping_ids": [], "near_misses": {}, "grep_nping_lines": 0,
                               "no_literal_matches": 0, "bytes": 0}
    buffer: list[bytes] = []
    for i in range(n):
        kind = plan.get(i)
        doc = gen.background(i) if kind is None else gen.planted(i, kind, i)
        line = dumps(doc).encode() + b"\n"
        if b"nping" in line:
            if kind is None:
                raise AssertionError(f"background event {i} spells nping: {line[:200]!r}")
            truth["grep_nping_lines"] += 1
        if kind in RULE_ACTIONS:
            truth["nping_ids"].append(doc["event"]["id"])
        elif kind is not None:
            truth["near_misses"].setdefault(kind, []).append(doc["event"]["id"])
        truth["no_literal_matches"] += no_literal_match(doc)
        truth["bytes"] += len(line)
        buffer.append(line)
        if len(buffer) >= 4096:
            out.write(b"".join(buffer))
            buffer.clear()
    out.write(b"".join(buffer))
    truth["nping_ids"].sort()
    return truth


def main(argv: t.Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=1_000_000, help="number of events (1,000,000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (42)")
    parser.add_argument("-o", "--output", default="-", help="output NDJSON file ('-' = stdout)")
    parser.add_argument("--truth", help="write the expected matches (event ids, counts) here as JSON")
    parser.add_argument("--nping-rate", type=float, default=1e-5, help="share of true positives (1e-5)")
    parser.add_argument("--near-miss-rate", type=float, default=1e-5, help="share of EACH of the 9 near misses (1e-5)")
    args = parser.parse_args(argv)
    if args.events < 0:
        parser.error("--events must be >= 0")
    if args.output == "-":
        truth = generate(args.events, args.seed, sys.stdout.buffer, args.nping_rate, args.near_miss_rate)
    else:
        with open(args.output, "wb") as out:
            truth = generate(args.events, args.seed, out, args.nping_rate, args.near_miss_rate)
    if args.truth:
        with open(args.truth, "w", encoding="utf-8") as handle:
            json.dump(truth, handle, indent=1, sort_keys=True)
            handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
