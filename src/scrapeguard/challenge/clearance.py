"""Clearance tokens: what a client gets for passing a challenge.

A token is `1.<id>.<expires>.<signature>`: an HMAC-SHA256 over the id, the expiry and the
client binding (its network, IPv4 /24 or IPv6 /64, and a hash of its user agent). The binding
is not in the token: it is recomputed from the request, so a token copied to another network
or another browser does not verify. The id is what the engine counts the clearance's uses
under (a clearance is good for a bounded number of member-data requests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from scrapeguard.challenge.keys import SigningKeys
from scrapeguard.events import network_of

VERSION = "1"
#: Tokens longer than this are not looked at.
MAX_TOKEN_LENGTH = 200


def client_binding(ip: str | None, user_agent: str) -> str:
    """What a challenge or clearance is bound to: network + user agent, as a short hash."""
    net = (network_of(ip) if ip else None) or (ip or "")
    ua = hashlib.sha256(user_agent.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return hashlib.sha256(f"{net}|{ua}".encode()).hexdigest()[:24]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class Clearance:
    id: str
    expires: float


class ClearanceSigner:
    def __init__(self, keys: SigningKeys) -> None:
        self.keys = keys

    def _signature(self, key: bytes, cid: str, expires: int, binding: str) -> str:
        message = f"clearance|{VERSION}|{cid}|{expires}|{binding}".encode()
        return _b64(hmac.new(key, message, hashlib.sha256).digest())

    def issue(self, binding: str, now: float, ttl: float) -> tuple[str, Clearance]:
        """A new token for the client with `binding`, valid for `ttl` seconds."""
        cid = "c-" + secrets.token_hex(8)
        expires = int(now + ttl)
        token = f"{VERSION}.{cid}.{expires}.{self._signature(self.keys.signing, cid, expires, binding)}"
        return token, Clearance(cid, float(expires))

    def verify(self, token: str, binding: str, now: float) -> Clearance | None:
        """The clearance if the token is genuine, unexpired and bound to this client; else None."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != VERSION or not parts[2].isdigit():
            return None
        _, cid, expires_text, signature = parts
        expires = int(expires_text)
        if expires <= now:
            return None
        for key in self.keys.keys:
            if hmac.compare_digest(signature, self._signature(key, cid, expires, binding)):
                return Clearance(cid, float(expires))
        return None
