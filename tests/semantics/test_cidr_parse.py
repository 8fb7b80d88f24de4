"""cidrMatch parses dotted-quad IPv4 with the C parser: it must accept and reject exactly what `ipaddress` does."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.eql.semantics import fn_cidr_match

parts = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "007", "", " 1", "1 ", "+1", "0x1"]))
addresses = st.one_of(
    st.lists(parts, min_size=1, max_size=5).map(".".join),
    st.text(alphabet="0123456789abcdef:.%", max_size=20),
)


@settings(max_examples=500, deadline=None)
@given(text=addresses)
def test_fast_ipv4_parse_agrees_with_ipaddress(text):
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        assert fn_cidr_match(text, "0.0.0.0/0", "::/0") is None
        return
    everything = "0.0.0.0/0" if ip.version == 4 else "::/0"
    assert fn_cidr_match(text, everything) is True
    assert fn_cidr_match(text, str(ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}"))) is True
