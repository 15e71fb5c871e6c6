"""Bearer authentication of the admin API (RFC 6750) with client_credentials tokens.

A token is accepted when idp issued it (same lookup as /userinfo: the SHA-256 of the token,
opaque or JWT alike), it is neither expired nor revoked, it was issued by client_credentials
(no person behind it: a token from the authorization code flow is refused even if it carries
an admin scope), its client still exists, is enabled and is still registered for the scope.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list
from flask import g
from flask import request
from sqlalchemy import select

from idp.api.errors import ApiError
from idp.extensions import db
from idp.oidc.models import Client
from idp.oidc.models import Token
from idp.oidc.server import query_client
from idp.security import tokens

REALM = "idp-admin"


def _unauthorized(description: str, error: bool = True) -> ApiError:
    # RFC 6750 §3.1: without any credentials the challenge carries no error code.
    challenge = f'Bearer realm="{REALM}"'
    if error:
        challenge += ', error="invalid_token"'
    return ApiError(401, "invalid_token", description, {"WWW-Authenticate": challenge})


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if not header:
        raise _unauthorized("Jeton d'accès manquant (Authorization: Bearer).", error=False)
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 4096:
        raise _unauthorized("En-tête Authorization invalide : Bearer <jeton> attendu.")
    return value


def authenticate(scope: str) -> Client:
    """The API client behind the request's bearer token, allowed `scope`; else ApiError."""
    row = db.session.scalar(
        select(Token).where(Token.access_token_hash == tokens.sha256(_bearer()))
    )
    if row is None or row.is_revoked() or row.is_expired():
        raise _unauthorized("Jeton d'accès inconnu, expiré ou révoqué.")
    if row.account_id is not None:
        raise _unauthorized("Jeton d'une personne : un jeton client_credentials est exigé.")
    client = query_client(row.client_id)
    if client is None or client.is_public or "client_credentials" not in client.grant_types:
        raise _unauthorized("Le client de ce jeton n'est plus autorisé.")
    granted = set(scope_to_list(row.scope) or []) & set(scope_to_list(client.scope) or [])
    if scope not in granted:
        raise ApiError(
            403,
            "insufficient_scope",
            f"Portée insuffisante : {scope} est requise.",
            {
                "WWW-Authenticate": (
                    f'Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}"'
                )
            },
        )
    g.api_scopes = granted
    return client


def require(scope: str) -> Callable:
    """Decorator: the view runs only for a client_credentials token holding `scope`."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.api_client = authenticate(scope)
            return view(*args, **kwargs)

        wrapper.required_scope = scope
        return wrapper

    return decorator


def actor() -> str:
    """The actor recorded in audit events: the API client's id."""
    return g.api_client.client_id
