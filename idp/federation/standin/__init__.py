"""A local FranceConnect stand-in (v2 and FranceConnect+), for development, the demo and tests.

It is a separate Flask app on its own port, never part of idp and refused when
IDP_ENV=production. It behaves like FranceConnect as shared/FRANCECONNECT.md describes:
discovery, JWKS, an authorize endpoint with a French page listing test identities, a token
endpoint accepting client_secret_post only, a signed userinfo JWT (encrypted too with the
franceconnect-plus preset, for the keys at the client's jwks_uri), /session/end, and
identities that fault (HTTP 500, timeout, bad signature, wrong nonce, iss or aud, expired
ID token, too low an acr, encrypted for another key).

    python -m idp.federation.standin --port 5200 --idp http://127.0.0.1:5000
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

PRESETS = {
    # acr values each platform issues; the discovery of each.
    "franceconnect": {"acr": ("eidas1",), "algs": ("ES256", "RS256"), "encrypted": False},
    "franceconnect-plus": {"acr": ("eidas2", "eidas3"), "algs": ("ES256",), "encrypted": True},
    # Pro Santé Connect (a Keycloak realm): RS256, JSON userinfo, the `scope_all` scope.
    "pro-sante-connect": {
        "acr": ("eidas1",),
        "algs": ("RS256", "ES256"),
        "encrypted": False,
        "userinfo_json": True,
    },
}
# idp's URLs for an upstream named `name` (the default one is "franceconnect").
CALLBACK = "/federation/{name}/callback"
LOGGED_OUT = "/federation/{name}/logged-out"
ENC_JWKS = "/federation/jwks.json"


class StandinRefused(RuntimeError):
    """The stand-in is never enabled in production."""


def _signing_key(alg: str, kid: str) -> RSAKey | ECKey:
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True, parameters={"kid": kid, "alg": alg})
    return ECKey.generate_key("P-256", private=True, parameters={"kid": kid, "alg": alg})


@dataclass
class StandinState:
    """Everything the stand-in remembers, in memory (one process, development only)."""

    issuer: str
    preset: str
    clients: dict[str, dict[str, Any]]
    alg: str
    code_lifetime: int = 30
    token_lifetime: int = 60
    slow_seconds: float = 10.0
    logout_without_state: bool = False
    key: RSAKey | ECKey | None = None
    # Same kid, another key: what a forged token looks like.
    rogue_key: RSAKey | ECKey | None = None
    interactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Raw ID tokens issued (FC+ ones are encrypted for the client) → (client_id, sub).
    id_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    generation: int = 0

    def __post_init__(self) -> None:
        self.rotate_key()

    @property
    def levels(self) -> tuple[str, ...]:
        return PRESETS[self.preset]["acr"]

    @property
    def encrypted(self) -> bool:
        return PRESETS[self.preset]["encrypted"]

    def rotate_key(self) -> None:
        """A new signing key (a new kid): relying parties must fetch the JWKS again."""
        self.generation += 1
        kid = f"standin-{self.alg.lower()}-{os.urandom(4).hex()}"
        self.key = _signing_key(self.alg, kid)
        self.rogue_key = _signing_key(self.alg, kid)


def standin_config(
    idp_url: str,
    port: int,
    preset: str = "franceconnect",
    client_id: str = "idp-local",
    client_secret: str = "idp-local-secret-not-for-production",  # noqa: S107 (a dev value)
    host: str = "127.0.0.1",
    upstream: str = "franceconnect",
    **extra: Any,
) -> dict[str, Any]:
    """The stand-in's settings for one idp at `idp_url` (its callback, logout and JWKS URLs
    for the upstream idp names `upstream`)."""
    idp_url = idp_url.rstrip("/")
    return {
        "issuer": f"http://{host}:{port}/api/v2",
        "preset": preset,
        "clients": [
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [idp_url + CALLBACK.format(name=upstream)],
                "post_logout_redirect_uris": [idp_url + LOGGED_OUT.format(name=upstream)],
                "jwks_uri": idp_url + ENC_JWKS,
            }
        ],
        **extra,
    }


def create_standin_app(config: dict[str, Any]) -> Flask:
    """The stand-in app. Keys of `config`: issuer, preset, clients (client_id, client_secret,
    redirect_uris, post_logout_redirect_uris, jwks_uri), and optionally id_token_alg,
    code_lifetime, token_lifetime, slow_seconds, logout_without_state, env."""
    if (config.get("env") or os.environ.get("IDP_ENV")) == "production":
        raise StandinRefused("Le simulateur FranceConnect est refusé en production.")
    preset = config.get("preset", "franceconnect")
    if preset not in PRESETS:
        raise ValueError(f"preset inconnu : {preset}")
    alg = config.get("id_token_alg") or PRESETS[preset]["algs"][0]
    if alg not in PRESETS[preset]["algs"]:
        raise ValueError(f"{alg} n'est pas utilisé par {preset}")
    issuer = config["issuer"].rstrip("/")
    state = StandinState(
        issuer=issuer,
        preset=preset,
        clients={c["client_id"]: dict(c) for c in config.get("clients", [])},
        alg=alg,
        code_lifetime=int(config.get("code_lifetime", 30)),
        token_lifetime=int(config.get("token_lifetime", 60)),
        slow_seconds=float(config.get("slow_seconds", 10)),
        logout_without_state=bool(config.get("logout_without_state", False)),
    )
    app = Flask(__name__)
    app.config["STANDIN_ISSUER"] = issuer
    app.extensions["standin"] = state

    from idp.federation.standin import tokens  # noqa: F401 (its routes are on the blueprint)
    from idp.federation.standin.views import bp

    app.register_blueprint(bp, url_prefix=urlsplit(issuer).path or None)
    return app
