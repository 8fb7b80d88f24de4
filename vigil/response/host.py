"""Is this alert about THIS host? Every action acts on the machine vigil runs on, so an alert read from another
host's logs (`vigil run` over a copied file) must never kill a local process that happens to have the same pid.

An alert is about this host when its `host.id` equals this machine's id (/etc/machine-id, what the sensor writes),
or, when it has no `host.id`, its `host.name` / `host.hostname` equals this host's name (short names compared, case
folded, as hostnames are case-insensitive).
"""

from __future__ import annotations

import socket
import typing as t
from dataclasses import dataclass

from vigil.alerts.reason import get_path

MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


@dataclass(frozen=True)
class LocalHost:
    name: str
    id: t.Optional[str]

    @classmethod
    def detect(cls) -> "LocalHost":
        machine_id = None
        for path in MACHINE_ID_FILES:
            try:
                with open(path, encoding="ascii") as fh:
                    machine_id = fh.read().strip() or None
            except (OSError, UnicodeDecodeError):
                continue
            if machine_id:
                break
        return cls(socket.gethostname(), machine_id)

    def matches(self, alert: t.Mapping[str, t.Any]) -> tuple[bool, str]:
        """(is the alert about this host, why not when it is not)."""
        alert_id = _first(get_path(alert, "host.id"))
        if alert_id and self.id:
            if str(alert_id) == self.id:
                return True, ""
            return False, f"the alert is from host.id {alert_id}, this host is {self.id}"
        names = [n for n in (_first(get_path(alert, "host.name")), _first(get_path(alert, "host.hostname"))) if n]
        if not names:
            return False, "the alert names no host (host.id / host.name), so it cannot be tied to this host"
        if any(_short(str(n)) == _short(self.name) for n in names):
            return True, ""
        return False, f"the alert is from host {names[0]}, this host is {self.name}"


def _first(value: t.Any) -> t.Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _short(name: str) -> str:
    return name.split(".", 1)[0].casefold()
