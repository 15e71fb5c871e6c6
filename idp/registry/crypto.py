"""Encryption at rest of registry data (the NIR) with MultiFernet, and its lookup hash.

Key file: ``{KEYS_DIR}/data/data-keys.json``, a JSON list of Fernet keys (url-safe base64,
as ``Fernet.generate_key()`` prints them); the first encrypts, all decrypt. It is created
with mode 0600 on first use. To rotate, put a new key first and keep the old ones after it:
new values use the new key and old ones still decrypt. Losing the file loses every NIR.

It lives in a ``data/`` sub-folder because the signing key store reads every ``*.json`` of
KEYS_DIR itself as a signing key.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.fernet import MultiFernet
from flask import current_app

from idp.errors import ConfigError
from idp.security.tokens import keyed_hash

KEY_FILE = Path("data") / "data-keys.json"

_cache: dict[Path, tuple[int, MultiFernet]] = {}


def key_file() -> Path:
    return Path(current_app.config["KEYS_DIR"]) / KEY_FILE


def _create(path: Path) -> None:
    """Write a first key atomically (readers never see a half-written file)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".data-keys-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump([Fernet.generate_key().decode()], fh)
        os.chmod(tmp, 0o600)
        with contextlib.suppress(FileExistsError):  # another process created it first
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _load(path: Path) -> MultiFernet:
    try:
        keys = json.loads(path.read_text())
        if not isinstance(keys, list) or not keys:
            raise ValueError
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError):
        raise ConfigError(f"{path} : liste de clés Fernet attendue (JSON).") from None


def _fernet() -> MultiFernet:
    path = key_file()
    if not path.exists():
        _create(path)
    mtime = path.stat().st_mtime_ns
    cached = _cache.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, _load(path))
        _cache[path] = cached
    return cached[1]


def encrypt(value: str) -> str:
    """A Fernet token (text) of value under the primary data key."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """Value of a token made by encrypt() under any key of the file."""
    return _fernet().decrypt(token.encode()).decode()


def nir_hash(nir: str) -> str:
    """Lookup hash of a 15-character NIR (normalise it first)."""
    return keyed_hash(nir, "nir")


def confidential_code_hash(code: str) -> str:
    """Stored form of a professional's confidential code (spaces ignored)."""
    return keyed_hash(re.sub(r"\s", "", code), "confidential_code")
