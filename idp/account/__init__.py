"""Mon compte: identity, password, sessions, portals, preferences, activity, data export."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/mon-compte")

from idp.account import views  # noqa: E402,F401
