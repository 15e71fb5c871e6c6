"""Upstream provider presets: what each platform signs, encrypts and guarantees.

FranceConnect v2 and FranceConnect+ differ in levels (eidas1 vs eidas2/eidas3), in
encryption (FC+ encrypts the ID token and the userinfo JWT for the service provider)
and in signing algorithms. `generic` serves other OpenID providers (Pro Santé Connect).
See shared/FRANCECONNECT.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.errors import ConfigError

# eIDAS levels, lowest first (FranceConnect's acr values).
EIDAS_LEVELS = ("eidas1", "eidas2", "eidas3")
# The pivot identity and a contact email: what linking and account creation need.
PIVOT_SCOPES = (
    "openid given_name family_name preferred_username birthdate gender birthplace "
    "birthcountry email"
)


@dataclass(frozen=True)
class Preset:
    name: str
    # Levels this platform issues, lowest first; empty: acr compared by equality.
    acr_levels: tuple[str, ...]
    default_acr: str | None
    # Levels idp may put in acr_values; empty: any.
    requestable: tuple[str, ...]
    scopes: str
    # JWS algorithms accepted on the ID token and the userinfo JWT (never HS*, never none).
    signing_algs: tuple[str, ...]
    # ID token and userinfo arrive as JWE for idp's encryption keys.
    encrypted: bool
    # Userinfo must be a signed JWT (application/jwt); otherwise JSON is accepted too.
    userinfo_jwt: bool
    # The callback must carry RFC 9207 `iss`.
    require_iss: bool
    # Ask for `amr` in the ID token (claims parameter).
    request_amr: bool
    # DSFR button variant ("" or "plus") and the "what is it?" page.
    button: str
    about_url: str

    def acr_satisfies(self, got: str | None, wanted: str | None) -> bool:
        """`got` is at least `wanted` (a missing or unknown acr never is)."""
        if wanted is None:
            return True
        if not got:
            return False
        if self.acr_levels:
            if got not in self.acr_levels or wanted not in self.acr_levels:
                return False
            return self.acr_levels.index(got) >= self.acr_levels.index(wanted)
        return got == wanted


PRESETS: dict[str, Preset] = {
    "franceconnect": Preset(
        name="franceconnect",
        acr_levels=EIDAS_LEVELS,
        default_acr="eidas1",
        requestable=("eidas1",),
        scopes=PIVOT_SCOPES,
        signing_algs=("ES256", "RS256"),
        encrypted=False,
        userinfo_jwt=True,
        require_iss=True,
        request_amr=True,
        button="",
        about_url="https://franceconnect.gouv.fr/",
    ),
    "franceconnect-plus": Preset(
        name="franceconnect-plus",
        acr_levels=EIDAS_LEVELS,
        # Health services (PGSSI-S): eIDAS substantiel or higher from 2026.
        default_acr="eidas2",
        requestable=("eidas2", "eidas3"),
        scopes=PIVOT_SCOPES,
        signing_algs=("ES256",),
        encrypted=True,
        userinfo_jwt=True,
        require_iss=True,
        request_amr=True,
        button="plus",
        about_url="https://franceconnect.gouv.fr/france-connect-plus",
    ),
    "generic": Preset(
        name="generic",
        acr_levels=(),
        default_acr=None,
        requestable=(),
        scopes="openid profile email",
        signing_algs=("ES256", "RS256", "PS256"),
        encrypted=False,
        userinfo_jwt=False,
        require_iss=False,
        request_amr=False,
        button="",
        about_url="",
    ),
}


def _loopback(url: str) -> bool:
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


def validate_upstream(config: dict[str, Any]) -> None:
    """Fail at start-up on an upstream setting that would make FranceConnect unsafe."""
    if config["FRANCECONNECT_PRESET"] not in PRESETS:
        raise ConfigError(
            "IDP_FRANCECONNECT_PRESET doit valoir " + ", ".join(sorted(PRESETS)) + "."
        )
    if config["FEDERATION_ENC_ALG"] not in {"RSA-OAEP-256", "RSA-OAEP"}:
        raise ConfigError("IDP_FEDERATION_ENC_ALG doit valoir RSA-OAEP-256 ou RSA-OAEP.")
    issuer = config["FRANCECONNECT_ISSUER"]
    if not issuer:
        return
    if not (config["FRANCECONNECT_CLIENT_ID"] and config["FRANCECONNECT_CLIENT_SECRET"]):
        raise ConfigError(
            "IDP_FRANCECONNECT_CLIENT_ID et IDP_FRANCECONNECT_CLIENT_SECRET sont requis "
            "avec IDP_FRANCECONNECT_ISSUER."
        )
    if not issuer.startswith("https://") and not (
        issuer.startswith("http://") and _loopback(issuer) and config["ENV"] != "production"
    ):
        # The local stand-in (http on loopback) is for development only.
        raise ConfigError("IDP_FRANCECONNECT_ISSUER doit être une URL https.")
    preset = PRESETS[config["FRANCECONNECT_PRESET"]]
    acr = config["FRANCECONNECT_ACR"] or preset.default_acr
    if preset.requestable and acr not in preset.requestable:
        raise ConfigError(
            "IDP_FRANCECONNECT_ACR doit valoir " + " ou ".join(preset.requestable) + "."
        )
