"""The JSON admin API (/api/admin): portals, people, reviews, audit log.

Bearer tokens from the client_credentials grant, scoped admin:clients / admin:users; no
cookies, hence no CSRF. Described by the OpenAPI document at /api/admin/openapi.json.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Flask
from werkzeug.exceptions import HTTPException

from idp.api import errors
from idp.api.openapi import PREFIX

bp = Blueprint("api", __name__, url_prefix=PREFIX)


@bp.errorhandler(errors.ApiError)
def _api_error(exc: errors.ApiError):
    return errors.from_api_error(exc)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return errors.from_http_exception(exc)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return errors.from_http_exception(exc)
    return errors.from_unexpected(exc)


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the blueprint, exempt from CSRF (bearer tokens, no cookies)."""
    from idp.extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)


from idp.api import events  # noqa: E402,F401
from idp.api import people  # noqa: E402,F401
from idp.api import portals  # noqa: E402,F401
from idp.api import views  # noqa: E402,F401
