"""argon2id password hashing, with rehash on login when the parameters change."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from argon2.exceptions import VerifyMismatchError
from flask import current_app

_hashers: dict[tuple[int, int, int], PasswordHasher] = {}


def hasher() -> PasswordHasher:
    """The argon2id hasher configured for this app (OWASP parameters by default)."""
    cfg = current_app.config
    key = (cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_TIME_COST"], cfg["ARGON2_PARALLELISM"])
    if key not in _hashers:
        _hashers[key] = PasswordHasher(memory_cost=key[0], time_cost=key[1], parallelism=key[2])
    return _hashers[key]


def hash_password(password: str) -> str:
    return hasher().hash(password)


def _dummy_hash() -> str:
    # Computed once per parameter set so a missing account costs one real verify.
    cache = current_app.extensions.setdefault("idp_dummy_hash", {})
    ph = hasher()
    key = (ph.memory_cost, ph.time_cost, ph.parallelism)
    if key not in cache:
        cache[key] = ph.hash("dummy password for timing equalisation")
    return cache[key]


def verify_password(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Check a password; return (ok, new_hash) where new_hash is set when a rehash is due.

    When the account has no hash, a dummy verification runs so that timing does not
    reveal whether the account exists.
    """
    ph = hasher()
    try:
        ph.verify(stored_hash or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if stored_hash is None:
        return False, None
    return True, (ph.hash(password) if ph.check_needs_rehash(stored_hash) else None)
