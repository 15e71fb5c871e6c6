"""The OpenID provider: discovery, authorization, tokens, userinfo, logout."""

from flask import Blueprint

bp = Blueprint("oidc", __name__)

from idp.oidc import views  # noqa: E402,F401
