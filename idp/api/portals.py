"""Portals (OIDC clients): list, register, show, change, disable, rotate secret, delete."""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list
from flask import g
from flask import jsonify
from sqlalchemy.exc import IntegrityError

from idp.admin import services
from idp.api import bp
from idp.api.auth import actor
from idp.api.auth import require
from idp.api.errors import ApiError
from idp.api.openapi import CLIENT_ID_PATTERN
from idp.api.validation import json_body
from idp.api.views import commit
from idp.api.views import origin
from idp.api.views import page
from idp.api.views import timestamp
from idp.extensions import db
from idp.oidc.clients import ADMIN_SCOPES
from idp.oidc.clients import LIFETIME_BOUNDS
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.clients import describe
from idp.oidc.models import Client

SCOPE = "admin:clients"
SETTINGS = ("logo_uri", "identifier_claims", "password_policy", *LIFETIME_BOUNDS)


def serialise(client: Client) -> dict[str, Any]:
    """A portal's registration; never its secret nor the secret's hash."""
    data = describe(client)
    data.pop("secret_hash", None)
    for name in SETTINGS:
        data[name] = getattr(client, name, None)
    data["identifier_claims"] = list(data["identifier_claims"] or [])
    data["created_at"] = timestamp(client.created_at)
    data["secret_rotated_at"] = timestamp(client.secret_rotated_at)
    return data


def _portal(client_id: str) -> Client:
    client = services.get_portal(client_id) if re.match(CLIENT_ID_PATTERN, client_id) else None
    if client is None:
        raise ApiError(404, "not_found", "Portail inconnu.")
    return client


def _within_caller_scopes(*scopes: Any) -> None:
    """Refuse to give a client, or to act on a client holding, an admin scope the caller's
    token lacks: admin:clients alone must not mint itself admin:users."""
    wanted: set[str] = set()
    for scope in scopes:
        wanted.update(scope_to_list(scope) or [] if isinstance(scope, str) else [])
    missing = sorted((wanted & set(ADMIN_SCOPES)) - set(g.get("api_scopes", ())))
    if missing:
        raise ApiError(
            403,
            "insufficient_scope",
            f"Portée insuffisante : {' '.join(missing)} est requise pour ce client.",
        )


def _refused(exc: ValueError) -> ApiError:
    db.session.rollback()
    if isinstance(exc, InvalidClientMetadata):
        return ApiError(400, "invalid_client_metadata", str(exc))
    return ApiError(400, "invalid_client_metadata", "Valeur refusée.")


def _service_fields(body: dict[str, Any]) -> dict[str, Any]:
    """API field names to the service's (grant_types is `grants` there)."""
    fields = dict(body)
    if "grant_types" in fields:
        fields["grants"] = fields.pop("grant_types")
    return fields


@bp.get("/clients")
@require(SCOPE)
def list_portals():
    """Every registered portal."""
    return page([serialise(c) for c in services.list_portals()])


@bp.post("/clients")
@require(SCOPE)
def create_portal():
    """Register a portal; its secret is in this response and nowhere else, ever."""
    fields = _service_fields(json_body("PortalCreate"))
    fields.setdefault("redirect_uris", [])
    _within_caller_scopes(fields.get("scope"))
    try:
        client, secret = services.create_portal(actor(), origin(), **fields)
        db.session.flush()
    except ValueError as exc:  # InvalidClientMetadata, or an unparsable URI
        raise _refused(exc) from None
    except IntegrityError:
        db.session.rollback()
        raise ApiError(409, "conflict", "Ce client_id existe déjà.") from None
    body = serialise(client) | {"client_secret": secret}
    commit()
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"{bp.url_prefix}/clients/{client.client_id}"
    return response


@bp.get("/clients/<client_id>")
@require(SCOPE)
def show_portal(client_id: str):
    """One portal."""
    return jsonify(serialise(_portal(client_id)))


@bp.patch("/clients/<client_id>")
@require(SCOPE)
def change_portal(client_id: str):
    """Change a registration; `disabled` also revokes (or not) the portal's tokens."""
    client = _portal(client_id)
    fields = _service_fields(json_body("PortalChange"))
    _within_caller_scopes(client.scope, fields.get("scope"))
    disabled = fields.pop("disabled", None)
    try:
        if fields:
            services.update_portal(client, actor(), origin(), **fields)
        if disabled is not None and disabled != client.disabled:
            services.set_portal_disabled(client, disabled, actor(), origin())
        db.session.flush()
    except ValueError as exc:
        raise _refused(exc) from None
    body = serialise(client)
    commit()
    return jsonify(body)


@bp.delete("/clients/<client_id>")
@require(SCOPE)
def delete_portal(client_id: str):
    """Delete a portal with its codes, tokens and consents."""
    client = _portal(client_id)
    _within_caller_scopes(client.scope)
    services.delete_portal(client, actor(), origin())
    commit()
    return "", 204


@bp.post("/clients/<client_id>/secret")
@require(SCOPE)
def rotate_secret(client_id: str):
    """A new secret, shown once; the previous one stops working at once."""
    client = _portal(client_id)
    _within_caller_scopes(client.scope)
    if client.is_public:
        raise ApiError(409, "conflict", "Un client public n'a pas de secret.")
    secret = services.rotate_portal_secret(client, actor(), origin())
    commit()
    return jsonify(client_id=client.client_id, client_secret=secret)
