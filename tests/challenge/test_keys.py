"""Signing keys: from the environment, else a file, else random (and said so)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scrapeguard.challenge.keys import SigningKeyError, load_keys
from scrapeguard.policy.model import ChallengeOptions


def test_keys_from_the_environment_first_signs_all_verify() -> None:
    keys = load_keys(ChallengeOptions(), {"SCRAPEGUARD_SECRET_KEY": "new-key-0123456789, old-key-0123456789"})
    assert keys.keys == (b"new-key-0123456789", b"old-key-0123456789")
    assert keys.signing == b"new-key-0123456789" and keys.shared


def test_keys_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("file-key-0123456789abcdef\n")
    keys = load_keys(ChallengeOptions(secret_key_file=str(path)), {})
    assert keys.keys == (b"file-key-0123456789abcdef",) and keys.origin == f"file {path}"


def test_bad_keys_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="shorter than 16"):
        load_keys(ChallengeOptions(), {"SCRAPEGUARD_SECRET_KEY": "short"})
    with pytest.raises(SigningKeyError, match=r"cannot read challenge\.secret_key_file"):
        load_keys(ChallengeOptions(secret_key_file=str(tmp_path / "missing")), {})


def test_without_a_key_a_random_one_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        a = load_keys(ChallengeOptions(), {})
    b = load_keys(ChallengeOptions(), {})
    assert a.keys != b.keys and not a.shared
    assert "will not be accepted by other instances" in caplog.text


def test_a_guard_warns_of_a_random_key_only_where_one_matters(caplog: pytest.LogCaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              redis_url: str) -> None:
    """Clearances (challenges on) or a store shared with other instances need a key every process
    knows; a guard with neither (the console's own sign-in guard) signs nothing another process or
    a restart must accept, and is not warned about."""
    from scrapeguard.integrations.adapter import build_guard
    from scrapeguard.policy import load_policy_text

    monkeypatch.delenv("SCRAPEGUARD_SECRET_KEY", raising=False)
    quiet = load_policy_text("[challenge]\nenabled = false\n")
    with caplog.at_level(logging.WARNING, logger="scrapeguard.challenge.keys"):
        build_guard(quiet, "memory://", metrics=False)
        assert "no challenge signing key" not in caplog.text
        build_guard(None, "memory://", metrics=False)  # the defaults: challenges on
        assert caplog.text.count("no challenge signing key") == 1
        build_guard(quiet, redis_url, metrics=False)  # shared with other instances
        assert caplog.text.count("no challenge signing key") == 2
