"""Events: the network an address belongs to."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.events import Event, network_of


def test_the_network_of_an_address() -> None:
    assert network_of("192.0.2.7") == "192.0.2.0/24"
    assert network_of("2001:db8:1:2:3::7") == "2001:db8:1:2::/64"
    assert network_of("::1") == "::/64"


def test_an_ipv4_mapped_address_is_in_its_ipv4_network() -> None:
    # not ::/64, which would make every IPv4 client seen through a dual-stack socket one network
    assert network_of("::ffff:192.0.2.7") == "192.0.2.0/24"
    assert network_of("::FFFF:c000:0207") == "192.0.2.0/24"
    assert Event(ts=0, ip="::ffff:192.0.2.7").net == "192.0.2.0/24"


def test_text_that_is_not_an_address_has_no_network() -> None:
    for text in ("", "testclient", "1.2.3.x", "::ffff:1.2.3", "[::1]", "999.1.1.7", "1.2.300.4", "1..2.3",
                 "1.2.3.٣"):
        assert network_of(text) is None, text


@given(st.ip_addresses(v=4))
def test_mapped_and_plain_ipv4_share_the_network(ip: ipaddress.IPv4Address) -> None:
    expected = str(ipaddress.ip_network(f"{ip}/24", strict=False))
    assert network_of(f"::ffff:{ip}") == network_of(str(ip)) == expected
