"""Random secrets and their stored forms: SHA-256 for tokens, keyed HMAC for secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random string carrying nbytes * 8 bits."""
    return secrets.token_urlsafe(nbytes)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _key(purpose: str) -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"idp:{purpose}".encode(), hashlib.sha256).digest()


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 under a key derived from the secret key for one purpose."""
    return hmac.new(_key(purpose), value.encode(), hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)
