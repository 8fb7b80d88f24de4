"""Choose the capture backend: try the best one, fall back in order, and say which is in use, why, and what it misses.

Order for `auto`: connector (kernel proc events, race-free, ~ms) → audit multicast (only when auditd runs with an
execve rule; race-free argv but tens of ms) → /proc polling with an inotify trigger (no privilege at all, misses
short processes). Each refusal is kept with its reason, so `vigil watch --status` can explain the choice.
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass, field

from vigil.errors import ConfigError
from vigil.sensor.backend import Backend, Emit
from vigil.sensor.connector import ConnectorUnavailable
from vigil.sensor.ecs import EventBuilder

MODES = ("auto", "connector", "audit", "procpoll")


@dataclass
class Selection:
    backend: Backend
    mode: str
    why: str
    refused: list[tuple[str, str]] = field(default_factory=list)  # (mode, reason) tried before, in order

    def describe(self) -> list[str]:
        lines = [f"mode: {self.mode}", f"why: {self.why}"]
        lines += [f"  {mode} not used: {reason}" for mode, reason in self.refused]
        lines += [f"note: {note}" for note in self.backend.notes]
        lines.append(f"can miss: {self.backend.can_miss}")
        return lines

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "mode": self.mode,
            "why": self.why,
            "refused": [{"mode": m, "reason": r} for m, r in self.refused],
            "notes": list(self.backend.notes),
            "can_miss": self.backend.can_miss,
        }


def _connector(emit: Emit, builder: EventBuilder, options: dict) -> Backend:
    if options.get("isolate", True):
        from vigil.sensor.isolated import IsolatedConnectorBackend as Connector
    else:
        from vigil.sensor.reader import ConnectorBackend as Connector

    return Connector(emit, builder, realtime=options.get("realtime", True))


def _audit(emit: Emit, builder: EventBuilder, options: dict) -> Backend:
    from vigil.sensor.audit import AuditBackend

    return AuditBackend(emit, host=builder.host, require_daemon=options.get("require_daemon", True))


def _procpoll(emit: Emit, builder: EventBuilder, options: dict) -> Backend:
    from vigil.sensor.procpoll import ProcPollBackend

    return ProcPollBackend(emit, builder, interval=options.get("interval", 0.1),
                           watch_names=options.get("watch_names", ()), search_path=options.get("search_path"))


_FACTORIES = {"connector": _connector, "audit": _audit, "procpoll": _procpoll}
_WHY = {
    "connector": "kernel proc connector subscribed and self-test passed",
    "audit": "auditd is running: reading its records from the audit multicast group",
    "procpoll": "no event interface is usable here; polling /proc needs no privilege",
}


def choose_backend(mode: str, emit: Emit, builder: EventBuilder, **options: t.Any) -> Selection:
    """Start-ready backend for `mode` (`auto` tries them in order). Raises ConfigError when a forced mode fails."""
    if mode not in MODES:
        raise ConfigError(f"unknown sensor mode {mode!r} (choose from {', '.join(MODES)})")
    order = ["connector", "audit", "procpoll"] if mode == "auto" else [mode]
    refused: list[tuple[str, str]] = []
    for candidate in order:
        builder.mode = candidate
        try:
            backend = _FACTORIES[candidate](emit, builder, options)
        except (ConnectorUnavailable, OSError) as error:
            refused.append((candidate, getattr(error, "reason", None) or str(error)))
            continue
        why = _WHY[candidate] if mode == "auto" else f"{candidate} asked with --mode"
        if mode == "auto" and refused:
            why += f" (after {', '.join(m for m, _ in refused)} failed)"
        return Selection(backend, candidate, why, refused)
    reasons = "; ".join(f"{m}: {r}" for m, r in refused)
    raise ConfigError(f"no capture backend usable for --mode {mode}: {reasons}",
                      hint="`--mode procpoll` works without privileges" if mode != "procpoll" else None)


def privileges() -> dict[str, t.Any]:
    """Facts that decide what works: root, capabilities, namespaces (for `--status`)."""
    caps = 0
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("CapEff:"):
                caps = int(line.split()[1], 16)
    except OSError:
        pass
    names = {"CAP_NET_ADMIN": 12, "CAP_SYS_NICE": 23, "CAP_AUDIT_READ": 37, "CAP_SYS_ADMIN": 21}
    info: dict[str, t.Any] = {"uid": os.geteuid(), "caps": [n for n, bit in names.items() if caps >> bit & 1]}
    for ns in ("user", "pid", "net"):
        try:
            info[f"{ns}_ns_is_init"] = os.readlink(f"/proc/self/ns/{ns}") == os.readlink(f"/proc/1/ns/{ns}")
        except OSError:
            info[f"{ns}_ns_is_init"] = None  # /proc/1 unreadable without privileges
    return info
