"""Upstream OpenID providers: FranceConnect (v2 and +), linking, and the logout chain."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import url_for

from idp.federation.client import UpstreamClient
from idp.federation.client import UpstreamSettings
from idp.federation.keys import EncryptionKeys
from idp.federation.presets import PRESETS

bp = Blueprint("federation", __name__)
# The route segment and audit name of the configured upstream provider.
PROVIDER = "franceconnect"


def build_upstream(config: dict[str, Any]) -> UpstreamClient | None:
    """The configured upstream provider, or None when FRANCECONNECT_ISSUER is empty."""
    if not config["FRANCECONNECT_ISSUER"]:
        return None
    preset = PRESETS[config["FRANCECONNECT_PRESET"]]
    settings = UpstreamSettings(
        name=PROVIDER,
        issuer=config["FRANCECONNECT_ISSUER"],
        client_id=config["FRANCECONNECT_CLIENT_ID"],
        client_secret=config["FRANCECONNECT_CLIENT_SECRET"],
        preset=preset,
        scopes=config["FRANCECONNECT_SCOPES"] or preset.scopes,
        acr=config["FRANCECONNECT_ACR"] or preset.default_acr,
        timeout=config["FEDERATION_TIMEOUT"],
        cache_seconds=config["FEDERATION_CACHE_SECONDS"],
    )
    return UpstreamClient(settings, encryption_keys(config) if preset.encrypted else None)


def encryption_keys(config: dict[str, Any]) -> EncryptionKeys:
    return EncryptionKeys(
        config["KEYS_DIR"],
        config["FEDERATION_ENC_ALG"],
        create_missing=config["ENV"] != "production",
    )


def upstream() -> UpstreamClient | None:
    """This app's upstream provider (None: FranceConnect is not configured)."""
    return current_app.extensions.get("idp_federation")


def login_context(next_url: str | None) -> dict[str, Any]:
    """What the login and sign-up pages need to show the FranceConnect button."""
    client = upstream()
    if client is None:
        return {"franceconnect_url": None}
    params = {"next": next_url} if next_url else {}
    return {
        "franceconnect_url": url_for("federation.start", **params),
        "franceconnect_plus": client.preset.button == "plus",
        "franceconnect_about": client.preset.about_url,
    }


def init_app(app: Flask) -> None:
    """Build the upstream client, register the routes and `idp federation`."""
    from idp.federation import link_views  # noqa: F401 (routes)
    from idp.federation import views  # noqa: F401 (routes)
    from idp.federation.cli import federation_cli

    app.extensions["idp_federation"] = build_upstream(app.config)
    app.register_blueprint(bp)
    app.cli.add_command(federation_cli)
