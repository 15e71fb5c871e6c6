"""Password hashes exported by the old professionals' site, checked once then forgotten.

Accepted formats (the prefix is case-insensitive, the password is UTF-8):

- ``{SSHA}`` + base64(SHA-1(password + salt) + salt): salted SHA-1 as LDAP servers store it;
  the salt is whatever follows the 20-byte digest (4 or 8 bytes usually).
- ``{SHA256}`` + 64 hexadecimal characters: unsalted SHA-256 of the password.
- ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``: Django's format, PBKDF2-HMAC-SHA256
  with the salt taken as text; the hash length gives the key length (32 bytes usually).

Anything else is refused at import. Digests are compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

# Django's own defaults go up to 1.2 million; past this a hash is a denial of service.
MAX_PBKDF2_ITERATIONS = 5_000_000

_SHA256 = re.compile(r"\{sha256\}([0-9a-f]{64})", re.IGNORECASE)
_PBKDF2 = re.compile(r"pbkdf2_sha256\$(\d{1,8})\$([^$]+)\$([A-Za-z0-9+/=]+)")


def _b64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def _ssha(stored: str) -> tuple[bytes, bytes] | None:
    if stored[:6].upper() != "{SSHA}":
        return None
    try:
        raw = _b64(stored[6:])
    except (binascii.Error, ValueError):
        return None
    return (raw[:20], raw[20:]) if len(raw) > 20 else None


def _pbkdf2(stored: str) -> tuple[int, str, bytes] | None:
    match = _PBKDF2.fullmatch(stored)
    if not match:
        return None
    iterations = int(match[1])
    try:
        digest = _b64(match[3])
    except (binascii.Error, ValueError):
        return None
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS or len(digest) < 16:
        return None
    return iterations, match[2], digest


def is_supported(stored: str) -> bool:
    """Whether stored is in one of the formats above (checked at import)."""
    return bool(_ssha(stored) or _SHA256.fullmatch(stored) or _pbkdf2(stored))


def verify(stored: str, password: str) -> bool:
    """Whether password matches the exported hash stored."""
    secret = password.encode()
    if parts := _ssha(stored):
        digest, salt = parts
        return hmac.compare_digest(hashlib.sha1(secret + salt).digest(), digest)  # noqa: S324
    if match := _SHA256.fullmatch(stored):
        expected = hashlib.sha256(secret).hexdigest()
        return hmac.compare_digest(expected, match[1].lower())
    if parts3 := _pbkdf2(stored):
        iterations, salt, digest = parts3
        computed = hashlib.pbkdf2_hmac("sha256", secret, salt.encode(), iterations, len(digest))
        return hmac.compare_digest(computed, digest)
    return False
