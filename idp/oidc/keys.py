"""Signing keys on disk: one JSON file per key, statuses next → active → retired.

The JWKS publishes the active key, the next one (so portals cache it before it signs
anything) and keys retired less than KEY_RETENTION_DAYS ago (so tokens they signed
still verify). Files are written atomically with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from idp.errors import NoSigningKey
from idp.models import utcnow


@dataclass
class StoredKey:
    kid: str
    alg: str
    status: str
    created_at: dt.datetime
    retired_at: dt.datetime | None
    jwk: dict[str, Any]

    def public_jwk(self) -> dict[str, Any]:
        key = import_key(self.jwk)
        data = key.as_dict(private=False)
        data.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return data


def import_key(jwk: dict[str, Any]) -> RSAKey | ECKey:
    return RSAKey.import_key(jwk) if jwk["kty"] == "RSA" else ECKey.import_key(jwk)


def _new_key(alg: str, status: str) -> StoredKey:
    kid = f"{utcnow():%Y%m%d}-{secrets.token_hex(4)}"
    if alg == "RS256":
        key: RSAKey | ECKey = RSAKey.generate_key(2048, private=True)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    else:
        raise ValueError(f"unsupported algorithm {alg}")
    return StoredKey(kid, alg, status, utcnow(), None, key.as_dict(private=True))


class KeyStore:
    """The keys directory, re-read whenever its modification time changes."""

    def __init__(self, directory: str | Path, retention_days: int = 30):
        self.directory = Path(directory)
        self.retention = dt.timedelta(days=retention_days)
        self._mtime: float | None = None
        self._keys: list[StoredKey] = []
        self._signing: tuple[StoredKey, RSAKey | ECKey] | None = None
        self._jwks: dict[str, Any] = {"keys": []}

    # reading ---------------------------------------------------------------
    def all(self) -> list[StoredKey]:
        try:
            mtime = self.directory.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        if mtime != self._mtime:
            self._load()
            self._mtime = mtime
        return self._keys

    def _load(self) -> None:
        keys = []
        for path in sorted(self.directory.glob("*.json")):
            data = json.loads(path.read_text())
            keys.append(
                StoredKey(
                    kid=data["kid"],
                    alg=data["alg"],
                    status=data["status"],
                    created_at=dt.datetime.fromisoformat(data["created_at"]),
                    retired_at=dt.datetime.fromisoformat(data["retired_at"])
                    if data.get("retired_at")
                    else None,
                    jwk=data["jwk"],
                )
            )
        self._keys = keys
        active = [k for k in keys if k.status == "active"]
        self._signing = (active[-1], import_key(active[-1].jwk)) if active else None
        self._jwks = {"keys": [k.public_jwk() for k in keys if self._published(k)]}

    def _published(self, key: StoredKey) -> bool:
        if key.status in {"active", "next"}:
            return True
        return key.retired_at is not None and utcnow() - key.retired_at < self.retention

    def signing_key(self) -> tuple[StoredKey, RSAKey | ECKey]:
        self.all()
        if self._signing is None:
            raise NoSigningKey("Aucune clé de signature active : lancez `idp keys generate`.")
        return self._signing

    def public_jwks(self) -> dict[str, Any]:
        self.all()
        return self._jwks

    def verification_keyset(self) -> KeySet:
        self.all()
        return KeySet([import_key(k.jwk) for k in self._keys if self._published(k)])

    # writing ---------------------------------------------------------------
    def _write(self, key: StoredKey) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {
            "kid": key.kid,
            "alg": key.alg,
            "status": key.status,
            "created_at": key.created_at.isoformat(),
            "retired_at": key.retired_at.isoformat() if key.retired_at else None,
            "jwk": {**key.jwk, "kid": key.kid},
        }
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.directory / f"{key.kid}.json")
        self._mtime = None

    def generate(self, alg: str) -> StoredKey:
        """Create the active key if there is none, else the next key."""
        keys = self.all()
        if not any(k.status == "active" for k in keys):
            key = _new_key(alg, "active")
        elif not any(k.status == "next" for k in keys):
            key = _new_key(alg, "next")
        else:
            raise ValueError("Une clé active et une clé suivante existent déjà : utilisez rotate.")
        self._write(key)
        return key

    def rotate(self, alg: str) -> StoredKey:
        """Retire the active key, promote the next one (or a new one), prepare a new next."""
        keys = list(self.all())
        nxt = [k for k in keys if k.status == "next"]
        for key in keys:
            if key.status == "active":
                key.status, key.retired_at = "retired", utcnow()
                self._write(key)
        if nxt:
            promoted = nxt[-1]
            promoted.status = "active"
        else:
            promoted = _new_key(alg, "active")
        self._write(promoted)
        self._write(_new_key(alg, "next"))
        self.prune()
        return promoted

    def prune(self) -> list[str]:
        """Delete the private files of keys retired longer than the retention period."""
        removed = []
        for key in self.all():
            if key.status == "retired" and not self._published(key):
                (self.directory / f"{key.kid}.json").unlink(missing_ok=True)
                removed.append(key.kid)
        self._mtime = None
        return removed
