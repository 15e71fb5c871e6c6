"""idp's encryption keys for FranceConnect+: FC+ encrypts ID tokens and userinfo for them.

One JSON file per RSA key in KEYS_DIR/federation/ (mode 0600, never committed). The
public parts are served at /federation/jwks.json, the URL registered with FC+. Every key
on disk decrypts; the newest is listed first. Outside production a key is created on
first use; in production run `idp federation keys generate` on one instance and share
the keys directory like the signing keys.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from idp.errors import IdpError
from idp.models import utcnow


class NoEncryptionKey(IdpError):
    """No encryption key: run `idp federation keys generate`."""


class EncryptionKeys:
    def __init__(self, keys_dir: str | Path, alg: str, create_missing: bool):
        self.directory = Path(keys_dir) / "federation"
        self.alg = alg
        self.create_missing = create_missing
        self._lock = threading.Lock()

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("enc-*.json"), reverse=True)

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(path.read_text()) for path in self._files()]

    def _ensure(self) -> list[dict[str, Any]]:
        stored = self.all()
        if not stored and self.create_missing:
            with self._lock:
                stored = self.all() or [self.generate()]
        if not stored:
            raise NoEncryptionKey(
                "Aucune clé de chiffrement : lancez `idp federation keys generate`."
            )
        return stored

    def generate(self) -> dict[str, Any]:
        """A new RSA-2048 encryption key, listed first from now on."""
        kid = f"enc-{utcnow():%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
        key = RSAKey.generate_key(2048, private=True)
        data = {
            "kid": kid,
            "alg": self.alg,
            "created_at": utcnow().isoformat(),
            "jwk": {**key.as_dict(private=True), "kid": kid},
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.directory / f"{kid}.json")
        return data

    def public_jwks(self) -> dict[str, Any]:
        keys = []
        for stored in self._ensure():
            public = RSAKey.import_key(stored["jwk"]).as_dict(private=False)
            public.update({"kid": stored["kid"], "alg": stored["alg"], "use": "enc"})
            keys.append(public)
        return {"keys": keys}

    def private_keyset(self) -> KeySet:
        return KeySet(
            [
                RSAKey.import_key(s["jwk"], parameters={"kid": s["kid"], "alg": s["alg"]})
                for s in self._ensure()
            ]
        )
