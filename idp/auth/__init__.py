"""Login, logout and the SSO session."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from idp.auth import views  # noqa: E402,F401
