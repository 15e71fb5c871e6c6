"""Mon compte: identity, password, sessions, portals, preferences, activity, data export."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/mon-compte")

from idp.account import deletion_views  # noqa: E402,F401
from idp.account import email_change_views  # noqa: E402,F401
from idp.account import phone_change_views  # noqa: E402,F401
from idp.account import views  # noqa: E402,F401
