"""Host isolation, proven inside throwaway network namespaces (never on this machine's own interfaces)."""

from __future__ import annotations

import shutil

from vigil.response import ResponseDispatcher, ResponseSettings
from vigil.response.isolate import IsolationPolicy, Nft, is_isolated, isolate, release, ruleset
from vigil.response.outcome import DRY_RUN, FAILED, SUCCEEDED


def test_isolation_blocks_the_peer_and_release_restores_it(testnet):
    net = testnet
    net.serve(net.peer, "0.0.0.0")
    net.serve(net.inner, "127.0.0.1")
    nft = Nft(netns=net.inner)
    assert net.can_connect(net.peer_addr) and net.can_connect("127.0.0.1")

    outcome = isolate(IsolationPolicy(), nft, dry_run=False)
    assert outcome.status == SUCCEEDED, outcome
    assert is_isolated(nft)
    assert not net.can_connect(net.peer_addr)  # the network is cut
    assert net.can_connect("127.0.0.1")  # loopback still works
    assert not net.can_connect(net.inner_addr, ns=net.peer)  # and nobody gets in

    again = isolate(IsolationPolicy(), nft, dry_run=False)  # idempotent: replaces the table, no error
    assert again.status == SUCCEEDED

    released = release(nft, dry_run=False)
    assert released.status == SUCCEEDED and released.details["was_isolated"] is True
    assert not is_isolated(nft)
    assert net.can_connect(net.peer_addr)
    assert release(nft, dry_run=False).details["was_isolated"] is False  # releasing twice is harmless


def test_management_addresses_stay_reachable(testnet):
    net = testnet
    net.serve(net.peer, "0.0.0.0")
    nft = Nft(netns=net.inner)
    # the peer answers on two addresses; only the management one stays reachable, both ways
    assert isolate(IsolationPolicy(management_addresses=(f"{net.mgmt_addr}/32",)), nft, dry_run=False).ok
    try:
        assert net.can_connect(net.mgmt_addr)
        assert not net.can_connect(net.peer_addr)
    finally:
        release(nft, dry_run=False)


def test_dry_run_checks_the_ruleset_but_changes_nothing(testnet):
    net = testnet
    net.serve(net.peer, "0.0.0.0")
    nft = Nft(netns=net.inner)
    outcome = isolate(IsolationPolicy(dns_resolvers=("10.0.0.53", "2001:db8::53")), nft, dry_run=True)
    assert outcome.status == DRY_RUN and "checked by nft" in outcome.message
    assert not is_isolated(nft) and net.can_connect(net.peer_addr)


def test_dispatcher_isolates_the_configured_namespace(testnet):
    net = testnet
    net.serve(net.peer, "0.0.0.0")
    dispatcher = ResponseDispatcher(ResponseSettings(enabled=True, dry_run=False, netns=net.inner))
    assert dispatcher.run("isolate").status == SUCCEEDED
    assert not net.can_connect(net.peer_addr)
    assert dispatcher.run("release").status == SUCCEEDED
    assert net.can_connect(net.peer_addr)


def test_missing_nft_is_a_clear_failure():
    nft = Nft(binary="nft-not-installed-here")
    outcome = isolate(IsolationPolicy(), nft, dry_run=False)
    assert outcome.status == FAILED and "not found: install nftables" in outcome.message
    assert release(nft, dry_run=False).status == FAILED


def test_ruleset_shape():
    text = ruleset(IsolationPolicy(("192.0.2.10", "10.0.0.0/24", "2001:db8::/64"), ("10.0.0.53",)))
    assert text.startswith("add table inet vigil_isolation\ndelete table inet vigil_isolation\n")
    assert "policy drop;" in text and text.count("policy drop;") == 3  # input, output, forward
    assert 'iif "lo" accept' in text and 'oif "lo" accept' in text
    assert "elements = { 192.0.2.10/32, 10.0.0.0/24 }" in text
    assert "ip daddr @dns4 meta l4proto { udp, tcp } th dport 53 accept" in text
    assert "nd-neighbor-solicit" in text  # IPv6 management needs neighbour discovery
    plain = ruleset(IsolationPolicy())
    assert "@mgmt" not in plain and "set " not in plain and "icmpv6" not in plain


def test_ruleset_is_valid_nft_syntax():
    if shutil.which("nft") is None:
        import pytest

        pytest.skip("nft not installed")
    import subprocess

    for policy in (IsolationPolicy(), IsolationPolicy(("10.1.0.0/16", "10.1.2.3", "fd00::/8"), ("10.0.0.53",))):
        done = subprocess.run(["nft", "--check", "-f", "-"], input=ruleset(policy), capture_output=True, text=True)
        if "Operation not permitted" in done.stderr:
            import pytest

            pytest.skip("nft --check needs CAP_NET_ADMIN here")
        assert done.returncode == 0, done.stderr
