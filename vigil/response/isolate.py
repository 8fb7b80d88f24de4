"""Host isolation with nftables: one table, `inet vigil_isolation`, that drops everything except what must stay up.

Kept open while isolated:
* loopback (local services keep working);
* management addresses / CIDRs (`[response] management_addresses`), both directions, so the console that
  investigates and later releases the host can still reach it (and the host its log shipper);
* DNS (port 53, UDP and TCP) to the configured resolvers, answers included, when `dns_resolvers` is set;
* IPv6 neighbour discovery when any allowed address is IPv6 (without it, on-link IPv6 peers are unreachable).

Everything else — new and existing connections, forwarded traffic (containers) — is dropped. A drop in any
nftables base chain is final, so another table's `accept` cannot undo isolation. The ruleset is loaded with
`nft -f -` as ONE transaction that first deletes any previous version of the table, so isolating twice just
replaces the policy and a half-applied ruleset cannot exist. `release` deletes the table, restoring the host's
own firewall exactly as it was (vigil never touches other tables).
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import typing as t
from dataclasses import dataclass

from vigil.response.outcome import DRY_RUN, FAILED, ISOLATE, RELEASE, SUCCEEDED, Outcome

FAMILY, TABLE = "inet", "vigil_isolation"
PRIORITY = "filter - 10"  # before the usual filter chains: isolation is decided first
NFT_TIMEOUT = 30


@dataclass(frozen=True)
class IsolationPolicy:
    management_addresses: tuple[str, ...] = ()
    dns_resolvers: tuple[str, ...] = ()

    def split(self, values: t.Iterable[str]) -> tuple[list[str], list[str]]:
        v4, v6 = [], []
        for text in values:
            net = ipaddress.ip_network(text, strict=False)
            (v4 if net.version == 4 else v6).append(str(net))
        return v4, v6


def ruleset(policy: IsolationPolicy) -> str:
    """The nft script that (re)creates the isolation table."""
    m4, m6 = policy.split(policy.management_addresses)
    d4, d6 = policy.split(policy.dns_resolvers)
    sets, inbound, outbound = [], [], []
    for name, kind, values in (("mgmt4", "ipv4_addr", m4), ("mgmt6", "ipv6_addr", m6),
                               ("dns4", "ipv4_addr", d4), ("dns6", "ipv6_addr", d6)):
        if values:
            sets.append(f"  set {name} {{ type {kind}; flags interval; auto-merge; "
                        f"elements = {{ {', '.join(values)} }} }}")
    if m4:
        inbound.append("ip saddr @mgmt4 accept")
        outbound.append("ip daddr @mgmt4 accept")
    if m6:
        inbound.append("ip6 saddr @mgmt6 accept")
        outbound.append("ip6 daddr @mgmt6 accept")
    for ip, name in (("ip", "dns4"), ("ip6", "dns6")):
        if (d4 if name == "dns4" else d6):
            outbound.append(f"{ip} daddr @{name} meta l4proto {{ udp, tcp }} th dport 53 accept")
            # only answers come back in: a resolver cannot open connections to an isolated host
            inbound.append(f"{ip} saddr @{name} meta l4proto {{ udp, tcp }} th sport 53 ct state established accept")
    if m6 or d6:
        neighbour = ("icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept")
        inbound.append(neighbour)
        outbound.append(neighbour.replace("nd-router-advert", "nd-router-solicit"))
    lines = [f"add table {FAMILY} {TABLE}", f"delete table {FAMILY} {TABLE}", f"table {FAMILY} {TABLE} {{", *sets]
    for chain, hook, iface, extra in (("input", "input", "iif", inbound), ("output", "output", "oif", outbound)):
        lines += [f"  chain {chain} {{", f"    type filter hook {hook} priority {PRIORITY}; policy drop;",
                  f'    {iface} "lo" accept', "    ct state invalid drop", *(f"    {r}" for r in extra), "  }"]
    lines += ["  chain forward {", f"    type filter hook forward priority {PRIORITY}; policy drop;", "  }", "}"]
    return "\n".join(lines) + "\n"


class NftError(Exception):
    """nft is missing, not permitted, or rejected the ruleset; the message says which."""


class Nft:
    """The `nft` program, run in the host's network namespace or in a named one (`ip netns exec NAME nft`)."""

    def __init__(self, binary: str = "nft", netns: t.Optional[str] = None):
        self.binary = binary
        self.netns = netns

    def argv(self, *args: str) -> list[str]:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [*prefix, self.binary, *args]

    def available(self) -> t.Optional[str]:
        """None when usable, else why not."""
        if shutil.which(self.binary) is None:
            return f"{self.binary!r} not found: install nftables (Debian/Ubuntu: apt-get install nftables)"
        if self.netns and shutil.which("ip") is None:
            return "'ip' not found: install iproute2 to isolate a network namespace"
        return None

    def run(self, *args: str, script: t.Optional[str] = None) -> str:
        missing = self.available()
        if missing:
            raise NftError(missing)
        try:
            done = subprocess.run(self.argv(*args), input=script, capture_output=True, text=True,
                                  timeout=NFT_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise NftError(f"cannot run {self.binary}: {error}") from None
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
            if "Operation not permitted" in message or "Permission denied" in message:
                message += " (nftables needs root or CAP_NET_ADMIN)"
            raise NftError(message)
        return done.stdout

    def table_exists(self) -> bool:
        try:
            self.run("list", "table", FAMILY, TABLE)
        except NftError as error:
            if "No such file or directory" in str(error):
                return False
            raise
        return True


def _target(nft: Nft) -> dict[str, t.Any]:
    return {"table": f"{FAMILY} {TABLE}", "netns": nft.netns}


def isolate(policy: IsolationPolicy, nft: Nft, *, dry_run: bool) -> Outcome:
    script = ruleset(policy)
    details = {"ruleset": script, "management_addresses": list(policy.management_addresses),
               "dns_resolvers": list(policy.dns_resolvers)}
    where = f"network namespace {nft.netns}" if nft.netns else "this host"
    if dry_run:
        # `nft --check` parses and validates the script in the kernel without committing it
        try:
            nft.run("--check", "-f", "-", script=script)
        except NftError as error:
            return Outcome(ISOLATE, FAILED, f"the isolation ruleset would not load: {error}", _target(nft), details)
        return Outcome(ISOLATE, DRY_RUN, f"would isolate {where} (ruleset checked by nft, not applied)",
                       _target(nft), details)
    try:
        nft.run("-f", "-", script=script)
    except NftError as error:
        return Outcome(ISOLATE, FAILED, f"cannot isolate {where}: {error}", _target(nft), details)
    kept = ", ".join(policy.management_addresses) or "none"
    return Outcome(ISOLATE, SUCCEEDED, f"isolated {where}; reachable: loopback, management {kept}", _target(nft),
                   details)


def release(nft: Nft, *, dry_run: bool) -> Outcome:
    where = f"network namespace {nft.netns}" if nft.netns else "this host"
    try:
        present = nft.table_exists()
    except NftError as error:
        return Outcome(RELEASE, FAILED, f"cannot release {where}: {error}", _target(nft))
    if not present:
        return Outcome(RELEASE, SUCCEEDED, f"{where} was not isolated (no table {FAMILY} {TABLE})", _target(nft),
                       {"was_isolated": False})
    if dry_run:
        return Outcome(RELEASE, DRY_RUN, f"would release {where} (delete table {FAMILY} {TABLE})", _target(nft),
                       {"was_isolated": True})
    try:
        nft.run("delete", "table", FAMILY, TABLE)
    except NftError as error:
        return Outcome(RELEASE, FAILED, f"cannot release {where}: {error}", _target(nft))
    return Outcome(RELEASE, SUCCEEDED, f"released {where}", _target(nft), {"was_isolated": True})


def is_isolated(nft: Nft) -> bool:
    return nft.table_exists()
