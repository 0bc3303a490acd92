"""Clearance tokens: signed, expiring, bound to network + user agent; garbage never verifies."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.challenge.clearance import ClearanceSigner, client_binding
from scrapeguard.challenge.keys import SigningKeys

KEYS = SigningKeys((b"k" * 32,), "test")
NOW = 1_800_000_000.0
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def test_a_token_verifies_for_its_client_until_it_expires() -> None:
    signer = ClearanceSigner(KEYS)
    binding = client_binding("198.51.100.7", UA)
    token, clearance = signer.issue(binding, NOW, 600)
    assert signer.verify(token, binding, NOW + 599) == clearance
    assert signer.verify(token, binding, NOW + 600) is None  # expired


def test_the_binding_is_the_network_and_the_user_agent() -> None:
    assert client_binding("198.51.100.7", UA) == client_binding("198.51.100.200", UA)  # same /24
    assert client_binding("198.51.100.7", UA) != client_binding("198.51.101.7", UA)
    assert client_binding("198.51.100.7", UA) != client_binding("198.51.100.7", UA + " extra")
    assert client_binding("2001:db8::1", UA) == client_binding("2001:db8::ffff:1", UA)  # same /64
    assert client_binding("2001:db8::1", UA) != client_binding("2001:db8:0:1::1", UA)


def test_a_token_moved_to_another_client_or_tampered_with_is_refused() -> None:
    signer = ClearanceSigner(KEYS)
    token, _ = signer.issue(client_binding("198.51.100.7", UA), NOW, 600)
    assert signer.verify(token, client_binding("203.0.113.9", UA), NOW) is None
    assert signer.verify(token, client_binding("198.51.100.7", "curl/8.0"), NOW) is None
    version, cid, expires, signature = token.split(".")
    longer = f"{version}.{cid}.{int(expires) + 86400}.{signature}"
    assert signer.verify(longer, client_binding("198.51.100.7", UA), NOW) is None
    other = ClearanceSigner(SigningKeys((b"x" * 32,), "other"))
    assert other.verify(token, client_binding("198.51.100.7", UA), NOW) is None


def test_rotated_keys_still_verify_old_tokens() -> None:
    binding = client_binding("198.51.100.7", UA)
    token, _ = ClearanceSigner(KEYS).issue(binding, NOW, 600)
    rotated = ClearanceSigner(SigningKeys((b"n" * 32, b"k" * 32), "test"))
    assert rotated.verify(token, binding, NOW) is not None
    new_token, _ = rotated.issue(binding, NOW, 600)
    assert ClearanceSigner(KEYS).verify(new_token, binding, NOW) is None  # signed with the new key


@given(st.text(max_size=300))
def test_garbage_never_verifies(token: str) -> None:
    assert ClearanceSigner(KEYS).verify(token, client_binding("198.51.100.7", UA), NOW) is None
