"""One error page for every HTTP error; OAuth endpoints keep their JSON errors."""

from __future__ import annotations

import logging

from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import Flask
from flask import abort
from flask import jsonify
from flask import render_template
from flask import request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError

from idp.errors import NoSigningKey

log = logging.getLogger(__name__)
# The admin API answers its own JSON errors, routing ones (404, 405) included.
API_PATH = "/api/"
JSON_PATHS = ("/token", "/userinfo", "/revoke", "/introspect", "/.well-known", "/jwks.json")
# The paths whose bodies are not our pages' forms.
FORM_FREE_PATHS = (API_PATH, *JSON_PATHS)


def _render(code: int, kind: str):
    if request.path.startswith(API_PATH):
        from idp.api.errors import for_status

        return for_status(code)
    if request.path.startswith(JSON_PATHS):
        error = "invalid_request" if code < 500 else "server_error"
        if code == 429:
            error = "slow_down"
        return jsonify(error=error), code
    return render_template("errors/error.html", code=code, kind=kind), code


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_json_on_forms() -> None:
        """Our pages' forms post form-encoded bodies. Given JSON, Flask-WTF would hand its
        numbers, lists and objects to fields that expect text, and an absurdly nested body
        overflows the parser: both a 500. The admin API and the OAuth endpoints read their own
        bodies."""
        if request.method in ("GET", "HEAD") or not request.is_json:
            return
        if not request.path.startswith(FORM_FREE_PATHS):
            abort(400)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _render(400, "csrf")

    @app.errorhandler(InsecureTransportError)
    def insecure_transport(exc: InsecureTransportError):
        # Authlib raises (rather than answers) on plain http to a host other than localhost
        # (RFC 6749 §3.2 requires TLS): an invalid_request, not a 500.
        return _render(400, "http")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith(API_PATH):
            from idp.api.errors import from_http_exception

            return from_http_exception(exc)
        return _render(exc.code or 500, "http")

    @app.errorhandler(NoSigningKey)
    def no_key(exc: NoSigningKey):
        log.error("no active signing key: run `idp keys generate`")
        return _render(503, "http")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error", exc_info=exc)
        return _render(InternalServerError.code, "http")
