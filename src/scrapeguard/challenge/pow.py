"""The built-in proof-of-work challenge: ALTCHA (the `altcha` package, v1 challenge format,
which the vendored widget in static/altcha.js speaks).

The challenge's salt carries, under the HMAC signature, its expiry and the client binding,
so a solution is only accepted from the client it was issued to and only while fresh. The
salt's nonce identifies the challenge: it is what makes a solution single-use (solves.py).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal, cast

from altcha import v1 as altcha

from scrapeguard.challenge.keys import SigningKeys

ALGORITHM: Literal["SHA-256"] = "SHA-256"
#: Submitted payloads longer than this are not decoded.
MAX_PAYLOAD_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class PowVerdict:
    passed: bool
    #: The challenge's nonce (single-use id) when the payload was well-formed and signed.
    proof_id: str | None
    detail: str


def difficulty_for(risk: float, low: float, high: float, base: int, top: int) -> int:
    """Linear from `base` at risk `low` (the challenge threshold) to `top` at `high` (block)."""
    if high <= low:
        return base
    share = min(1.0, max(0.0, (risk - low) / (high - low)))
    return round(base + (top - base) * share)


class ProofOfWork:
    def __init__(self, keys: SigningKeys) -> None:
        # A key of its own, derived from the signing key: a challenge signature can never
        # double as a clearance signature.
        self._keys = tuple(hmac.new(k, b"altcha-challenge", hashlib.sha256).hexdigest() for k in keys.keys)

    def create(self, binding: str, now: float, ttl: float, max_number: int) -> dict[str, Any]:
        """A challenge as the widget wants it (its `challengejson`): algorithm, challenge,
        maxnumber, salt, signature."""
        expires = datetime.datetime.fromtimestamp(int(now + ttl), tz=datetime.UTC)
        challenge = altcha.create_challenge(altcha.ChallengeOptions(
            algorithm=ALGORITHM, max_number=max_number, hmac_key=self._keys[0], expires=expires,
            params={"b": binding},
        ))
        data: dict[str, Any] = challenge.to_dict()
        data["maxnumber"] = data.pop("maxNumber")  # the widget's spelling
        return data

    def verify(self, payload: str, binding: str, now: float) -> PowVerdict:
        """Check a solution the widget (or any client) submitted: base64 JSON with algorithm,
        challenge, number, salt, signature."""
        if not payload or len(payload) > MAX_PAYLOAD_LENGTH:
            return PowVerdict(False, None, "no or oversized proof-of-work payload")
        try:
            data = json.loads(base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            return PowVerdict(False, None, "proof-of-work payload is not base64 JSON")
        if not isinstance(data, dict) or not isinstance(data.get("salt"), str) \
                or not isinstance(data.get("number"), int) or isinstance(data.get("number"), bool):
            return PowVerdict(False, None, "proof-of-work payload lacks salt or number")
        nonce, _, query = data["salt"].partition("?")
        params = urllib.parse.parse_qs(query)
        expires = params.get("expires", [""])[0]
        if not expires.isdigit() or int(expires) <= now:
            return PowVerdict(False, None, "proof-of-work challenge expired")
        for key in self._keys:
            ok, error = altcha.verify_solution(cast(altcha.PayloadType, data), key, check_expires=False)
            if ok:
                break
        else:
            return PowVerdict(False, None, f"proof-of-work solution is wrong ({error or 'bad signature'})")
        if params.get("b", [""]) != [binding]:
            return PowVerdict(False, nonce, "proof-of-work challenge was issued to another client")
        return PowVerdict(True, nonce, "proof of work verified")


def solve(challenge: dict[str, Any]) -> str:
    """Solve a challenge the way the widget does; returns the payload to submit. For tests,
    demos and API clients: brute force over 0..maxnumber."""
    solution = altcha.solve_challenge(challenge["challenge"], challenge["salt"],
                                         challenge["algorithm"], int(challenge["maxnumber"]))
    if solution is None:
        raise ValueError("the challenge has no solution within its maxnumber")
    payload = {"algorithm": challenge["algorithm"], "challenge": challenge["challenge"],
               "number": solution.number, "salt": challenge["salt"], "signature": challenge["signature"]}
    return base64.b64encode(json.dumps(payload).encode()).decode()
