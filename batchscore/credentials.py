"""Passwords (argon2id hashes) and API tokens (random, stored only as a SHA-256 digest).

A token has 256 bits of entropy, so a fast digest is enough to store it: unlike a password it
cannot be guessed from a dictionary, and a fast lookup by digest keeps every request cheap.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

#: argon2id parameter sets by name. A hash records its own parameters, so verifying costs what
#: hashing it did, whatever the setting is now. "cheapest" is for test suites only: the config
#: cannot choose it (Settings.password_hashing).
HASHERS = {
    "rfc9106-low-memory": PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY),
    "cheapest": PasswordHasher.from_parameters(profiles.CHEAPEST),
}
_verifier = HASHERS["rfc9106-low-memory"]
TOKEN_PREFIX = "bs_"  # lets secret scanners and people recognise a batchscore token
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str, hashing: str = "rfc9106-low-memory") -> str:
    return HASHERS[hashing].hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _verifier.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A fresh API token, shown to its owner once and never stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
