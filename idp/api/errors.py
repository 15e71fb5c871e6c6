"""JSON errors of the admin API: {"error", "error_description"}, never HTML, never a 500 page."""

from __future__ import annotations

import logging

from flask import Response
from flask import jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Codes for HTTP errors raised by Flask or Werkzeug (routing, method, size…).
HTTP_ERRORS = {
    400: ("invalid_request", "Requête invalide."),
    401: ("invalid_token", "Jeton d'accès absent ou invalide."),
    403: ("insufficient_scope", "Portée insuffisante."),
    404: ("not_found", "Ressource inconnue."),
    405: ("method_not_allowed", "Méthode non autorisée pour cette ressource."),
    406: ("not_acceptable", "Seul application/json est servi."),
    409: ("conflict", "Conflit avec l'état de la ressource."),
    413: ("request_too_large", "Requête trop volumineuse."),
    415: ("unsupported_media_type", "Corps JSON attendu (application/json)."),
    429: ("slow_down", "Trop de requêtes : réessayez plus tard."),
    503: ("temporarily_unavailable", "Service momentanément indisponible."),
}


class ApiError(Exception):
    """An error answered as JSON with its status and optional headers."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}


def error_response(status: int, error: str, description: str, headers=None) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.error, exc.description, exc.headers)


def from_http_exception(exc: HTTPException) -> Response:
    """A Werkzeug error (404, 405 with its Allow header, 413…) as JSON."""
    status = exc.code or 500
    error, description = HTTP_ERRORS.get(status, ("server_error", "Erreur interne."))
    if status >= 500 and status not in HTTP_ERRORS:
        status = 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() in {"allow", "retry-after"}}
    return error_response(status, error, description, headers)


def for_status(status: int) -> Response:
    """The JSON error for a bare status (from the app-wide error handlers)."""
    error, description = HTTP_ERRORS.get(status, ("server_error", "Erreur interne."))
    return error_response(status, error, description)


def from_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error in the admin API", exc_info=exc)
    return error_response(500, "server_error", "Erreur interne.")
