"""Registering portals: validation of their metadata, secrets shown once."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.claims import SCOPE_CLAIMS
from idp.oidc.claims import sector_of
from idp.oidc.models import Client
from idp.security import audit
from idp.security import tokens

GRANTS = ("authorization_code", "refresh_token", "client_credentials")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class InvalidClientMetadata(ValueError):
    """A redirect URI, scope or grant that may not be registered."""


def check_uri(uri: str) -> str:
    """https only (http allowed on loopback), absolute, no fragment, no wildcard."""
    parts = urlsplit(uri)
    if "*" in uri or parts.fragment or "#" in uri:
        raise InvalidClientMetadata(f"URI refusée (joker ou fragment) : {uri}")
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return uri
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidClientMetadata(f"URI refusée (https obligatoire hors boucle locale) : {uri}")
    return uri


def _check_scope(scope: str) -> str:
    allowed = {"openid", *SCOPE_CLAIMS}
    unknown = [s for s in scope_to_list(scope) or [] if s not in allowed]
    if unknown:
        raise InvalidClientMetadata(f"Portée inconnue : {' '.join(unknown)}")
    return scope


def _check_grants(grants: list[str], public: bool) -> list[str]:
    for grant in grants:
        if grant not in GRANTS:
            raise InvalidClientMetadata(f"Type d'autorisation inconnu : {grant}")
    if public and "client_credentials" in grants:
        raise InvalidClientMetadata("Un client public ne peut pas utiliser client_credentials.")
    return list(dict.fromkeys(grants))


def _check_journey(name: str | None) -> str | None:
    from idp.enrolment.engine import JOURNEYS

    if name and name not in JOURNEYS:
        raise InvalidClientMetadata(
            f"Parcours inconnu : {name} (connus : {', '.join(sorted(JOURNEYS))})"
        )
    return name or None


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
) -> Registered:
    """Register a portal; the secret is returned once and stored as a keyed hash."""
    grants = _check_grants(grants or ["authorization_code", "refresh_token"], public)
    if "authorization_code" in grants and not redirect_uris:
        raise InvalidClientMetadata("Au moins une URI de redirection est requise.")
    if subject_type not in {"public", "pairwise"}:
        raise InvalidClientMetadata("subject_type doit valoir public ou pairwise.")
    client_id = client_id or tokens.new_token(16)
    if db.session.scalar(select(Client.id).where(Client.client_id == client_id)):
        raise InvalidClientMetadata(f"Le client {client_id} existe déjà.")
    client = Client(
        client_id=client_id,
        name=name,
        redirect_uris=[check_uri(u) for u in redirect_uris],
        post_logout_redirect_uris=[check_uri(u) for u in post_logout_redirect_uris or []],
        scope=_check_scope(scope),
        grant_types=grants,
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        subject_type=subject_type,
        require_consent=require_consent,
        backchannel_logout_uri=check_uri(backchannel_logout_uri)
        if backchannel_logout_uri
        else None,
        journey=_check_journey(journey),
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
        client.scope = _check_scope(scope)
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
    if (disabled := changes.get("disabled")) is not None:
        client.disabled = disabled
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
        "disabled": client.disabled,
    }
