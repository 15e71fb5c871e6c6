"""Several upstream providers at once, and which portals each is offered on.

The default upstream is configured by the IDP_FRANCECONNECT_* settings and named
`franceconnect` (its URLs are the ones registered at FranceConnect). More come from
UPSTREAMS: a list of dicts in instance/config.py, or JSON in IDP_UPSTREAMS, e.g.

    [{"name": "franceconnect-plus", "preset": "franceconnect-plus",
      "issuer": "https://auth.franceconnect.gouv.fr/api/v2", "client_id": "…",
      "client_secret": "…", "acr": "eidas2", "journeys": ["ameli", "mon-espace-sante"]}]

An upstream is offered on the portals it names (by client id or by journey); a portal no
upstream names gets the upstreams that name none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.errors import ConfigError
from idp.federation.presets import PRESETS

DEFAULT_NAME = "franceconnect"
# A route segment: /federation/<name>/callback.
NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
# Route segments that are not upstream names.
RESERVED = {"jwks.json"}
ENTRY_KEYS = {
    "name", "preset", "issuer", "client_id", "client_secret", "scopes", "acr", "clients",
    "journeys", "token_auth",
}  # fmt: skip
TOKEN_AUTH = {"client_secret_post", "client_secret_basic"}


@dataclass(frozen=True)
class UpstreamConfig:
    """One upstream provider as configured (validated)."""

    name: str
    preset: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    acr: str | None
    clients: tuple[str, ...]
    journeys: tuple[str, ...]
    token_auth: str

    def names(self, client_id: str | None, journey: str | None) -> bool:
        """This upstream names the portal (its client id or its journey)."""
        return bool(
            (client_id and client_id in self.clients) or (journey and journey in self.journeys)
        )

    @property
    def everywhere(self) -> bool:
        return not self.clients and not self.journeys


def _words(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


def _entries(config: dict[str, Any]) -> list[dict[str, Any]]:
    raw = config.get("UPSTREAMS") or []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ConfigError("IDP_UPSTREAMS doit être une liste JSON.") from exc
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise ConfigError("UPSTREAMS doit être une liste d'objets.")
    entries = []
    if config.get("FRANCECONNECT_ISSUER"):
        entries.append(
            {
                "name": DEFAULT_NAME,
                "preset": config["FRANCECONNECT_PRESET"],
                "issuer": config["FRANCECONNECT_ISSUER"],
                "client_id": config["FRANCECONNECT_CLIENT_ID"],
                "client_secret": config["FRANCECONNECT_CLIENT_SECRET"],
                "scopes": config["FRANCECONNECT_SCOPES"],
                "acr": config["FRANCECONNECT_ACR"],
                "clients": config.get("FRANCECONNECT_CLIENTS", ""),
                "journeys": config.get("FRANCECONNECT_JOURNEYS", ""),
            }
        )
    return entries + raw


def _loopback(url: str) -> bool:
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


def _check(entry: dict[str, Any], env: str) -> UpstreamConfig:
    name = entry.get("name")

    def label(key: str) -> str:
        if name == DEFAULT_NAME:
            return f"IDP_FRANCECONNECT_{key.upper()}"
        return f"UPSTREAMS[{name!r}].{key}"

    if not isinstance(name, str) or not NAME.match(name) or name in RESERVED:
        raise ConfigError(f"UPSTREAMS[{name!r}].name doit être un nom court (a-z, 0-9, -).")
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise ConfigError(f"UPSTREAMS[{name!r}] : clés inconnues {', '.join(sorted(unknown))}.")
    preset_name = entry.get("preset") or "generic"
    if preset_name not in PRESETS:
        raise ConfigError(f"{label('preset')} doit valoir " + ", ".join(sorted(PRESETS)) + ".")
    preset = PRESETS[preset_name]
    issuer = entry.get("issuer") or ""
    if not issuer.startswith("https://") and not (
        issuer.startswith("http://") and _loopback(issuer) and env != "production"
    ):
        # The local stand-in (http on loopback) is for development only.
        raise ConfigError(f"{label('issuer')} doit être une URL https.")
    if not (entry.get("client_id") and entry.get("client_secret")):
        raise ConfigError(
            f"{label('client_id')} et {label('client_secret')} sont requis avec {label('issuer')}."
        )
    acr = entry.get("acr") or preset.default_acr
    if preset.requestable and acr not in preset.requestable:
        raise ConfigError(f"{label('acr')} doit valoir " + " ou ".join(preset.requestable) + ".")
    token_auth = entry.get("token_auth") or preset.token_auth
    if token_auth not in TOKEN_AUTH or (
        token_auth != preset.token_auth and not preset.token_auth_choice
    ):
        # FranceConnect refuses client_secret_basic.
        raise ConfigError(f"{label('token_auth')} doit valoir {preset.token_auth}.")
    return UpstreamConfig(
        name=name,
        preset=preset_name,
        issuer=issuer,
        client_id=str(entry["client_id"]),
        client_secret=str(entry["client_secret"]),
        scopes=entry.get("scopes") or preset.scopes,
        acr=acr,
        clients=_words(entry.get("clients")),
        journeys=_words(entry.get("journeys")),
        token_auth=token_auth,
    )


def configured(config: dict[str, Any]) -> list[UpstreamConfig]:
    """Every upstream provider, the default one first; ConfigError on an unsafe setting."""
    found = [_check(entry, config["ENV"]) for entry in _entries(config)]
    names = [u.name for u in found]
    if len(set(names)) != len(names):
        raise ConfigError("UPSTREAMS : deux fournisseurs portent le même nom.")
    return found


def offered(
    upstreams: list[UpstreamConfig], client_id: str | None, journey: str | None
) -> list[UpstreamConfig]:
    """The upstreams offered on a portal: those naming it, else those naming no portal."""
    named = [u for u in upstreams if u.names(client_id, journey)]
    return named or [u for u in upstreams if u.everywhere]
