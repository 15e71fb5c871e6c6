"""Registering portals: validation of their metadata, secrets shown once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.claims import SCOPE_CLAIMS
from idp.oidc.claims import sector_of
from idp.oidc.models import CONFIDENTIAL_AUTH_METHODS
from idp.oidc.models import Client
from idp.security import audit
from idp.security import tokens

GRANTS = ("authorization_code", "refresh_token", "client_credentials")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Scopes of the admin API (idp.api), granted through client_credentials only.
ADMIN_SCOPES = ("admin:clients", "admin:users")


class InvalidClientMetadata(ValueError):
    """A redirect URI, scope or grant that may not be registered."""


def check_uri(uri: str) -> str:
    """https only (http allowed on loopback), absolute, no fragment, no wildcard."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise InvalidClientMetadata(f"URI refusée (mal formée) : {uri}") from None
    if "*" in uri or parts.fragment or "#" in uri:
        raise InvalidClientMetadata(f"URI refusée (joker ou fragment) : {uri}")
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return uri
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidClientMetadata(f"URI refusée (https obligatoire hors boucle locale) : {uri}")
    return uri


def _check_scope(scope: str, machine: bool = False) -> str:
    """Known scopes; the admin API's only for a confidential client_credentials client."""
    allowed = {"openid", *SCOPE_CLAIMS, *ADMIN_SCOPES}
    requested = scope_to_list(scope) or []
    unknown = [s for s in requested if s not in allowed]
    if unknown:
        raise InvalidClientMetadata(f"Portée inconnue : {' '.join(unknown)}")
    if not machine and any(s in ADMIN_SCOPES for s in requested):
        raise InvalidClientMetadata(
            "Les portées admin:clients et admin:users sont réservées aux clients "
            "confidentiels autorisés à client_credentials."
        )
    return scope


def _is_machine(public: bool, grants: list[str]) -> bool:
    return not public and "client_credentials" in grants


def _check_grants(grants: list[str], public: bool) -> list[str]:
    for grant in grants:
        if grant not in GRANTS:
            raise InvalidClientMetadata(f"Type d'autorisation inconnu : {grant}")
    if public and "client_credentials" in grants:
        raise InvalidClientMetadata("Un client public ne peut pas utiliser client_credentials.")
    return list(dict.fromkeys(grants))


def _check_min_acr(acr: str | None) -> str | None:
    """eidas1, eidas2 or eidas3 (eidas2 forces a second factor); "" or None: no minimum."""
    if acr and acr not in ("eidas1", "eidas2", "eidas3"):
        raise InvalidClientMetadata(f"Niveau acr inconnu : {acr} (eidas1, eidas2 ou eidas3)")
    return acr or None


def _check_journey(name: str | None) -> str | None:
    from idp.enrolment.engine import JOURNEYS

    if name and name not in JOURNEYS:
        raise InvalidClientMetadata(
            f"Parcours inconnu : {name} (connus : {', '.join(sorted(JOURNEYS))})"
        )
    return name or None


# Bounds of the per-portal token lifetimes, in seconds (None keeps the server's default).
LIFETIME_BOUNDS = {
    "access_token_lifetime": (60, 86_400),
    "id_token_lifetime": (60, 86_400),
    "refresh_token_lifetime": (300, 180 * 86_400),
}


def _check_lifetime(name: str, seconds: int | None) -> int | None:
    if seconds in (None, ""):
        return None
    low, high = LIFETIME_BOUNDS[name]
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        raise InvalidClientMetadata(f"Durée invalide : {seconds}") from None
    if not low <= seconds <= high:
        raise InvalidClientMetadata(f"Durée hors limites ({low} à {high} secondes) : {seconds}")
    return seconds


def _check_identifier_claims(names: list[str]) -> list[str]:
    from idp.oidc.claims import IDENTIFIER_CLAIMS

    unknown = [n for n in names if n not in IDENTIFIER_CLAIMS]
    if unknown:
        raise InvalidClientMetadata(f"Identifiant inconnu : {' '.join(unknown)}")
    return list(dict.fromkeys(names))


def _check_policy(name: str | None) -> str | None:
    from idp.security.password_policy import POLICIES

    if name and name not in POLICIES:
        raise InvalidClientMetadata(f"Politique de mot de passe inconnue : {name}")
    return name or None


def _check_auth_method(client: Client, method: str) -> str:
    if method not in {"none", *CONFIDENTIAL_AUTH_METHODS}:
        raise InvalidClientMetadata(f"Méthode d'authentification inconnue : {method}")
    if (method == "none") != client.is_public:  # noqa: S105
        raise InvalidClientMetadata(
            "Un portail public ne peut pas devenir confidentiel (ni l'inverse) : "
            "enregistrez un autre portail."
        )
    return method


def apply_settings(client: Client, changes: dict) -> None:
    """Settings edited from the admin console (logo, identifier claims, policy, lifetimes)."""
    if "logo_uri" in changes:
        uri = changes["logo_uri"]
        client.logo_uri = check_uri(uri) if uri else None
    if (names := changes.get("identifier_claims")) is not None:
        client.identifier_claims = _check_identifier_claims(names)
    if "password_policy" in changes:
        client.password_policy = _check_policy(changes["password_policy"])
    if (method := changes.get("token_endpoint_auth_method")) is not None:
        client.token_endpoint_auth_method = _check_auth_method(client, method)
    for name in LIFETIME_BOUNDS:
        if name in changes:
            setattr(client, name, _check_lifetime(name, changes[name]))


@dataclass
class Registered:
    client: Client
    secret: str | None


def create_client(
    *,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    scope: str = "openid profile email",
    public: bool = False,
    require_consent: bool = False,
    subject_type: str = "public",
    grants: list[str] | None = None,
    backchannel_logout_uri: str | None = None,
    client_id: str | None = None,
    journey: str | None = None,
    min_acr: str | None = None,
) -> Registered:
    """Register a portal; the secret is returned once and stored as a keyed hash."""
    grants = _check_grants(grants or ["authorization_code", "refresh_token"], public)
    if "authorization_code" in grants and not redirect_uris:
        raise InvalidClientMetadata("Au moins une URI de redirection est requise.")
    if subject_type not in {"public", "pairwise"}:
        raise InvalidClientMetadata("subject_type doit valoir public ou pairwise.")
    # Hex: a generated client_id never starts with '-' (read as an option by shells and CLIs).
    client_id = client_id or secrets.token_hex(16)
    if db.session.scalar(select(Client.id).where(Client.client_id == client_id)):
        raise InvalidClientMetadata(f"Le client {client_id} existe déjà.")
    client = Client(
        client_id=client_id,
        name=name,
        redirect_uris=[check_uri(u) for u in redirect_uris],
        post_logout_redirect_uris=[check_uri(u) for u in post_logout_redirect_uris or []],
        scope=_check_scope(scope, _is_machine(public, grants)),
        grant_types=grants,
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        subject_type=subject_type,
        require_consent=require_consent,
        backchannel_logout_uri=check_uri(backchannel_logout_uri)
        if backchannel_logout_uri
        else None,
        journey=_check_journey(journey),
        min_acr=_check_min_acr(min_acr),
    )
    client.sector_identifier = sector_of(client)
    secret = None if public else tokens.new_token(32)
    if secret:
        client.set_secret(secret)
    db.session.add(client)
    audit.record("client.created", client_id=client_id)
    return Registered(client, secret)


def update_client(client: Client, **changes) -> Client:
    """Apply validated changes to a portal's registration."""
    if (uris := changes.get("redirect_uris")) is not None:
        client.redirect_uris = [check_uri(u) for u in uris]
    if (uris := changes.get("post_logout_redirect_uris")) is not None:
        client.post_logout_redirect_uris = [check_uri(u) for u in uris]
    if (scope := changes.get("scope")) is not None:
        client.scope = _check_scope(scope, machine=True)  # the admin rule: checked below
    if (grants := changes.get("grants")) is not None:
        client.grant_types = _check_grants(grants, client.is_public)
    if (subject := changes.get("subject_type")) is not None:
        if subject not in {"public", "pairwise"}:
            raise InvalidClientMetadata("subject_type doit valoir public ou pairwise.")
        client.subject_type = subject
    if (consent := changes.get("require_consent")) is not None:
        client.require_consent = consent
    if (name := changes.get("name")) is not None:
        client.name = name
    if "backchannel_logout_uri" in changes:
        uri = changes["backchannel_logout_uri"]
        client.backchannel_logout_uri = check_uri(uri) if uri else None
    if "journey" in changes:
        client.journey = _check_journey(changes["journey"])
    if "min_acr" in changes:
        client.min_acr = _check_min_acr(changes["min_acr"])
    if (disabled := changes.get("disabled")) is not None:
        client.disabled = disabled
    apply_settings(client, changes)
    if "scope" in changes or "grants" in changes:
        _check_scope(client.scope, _is_machine(client.is_public, client.grant_types))
    audit.record("client.updated", client_id=client.client_id, fields=sorted(changes))
    return client


def rotate_secret(client: Client) -> str:
    if client.is_public:
        raise InvalidClientMetadata("Un client public n'a pas de secret.")
    secret = tokens.new_token(32)
    client.set_secret(secret)
    audit.record("client.secret_rotated", client_id=client.client_id)
    return secret


def get_client(client_id: str) -> Client | None:
    return db.session.scalar(select(Client).where(Client.client_id == client_id))


def describe(client: Client) -> dict:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "public": client.is_public,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "scope": client.scope,
        "grant_types": client.grant_types,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "subject_type": client.subject_type,
        "require_consent": client.require_consent,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "journey": client.journey,
        "min_acr": client.min_acr,
        "disabled": client.disabled,
        "logo_uri": client.logo_uri,
        "identifier_claims": client.identifier_claims,
        "password_policy": client.password_policy,
        "access_token_lifetime": client.access_token_lifetime,
        "refresh_token_lifetime": client.refresh_token_lifetime,
        "id_token_lifetime": client.id_token_lifetime,
    }
