"""Login, logout, the SSO session and account recovery."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from idp.auth import recovery  # noqa: E402,F401
from idp.auth import views  # noqa: E402,F401
