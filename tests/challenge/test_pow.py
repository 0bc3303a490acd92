"""The ALTCHA proof-of-work: solutions verify only for their client, while fresh, unaltered."""

from __future__ import annotations

import base64
import json
import time

from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.challenge.keys import SigningKeys
from scrapeguard.challenge.pow import ProofOfWork, difficulty_for, solve

KEYS = SigningKeys((b"k" * 32,), "test")


def test_a_solution_passes_once_checked_and_names_its_challenge() -> None:
    pow_ = ProofOfWork(KEYS)
    now = time.time()
    challenge = pow_.create("client-a", now, 600, 2000)
    assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert challenge["algorithm"] == "SHA-256" and challenge["maxnumber"] == 2000
    verdict = pow_.verify(solve(challenge), "client-a", now)
    assert verdict.passed and verdict.proof_id == challenge["salt"].split("?")[0]


def test_wrong_client_expired_wrong_key_or_number_fail() -> None:
    pow_ = ProofOfWork(KEYS)
    now = time.time()
    challenge = pow_.create("client-a", now, 600, 2000)
    payload = solve(challenge)
    moved = pow_.verify(payload, "client-b", now)
    assert moved.detail == "proof-of-work challenge was issued to another client"
    assert pow_.verify(payload, "client-a", now + 601).detail == "proof-of-work challenge expired"
    assert not ProofOfWork(SigningKeys((b"x" * 32,), "other")).verify(payload, "client-a", now).passed
    data = json.loads(base64.b64decode(payload))
    data["number"] += 1
    assert not pow_.verify(base64.b64encode(json.dumps(data).encode()).decode(), "client-a", now).passed
    # re-binding the challenge to another client breaks its signature
    data["number"] -= 1
    data["salt"] = data["salt"].replace("b=client-a", "b=client-b")
    forged = base64.b64encode(json.dumps(data).encode()).decode()
    assert not pow_.verify(forged, "client-b", now).passed


def test_difficulty_rises_with_risk() -> None:
    assert difficulty_for(0.8, 0.8, 0.9, 50_000, 1_000_000) == 50_000
    assert difficulty_for(0.85, 0.8, 0.9, 50_000, 1_000_000) == 525_000
    assert difficulty_for(0.99, 0.8, 0.9, 50_000, 1_000_000) == 1_000_000
    assert difficulty_for(0.5, 0.8, 0.8, 50_000, 1_000_000) == 50_000


@given(st.text(max_size=600))
def test_garbage_payloads_fail_without_raising(payload: str) -> None:
    assert not ProofOfWork(KEYS).verify(payload, "client-a", time.time()).passed


@given(st.dictionaries(st.sampled_from(["algorithm", "challenge", "number", "salt", "signature", "x"]),
                       st.one_of(st.text(max_size=40), st.integers(), st.none(), st.booleans())))
def test_garbage_json_payloads_fail_without_raising(data: dict[str, object]) -> None:
    payload = base64.b64encode(json.dumps(data).encode()).decode()
    assert not ProofOfWork(KEYS).verify(payload, "client-a", time.time()).passed
