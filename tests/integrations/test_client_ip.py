"""Client IP: the socket peer, unless a trusted proxy says otherwise in X-Forwarded-For."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.integrations.client_ip import ClientIPResolver, ForwardedHeaderError

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
    assert RESOLVER.resolve("192.0.2.1", header) == "192.0.2.1"
