"""The OpenAPI 3.0 description of the admin API, written as data.

The same schemas validate request bodies (idp.api.validation), so the document and the
server cannot drift apart; a test checks that every route is documented and vice versa.
"""

from __future__ import annotations

from typing import Any

from idp.oidc.clients import ADMIN_SCOPES
from idp.oidc.clients import GRANTS
from idp.oidc.clients import LIFETIME_BOUNDS

PREFIX = "/api/admin"
CLIENT_ID_PATTERN = r"^[A-Za-z0-9._:~-]{1,64}$"
SUB_PATTERN = r"^[A-Za-z0-9._:~-]{1,64}$"
ACTIONS = (
    "resend-activation",
    "unlock",
    "disable",
    "enable",
    "force-password-reset",
    "revoke-sessions",
)
DECISIONS = ("accepted", "rejected")
MAX_LIMIT = 200
MAX_OFFSET = 100_000


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _uri(nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "format": "uri", "minLength": 1, "maxLength": 500}
    if nullable:
        schema["nullable"] = True
    return schema


def _uris() -> dict[str, Any]:
    return {"type": "array", "items": _uri(), "maxItems": 20}


def _nullable_enum(values: list[str], max_length: int = 64) -> dict[str, Any]:
    return {"type": "string", "enum": values, "nullable": True, "maxLength": max_length}


def _portal_fields() -> dict[str, dict[str, Any]]:
    """Fields a portal's registration may set (creation and change)."""
    from idp.enrolment.engine import JOURNEYS
    from idp.federation.presets import EIDAS_LEVELS
    from idp.oidc.claims import IDENTIFIER_CLAIMS
    from idp.security.password_policy import POLICIES

    fields: dict[str, dict[str, Any]] = {
        "name": {"type": "string", "minLength": 1, "maxLength": 150},
        "redirect_uris": _uris(),
        "post_logout_redirect_uris": _uris(),
        "scope": {
            "type": "string",
            "maxLength": 500,
            "description": "Portées séparées par des espaces ; admin:clients et admin:users "
            "réservées aux clients confidentiels autorisés à client_credentials.",
        },
        "require_consent": {"type": "boolean"},
        "subject_type": {"type": "string", "enum": ["public", "pairwise"]},
        "grant_types": {
            "type": "array",
            "items": {"type": "string", "enum": list(GRANTS)},
            "minItems": 1,
            "maxItems": 3,
        },
        "backchannel_logout_uri": _uri(nullable=True),
        "journey": _nullable_enum(sorted(JOURNEYS)),
        "logo_uri": _uri(nullable=True),
        "identifier_claims": {
            "type": "array",
            "items": {"type": "string", "enum": list(IDENTIFIER_CLAIMS)},
            "maxItems": len(IDENTIFIER_CLAIMS),
        },
        "password_policy": _nullable_enum(sorted(POLICIES)),
        "min_acr": _nullable_enum(list(EIDAS_LEVELS)),
    }
    for name, (low, high) in LIFETIME_BOUNDS.items():
        fields[name] = {"type": "integer", "minimum": low, "maximum": high, "nullable": True}
    return fields


def _schemas() -> dict[str, Any]:
    portal_fields = _portal_fields()
    string = {"type": "string"}
    nullable_string = {"type": "string", "nullable": True}
    date_time = {"type": "string", "format": "date-time"}
    nullable_date_time = {"type": "string", "format": "date-time", "nullable": True}
    event = {
        "type": "object",
        "required": ["id", "created_at", "event", "sub", "client_id", "ip", "details"],
        "properties": {
            "id": {"type": "integer"},
            "created_at": date_time,
            "event": string,
            "sub": nullable_string,
            "client_id": nullable_string,
            "ip": nullable_string,
            "details": {"type": "object"},
        },
    }
    person = {
        "type": "object",
        "required": ["sub", "status", "email", "username", "given_name", "family_name"],
        "properties": {
            "sub": string,
            "status": string,
            "email": nullable_string,
            "username": nullable_string,
            "given_name": nullable_string,
            "family_name": nullable_string,
            "usage_name": nullable_string,
            "review_status": nullable_string,
            "journey": nullable_string,
            "created_at": date_time,
        },
    }
    portal = {
        "type": "object",
        "required": ["client_id", "name", "public", "scope", "grant_types", "disabled"],
        "properties": {
            "client_id": string,
            "name": string,
            "public": {"type": "boolean"},
            "redirect_uris": {"type": "array", "items": string},
            "post_logout_redirect_uris": {"type": "array", "items": string},
            "scope": string,
            "grant_types": {"type": "array", "items": string},
            "token_endpoint_auth_method": string,
            "subject_type": string,
            "require_consent": {"type": "boolean"},
            "backchannel_logout_uri": nullable_string,
            "journey": nullable_string,
            "disabled": {"type": "boolean"},
            "logo_uri": nullable_string,
            "identifier_claims": {"type": "array", "items": string},
            "password_policy": nullable_string,
            "min_acr": nullable_string,
            **{name: {"type": "integer", "nullable": True} for name in LIFETIME_BOUNDS},
            "created_at": date_time,
            "secret_rotated_at": nullable_date_time,
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error", "error_description"],
            "properties": {"error": string, "error_description": string},
        },
        "PortalCreate": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "client_id": {"type": "string", "pattern": CLIENT_ID_PATTERN},
                "public": {"type": "boolean"},
                **portal_fields,
            },
        },
        "PortalChange": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {**portal_fields, "disabled": {"type": "boolean"}},
        },
        "Portal": portal,
        "PortalWithSecret": {
            "allOf": [
                portal,
                {
                    "type": "object",
                    "required": ["client_secret"],
                    "properties": {
                        "client_secret": {
                            "type": "string",
                            "nullable": True,
                            "description": "Montré une seule fois ; null pour un client public.",
                        }
                    },
                },
            ]
        },
        "Secret": {
            "type": "object",
            "required": ["client_id", "client_secret"],
            "properties": {"client_id": string, "client_secret": string},
        },
        "PortalList": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": portal}},
        },
        "Person": person,
        "PersonDetail": {
            "allOf": [
                person,
                {
                    "type": "object",
                    "required": ["locked", "has_secret_answer", "history"],
                    "properties": {
                        "locked": {"type": "boolean", "description": "Bloqué après des échecs."},
                        "email_verified": {"type": "boolean"},
                        "phone_verified": {"type": "boolean"},
                        "has_password": {"type": "boolean"},
                        "has_secret_answer": {"type": "boolean"},
                        "secret_question": nullable_string,
                        "history": {"type": "array", "items": event},
                    },
                },
            ]
        },
        "PersonList": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": person}},
        },
        "ActionResult": {
            "type": "object",
            "required": ["sub", "action", "status"],
            "properties": {
                "sub": string,
                "action": {"type": "string", "enum": list(ACTIONS)},
                "status": string,
                "mailed": {"type": "boolean"},
                "sessions_ended": {"type": "integer"},
            },
        },
        "ReviewDecision": {
            "type": "object",
            "required": ["decision"],
            "additionalProperties": False,
            "properties": {
                "decision": {"type": "string", "enum": list(DECISIONS)},
                "reason": {
                    "type": "string",
                    "maxLength": 1000,
                    "description": "Obligatoire pour un refus ; envoyée à la personne.",
                },
            },
        },
        "ReviewResult": {
            "type": "object",
            "required": ["sub", "review_status", "status"],
            "properties": {"sub": string, "review_status": string, "status": string},
        },
        "SecretAnswer": {
            "type": "object",
            "required": ["answer"],
            "additionalProperties": False,
            "properties": {"answer": {"type": "string", "minLength": 1, "maxLength": 200}},
        },
        "SecretAnswerResult": {
            "type": "object",
            "required": ["match"],
            "properties": {"match": {"type": "boolean"}},
        },
        "AuditEvent": event,
        "AuditEventPage": {
            "type": "object",
            "required": ["items", "limit", "offset"],
            "properties": {
                "items": {"type": "array", "items": event},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
            },
        },
    }


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }


ERRORS = {
    "400": _error("Requête invalide (message en français)."),
    "401": _error("Jeton absent, invalide, expiré ou révoqué."),
    "403": _error("Portée insuffisante."),
}


def _ok(description: str, schema: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": _ref(schema)}},
        }
    }


def _operation(
    summary: str,
    scope: str,
    responses: dict[str, Any],
    *,
    body: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
    found: bool = False,
    refusable: bool = False,
    throttled: bool = False,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"oauth2": [scope]}],
        "responses": {**responses, **ERRORS},
    }
    if found:
        operation["responses"]["404"] = _error("Inconnu.")
    if refusable:
        operation["responses"]["409"] = _error("Action impossible dans l'état actuel.")
    if throttled:
        operation["responses"]["429"] = _error("Trop d'essais : réessayez plus tard.")
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
        operation["responses"]["415"] = _error("Corps JSON attendu.")
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path_param(name: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _paths() -> dict[str, Any]:
    clients, users = ADMIN_SCOPES
    client_id = _path_param("client_id", CLIENT_ID_PATTERN)
    sub = _path_param("sub", SUB_PATTERN)
    action = {
        "name": "action",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(ACTIONS)},
    }
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}
    text = {"type": "string", "maxLength": 200}
    return {
        f"{PREFIX}/openapi.json": {
            "get": {
                "summary": "Ce document.",
                "security": [],
                "responses": {"200": {"description": "Le document OpenAPI."}},
            }
        },
        f"{PREFIX}/clients": {
            "get": _operation("Lister les portails.", clients, _ok("Les portails.", "PortalList")),
            "post": _operation(
                "Enregistrer un portail (le secret n'est montré qu'ici).",
                clients,
                _ok("Portail enregistré.", "PortalWithSecret", "201"),
                body="PortalCreate",
            ),
        },
        f"{PREFIX}/clients/{{client_id}}": {
            "parameters": [client_id],
            "get": _operation("Un portail.", clients, _ok("Le portail.", "Portal"), found=True),
            "patch": _operation(
                "Modifier un portail (disabled: true le désactive et révoque ses jetons).",
                clients,
                _ok("Le portail modifié.", "Portal"),
                body="PortalChange",
                found=True,
            ),
            "delete": _operation(
                "Supprimer un portail, ses codes, jetons et consentements.",
                clients,
                {"204": {"description": "Supprimé."}},
                found=True,
            ),
        },
        f"{PREFIX}/clients/{{client_id}}/secret": {
            "parameters": [client_id],
            "post": _operation(
                "Renouveler le secret (l'ancien cesse aussitôt de fonctionner).",
                clients,
                _ok("Le nouveau secret, montré une seule fois.", "Secret"),
                found=True,
                refusable=True,
            ),
        },
        f"{PREFIX}/users": {
            "get": _operation(
                "Chercher des personnes (nom, courriel, identifiant de connexion, ou "
                "identifiant NIR/INE/FINESS/SIRET/RNA exact).",
                users,
                _ok("Les personnes trouvées.", "PersonList"),
                parameters=[
                    _query("q", text, "Au moins 2 caractères."),
                    _query("limit", limit, "Nombre maximal de résultats."),
                ],
            ),
        },
        f"{PREFIX}/users/{{sub}}": {
            "parameters": [sub],
            "get": _operation(
                "Une personne : état et derniers événements.",
                users,
                _ok("La personne.", "PersonDetail"),
                found=True,
            ),
        },
        f"{PREFIX}/users/{{sub}}/actions/{{action}}": {
            "parameters": [sub, action],
            "post": _operation(
                "Une action d'assistance sur une personne.",
                users,
                _ok("Action faite.", "ActionResult"),
                found=True,
                refusable=True,
            ),
        },
        f"{PREFIX}/users/{{sub}}/secret-answer/check": {
            "parameters": [sub],
            "post": _operation(
                "Comparer une réponse à la question secrète (5 essais faux par heure).",
                users,
                _ok("Résultat de la comparaison.", "SecretAnswerResult"),
                body="SecretAnswer",
                found=True,
                refusable=True,
                throttled=True,
            ),
        },
        f"{PREFIX}/reviews": {
            "get": _operation(
                "Inscriptions en attente de revue, les plus anciennes d'abord.",
                users,
                _ok("La file.", "PersonList"),
            ),
        },
        f"{PREFIX}/reviews/{{sub}}": {
            "parameters": [sub],
            "post": _operation(
                "Accepter ou refuser une inscription (motif obligatoire pour un refus).",
                users,
                _ok("Décision enregistrée.", "ReviewResult"),
                body="ReviewDecision",
                found=True,
                refusable=True,
            ),
        },
        f"{PREFIX}/audit-events": {
            "get": _operation(
                "Journal d'audit, du plus récent au plus ancien.",
                users,
                _ok("Une page d'événements.", "AuditEventPage"),
                parameters=[
                    _query("sub", {"type": "string", "pattern": SUB_PATTERN}, "Personne."),
                    _query("client_id", {"type": "string", "maxLength": 64}, "Portail."),
                    _query("event", {"type": "string", "maxLength": 64}, "Type exact."),
                    _query("since", {"type": "string", "format": "date-time"}, "Depuis."),
                    _query("until", {"type": "string", "format": "date-time"}, "Jusqu'à."),
                    _query("limit", limit, "Taille de la page."),
                    _query(
                        "offset",
                        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
                        "Décalage.",
                    ),
                ],
            ),
        },
    }


def document(token_url: str) -> dict[str, Any]:
    """The OpenAPI document; `token_url` is this server's token endpoint."""
    clients, users = ADMIN_SCOPES
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "idp — API d'administration",
            "version": "1.0.0",
            "description": "Portails et personnes, comme la console. Jeton d'accès obtenu "
            "par client_credentials auprès de /token, par un client confidentiel dont les "
            "portées enregistrées comprennent admin:clients et/ou admin:users. Erreurs : "
            '{"error", "error_description"}.',
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": token_url,
                            "scopes": {
                                clients: "Gérer les portails.",
                                users: "Assister les personnes, lire le journal d'audit.",
                            },
                        }
                    },
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Le même jeton d'accès, dans Authorization: Bearer.",
                },
            },
        },
    }


def component(name: str) -> dict[str, Any]:
    """One schema of the document (for request validation)."""
    return _schemas()[name]
