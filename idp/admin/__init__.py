"""Admin and helpdesk console (`/admin`): portals, people, audit log, dashboard."""

from __future__ import annotations

from flask import Blueprint
from flask import Flask

bp = Blueprint("admin", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    """Register the console's blueprint."""
    from idp.admin import role_views  # noqa: F401 (routes)
    from idp.admin import views  # noqa: F401 (routes)

    app.register_blueprint(bp)
