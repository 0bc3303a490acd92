"""Client IP: the socket peer, unless a trusted proxy says otherwise in X-Forwarded-For."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.integrations.client_ip import ClientIPResolver, ForwardedHeaderError, canonical_ip

RESOLVER = ClientIPResolver(["10.0.0.0/8"])


def test_untrusted_peers_cannot_name_another_client() -> None:
    assert RESOLVER.resolve("192.0.2.1", "6.6.6.6") == "192.0.2.1"
    assert ClientIPResolver().resolve("10.0.0.5", "6.6.6.6") == "10.0.0.5"


def test_trusted_proxies_are_read_right_to_left() -> None:
    assert RESOLVER.resolve("10.0.0.5", "203.0.113.9") == "203.0.113.9"
    # a client-supplied hop on the left is not believed: the first untrusted hop from the right wins
    assert RESOLVER.resolve("10.0.0.5", "6.6.6.6, 203.0.113.9, 10.0.0.7") == "203.0.113.9"
    assert RESOLVER.resolve("10.0.0.5", "10.1.1.1") == "10.1.1.1"
    assert RESOLVER.resolve("10.0.0.5", "[2001:db8::1]") == "2001:db8::1"
    assert RESOLVER.resolve("10.0.0.5", None) == "10.0.0.5"


def test_garbage_from_a_trusted_proxy_is_an_error() -> None:
    with pytest.raises(ForwardedHeaderError, match="not an IP address"):
        RESOLVER.resolve("10.0.0.5", "unknown")


@given(st.text(max_size=200))
def test_any_forwarded_header_resolves_or_raises_the_named_error(header: str) -> None:
    try:
        ip = RESOLVER.resolve("10.0.0.5", header)
    except ForwardedHeaderError:
        return
    assert ip  # an address, never empty
    assert not ip.startswith("::ffff:")  # IPv4 clients are IPv4, however they were written
    assert RESOLVER.resolve("192.0.2.1", header) == "192.0.2.1"


def test_ipv4_mapped_addresses_are_the_ipv4_client() -> None:
    # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; proxies may forward them so too
    assert ClientIPResolver().resolve("::ffff:192.0.2.1", None) == "192.0.2.1"
    assert RESOLVER.resolve("::ffff:192.0.2.1", "6.6.6.6") == "192.0.2.1"  # still not trusted
    assert RESOLVER.resolve("::ffff:10.0.0.5", "203.0.113.9") == "203.0.113.9"  # a trusted proxy
    assert RESOLVER.resolve("10.0.0.5", "::ffff:203.0.113.9") == "203.0.113.9"
    assert RESOLVER.resolve("10.0.0.5", "[::ffff:203.0.113.9]") == "203.0.113.9"
    # a mapped trusted hop is skipped like its IPv4 address
    assert RESOLVER.resolve("10.0.0.5", "6.6.6.6, ::FFFF:10.0.0.7") == "6.6.6.6"


def test_trusted_networks_may_be_written_ipv4_mapped() -> None:
    resolver = ClientIPResolver(["::ffff:10.0.0.0/104", "2001:db8::/32"])
    assert resolver.resolve("10.0.0.5", "203.0.113.9") == "203.0.113.9"
    assert resolver.resolve("::ffff:10.0.0.5", "203.0.113.9") == "203.0.113.9"
    assert resolver.resolve("11.0.0.5", "203.0.113.9") == "11.0.0.5"
    assert resolver.resolve("2001:db8::5", "203.0.113.9") == "203.0.113.9"


def test_canonical_ip() -> None:
    assert canonical_ip("::ffff:192.0.2.1") == "192.0.2.1"
    assert canonical_ip("::FFFF:c000:0201") == "192.0.2.1"
    assert canonical_ip("2001:DB8:0::1") == "2001:db8::1"
    assert canonical_ip("::1") == "::1"  # loopback is not a mapped address
    assert canonical_ip("192.0.2.1") == "192.0.2.1"
    assert canonical_ip("testclient") == "testclient"  # not an address: left as it is
    assert ClientIPResolver().resolve("testclient", None) == "testclient"


@given(st.ip_addresses(v=4))
def test_every_ipv4_client_is_the_same_however_it_is_written(ip: ipaddress.IPv4Address) -> None:
    mapped = f"::ffff:{ip}"
    assert ClientIPResolver().resolve(mapped, None) == str(ip)
    assert RESOLVER.resolve("10.0.0.5", mapped) == str(ip)


def test_every_forwarded_for_line_is_one_list_read_right_to_left() -> None:
    # HAProxy's `option forwardfor` appends a line of its own after the client's
    assert RESOLVER.resolve("10.0.0.5", ["66.249.66.1", "203.0.113.7"]) == "203.0.113.7"
    lines = ["66.249.66.1, 198.51.100.1", "203.0.113.7, 10.0.0.9"]
    assert RESOLVER.resolve("10.0.0.5", lines) == "203.0.113.7"
    assert RESOLVER.resolve("10.0.0.5", ["203.0.113.7", "10.0.0.9"]) == "203.0.113.7"
    assert RESOLVER.resolve("10.0.0.5", []) == "10.0.0.5"
    assert RESOLVER.resolve("192.0.2.1", ["6.6.6.6", "7.7.7.7"]) == "192.0.2.1"  # untrusted peer


def test_empty_list_elements_are_skipped() -> None:
    assert RESOLVER.resolve("10.0.0.5", ["", "203.0.113.7"]) == "203.0.113.7"
    assert RESOLVER.resolve("10.0.0.5", "203.0.113.7, , 10.0.0.9,") == "203.0.113.7"
    assert RESOLVER.resolve("10.0.0.5", " , ") == "10.0.0.5"


@pytest.mark.parametrize("hop", [
    "fe80::1%eth0", "fe80::1%25eth0", "203.0.113.7:8080", "[2001:db8::1]:443", "[203.0.113.7]", "[::1",
    "2001:db8::1]", "unknown", "_hidden", "203.0.113.7 203.0.113.8", "0x7f.1", "localhost", "١٢٣.1.1.1",
])
def test_only_plain_addresses_are_client_addresses(hop: str) -> None:
    with pytest.raises(ForwardedHeaderError, match="not an IP address"):
        RESOLVER.resolve("10.0.0.5", hop)
    with pytest.raises(ForwardedHeaderError):
        RESOLVER.resolve("10.0.0.5", [hop, "10.0.0.9"])
    # left of the client, it is the client's own claim: never read
    assert RESOLVER.resolve("10.0.0.5", [hop, "203.0.113.7"]) == "203.0.113.7"
