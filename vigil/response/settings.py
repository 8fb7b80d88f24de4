"""The `[response]` table of the configuration file: everything is off until it says otherwise.

    [response]
    enabled = true                 # master switch (default false): no action changes anything without it
    dry_run = true                 # default true: check and record what would be done, change nothing
    automatic = true               # run the rules' `response_actions` on new alerts (default true once enabled)
    commands = ["isolate", "kill-process", "suspend-process"]   # which commands may run at all
    management_addresses = ["192.0.2.10", "10.0.0.0/24"]        # stay reachable while isolated
    dns_resolvers = ["10.0.0.53"]  # DNS (port 53) to these stays open while isolated
    start_tolerance_ms = 1000      # how far `process.start` may differ from /proc's start time
    nft = "nft"                    # the nft program
    netns = "name"                 # isolate this network namespace (ip netns) instead of the host's

The configuration loader hands the raw table over; this module checks it and says `file [response.key]` when a
value is wrong.
"""

from __future__ import annotations

import ipaddress
import typing as t
from dataclasses import dataclass

from vigil.errors import ConfigError, Location
from vigil.response.outcome import AUTOMATED_COMMANDS

_KEYS: dict[str, type | tuple[type, ...]] = {
    "enabled": bool, "dry_run": bool, "automatic": bool, "commands": list, "management_addresses": list,
    "dns_resolvers": list, "start_tolerance_ms": int, "nft": str, "netns": str,
}


@dataclass(frozen=True)
class ResponseSettings:
    enabled: bool = False
    dry_run: bool = True
    automatic: bool = True
    commands: tuple[str, ...] = AUTOMATED_COMMANDS
    management_addresses: tuple[str, ...] = ()
    dns_resolvers: tuple[str, ...] = ()
    start_tolerance_ms: int = 1000
    nft: str = "nft"
    netns: t.Optional[str] = None

    @classmethod
    def from_dict(cls, raw: t.Optional[t.Mapping[str, t.Any]],
                  location: t.Optional[t.Callable[[str], Location]] = None) -> "ResponseSettings":
        """Check the raw `[response]` table. `location(key)` names where a key is written (file:line [key])."""
        where = location or (lambda key: Location(key=key))
        if raw is None:
            return cls()
        if not isinstance(raw, t.Mapping):
            raise ConfigError("[response] must be a table", where("response"))
        for key, value in raw.items():
            kind = _KEYS.get(key)
            if kind is None:
                raise ConfigError(f"unknown key {key!r} in [response]", where(f"response.{key}"),
                                  hint="known keys: " + ", ".join(_KEYS))
            # bool is an int in Python: `start_tolerance_ms = true` must not pass as 1
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ConfigError(f"{key} must be {_KIND_NAMES[kind]}, not {type(value).__name__}",
                                  where(f"response.{key}"))
        commands = _strings(raw.get("commands", list(AUTOMATED_COMMANDS)), "response.commands", where)
        for command in commands:
            if command not in AUTOMATED_COMMANDS:
                raise ConfigError(f"unknown response command {command!r}", where("response.commands"),
                                  hint="commands: " + ", ".join(AUTOMATED_COMMANDS))
        management = _strings(raw.get("management_addresses", []), "response.management_addresses", where)
        for text in management:
            _network(text, where("response.management_addresses"))
        resolvers = _strings(raw.get("dns_resolvers", []), "response.dns_resolvers", where)
        for text in resolvers:
            try:
                ipaddress.ip_address(text)
            except ValueError:
                raise ConfigError(f"not an IP address: {text!r}", where("response.dns_resolvers"),
                                  hint="resolvers are single addresses, e.g. 10.0.0.53 or 2001:db8::53") from None
        tolerance = raw.get("start_tolerance_ms", cls.start_tolerance_ms)
        if tolerance < 0:
            raise ConfigError("start_tolerance_ms must be 0 or more", where("response.start_tolerance_ms"))
        return cls(
            enabled=raw.get("enabled", False),
            dry_run=raw.get("dry_run", True),
            automatic=raw.get("automatic", True),
            commands=tuple(commands),
            management_addresses=tuple(management),
            dns_resolvers=tuple(resolvers),
            start_tolerance_ms=tolerance,
            nft=raw.get("nft", "nft"),
            netns=raw.get("netns") or None,
        )

    def to_dict(self) -> dict[str, t.Any]:
        return {"enabled": self.enabled, "dry_run": self.dry_run, "automatic": self.automatic,
                "commands": list(self.commands), "management_addresses": list(self.management_addresses),
                "dns_resolvers": list(self.dns_resolvers), "start_tolerance_ms": self.start_tolerance_ms,
                "nft": self.nft, "netns": self.netns}


_KIND_NAMES = {bool: "true or false", list: "a list of strings", int: "a whole number", str: "a string"}


def _strings(value: t.Any, key: str, where: t.Callable[[str], Location]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError("must be a list of non-empty strings", where(key))
    return list(value)


def _network(text: str, location: Location) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ConfigError(f"not an address or CIDR: {text!r}", location,
                          hint="e.g. 192.0.2.10, 10.0.0.0/24 or 2001:db8::/64") from None
