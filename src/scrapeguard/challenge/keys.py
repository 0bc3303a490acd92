"""The secret that signs challenges and clearances, shared by every instance of the guard.

From the environment variable the policy names, else from a file; several keys (comma or
whitespace separated) allow rotation: the first signs, all verify. Without any, a random key
is made for this process, and a warning says what that means.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from scrapeguard.policy.model import ChallengeOptions

log = logging.getLogger(__name__)
#: Keys shorter than this are refused: an HMAC key must not be guessable.
MIN_KEY_LENGTH = 16


class SigningKeyError(ValueError):
    """The configured key cannot be used (missing file, too short)."""


@dataclass(frozen=True, slots=True)
class SigningKeys:
    keys: tuple[bytes, ...]
    #: Where they came from, for messages: "env SCRAPEGUARD_SECRET_KEY", "file ...", "random".
    origin: str

    @property
    def signing(self) -> bytes:
        return self.keys[0]

    @property
    def shared(self) -> bool:
        return self.origin != "random"


def _split(text: str, origin: str) -> tuple[bytes, ...]:
    keys = tuple(k.encode() for k in re.split(r"[\s,]+", text.strip()) if k)
    if not keys:
        raise SigningKeyError(f"{origin} holds no key")
    short = [i for i, k in enumerate(keys) if len(k) < MIN_KEY_LENGTH]
    if short:
        raise SigningKeyError(f"{origin}: key {short[0] + 1} is shorter than {MIN_KEY_LENGTH} characters")
    return keys


def load_keys(options: ChallengeOptions, environ: dict[str, str] | None = None,
              warn_if_random: bool = True) -> SigningKeys:
    """The keys from the environment variable, else the file, else a random per-process key. A
    random key is warned about unless `warn_if_random` is off: a guard that gives no clearances and
    keeps its state in its own memory signs nothing another process or a restart must accept."""
    env = os.environ if environ is None else environ
    value = env.get(options.secret_key_env, "")
    if value.strip():
        origin = f"environment variable {options.secret_key_env}"
        return SigningKeys(_split(value, origin), origin)
    if options.secret_key_file:
        path = Path(options.secret_key_file)
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SigningKeyError(f"cannot read challenge.secret_key_file {path}: {exc}") from exc
        origin = f"file {path}"
        return SigningKeys(_split(text, origin), origin)
    if warn_if_random:
        log.warning("no challenge signing key (set %s or challenge.secret_key_file): using a random key; "
                    "clearances will not be accepted by other instances or after a restart",
                    options.secret_key_env)
    return SigningKeys((secrets.token_urlsafe(32).encode(),), "random")
