"""Upstream provider presets: what each platform signs, encrypts and guarantees.

FranceConnect v2 and FranceConnect+ differ in levels (eidas1 vs eidas2/eidas3), in
encryption (FC+ encrypts the ID token and the userinfo JWT for the service provider)
and in signing algorithms. `generic` serves other OpenID providers (Pro Santé Connect).
See shared/FRANCECONNECT.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    # DSFR button variant ("" FranceConnect, "plus" FranceConnect+, "psc" Pro Santé
    # Connect), the name shown to people and the "what is it?" page.
    button: str
    about_url: str
    brand: str = "FranceConnect"
    # Token endpoint client authentication, and whether configuration may choose basic.
    token_auth: str = "client_secret_post"  # noqa: S105 (a method name)
    token_auth_choice: bool = False

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
        brand="FranceConnect+",
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
        brand="",
        token_auth_choice=True,
    ),
    # Pro Santé Connect (Agence du numérique en santé; CPS card and e-CPS app), a Keycloak
    # realm: discovery, RS256 ID tokens, JSON userinfo (RPPS in SubjectNameID), the
    # `scope_all` scope, acr eidas1 (e-CPS / CPS). Client secret by post or basic.
    "pro-sante-connect": Preset(
        name="pro-sante-connect",
        acr_levels=EIDAS_LEVELS,
        default_acr="eidas1",
        requestable=EIDAS_LEVELS,
        scopes="openid scope_all",
        signing_algs=("RS256", "ES256", "PS256"),
        encrypted=False,
        userinfo_jwt=False,
        require_iss=False,
        request_amr=False,
        button="psc",
        about_url="https://industriels.esante.gouv.fr/produits-et-services/pro-sante-connect",
        brand="Pro Santé Connect",
        token_auth_choice=True,
    ),
}


def validate_upstream(config: dict[str, Any]) -> None:
    """Fail at start-up on an upstream setting that would make federation unsafe."""
    from idp.federation.upstreams import configured

    if config["FRANCECONNECT_PRESET"] not in PRESETS:
        raise ConfigError(
            "IDP_FRANCECONNECT_PRESET doit valoir " + ", ".join(sorted(PRESETS)) + "."
        )
    if config["FEDERATION_ENC_ALG"] not in {"RSA-OAEP-256", "RSA-OAEP"}:
        raise ConfigError("IDP_FEDERATION_ENC_ALG doit valoir RSA-OAEP-256 ou RSA-OAEP.")
    configured(config)
