"""Upstream OpenID providers: FranceConnect (v2 and +), Pro Santé Connect, linking, logout.

Several upstreams may be configured at once (see upstreams.py); each has its own routes
under /federation/<name>/ (the default one is `franceconnect`, whose URLs are registered
at FranceConnect). Inside a federation request, `g.upstream` names the upstream of the
URL and `url_for` fills it in for the other federation routes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import g
from flask import url_for

from idp.federation.client import UpstreamClient
from idp.federation.client import UpstreamSettings
from idp.federation.keys import EncryptionKeys
from idp.federation.presets import PRESETS
from idp.federation.upstreams import DEFAULT_NAME
from idp.federation.upstreams import UpstreamConfig
from idp.federation.upstreams import configured
from idp.federation.upstreams import offered

bp = Blueprint("federation", __name__)
# The route segment and audit name of the default upstream provider.
PROVIDER = DEFAULT_NAME


def _client(upstream: UpstreamConfig, config: dict[str, Any]) -> UpstreamClient:
    preset = PRESETS[upstream.preset]
    settings = UpstreamSettings(
        name=upstream.name,
        issuer=upstream.issuer,
        client_id=upstream.client_id,
        client_secret=upstream.client_secret,
        preset=preset,
        scopes=upstream.scopes,
        acr=upstream.acr,
        timeout=config["FEDERATION_TIMEOUT"],
        cache_seconds=config["FEDERATION_CACHE_SECONDS"],
        token_auth=upstream.token_auth,
    )
    return UpstreamClient(settings, encryption_keys(config) if preset.encrypted else None)


def build_upstreams(config: dict[str, Any]) -> dict[str, UpstreamClient]:
    """Every configured upstream provider by name, the default one first."""
    return {u.name: _client(u, config) for u in configured(config)}


def build_upstream(config: dict[str, Any]) -> UpstreamClient | None:
    """The default upstream provider, or None when none is configured."""
    return next(iter(build_upstreams(config).values()), None)


def encryption_keys(config: dict[str, Any]) -> EncryptionKeys:
    return EncryptionKeys(
        config["KEYS_DIR"],
        config["FEDERATION_ENC_ALG"],
        create_missing=config["ENV"] != "production",
    )


def upstreams() -> dict[str, UpstreamClient]:
    """This app's upstream providers by name."""
    return current_app.extensions.get("idp_upstreams", {})


def upstream(name: str | None = None) -> UpstreamClient | None:
    """The named upstream, or the current request's, or the default one (None: not configured)."""
    found = upstreams()
    if name is None:
        name = g.get("upstream")
    if name is not None:
        return found.get(name)
    return next(iter(found.values()), None)


def upstream_name() -> str:
    """The name of the current request's upstream (audit events, flows)."""
    return g.get("upstream") or PROVIDER


def upstream_of_issuer(issuer: str | None) -> UpstreamClient | None:
    return next((c for c in upstreams().values() if c.settings.issuer == issuer), None)


def _portal_of(next_url: str | None) -> tuple[str | None, str | None]:
    """The client id and journey of the portal a login continues to, if any."""
    if not next_url or not next_url.startswith("/authorize"):
        return None, None
    client_id = parse_qs(urlsplit(next_url).query).get("client_id", [None])[0]
    if not client_id:
        return None, None
    from idp.oidc.server import query_client

    portal = query_client(client_id)
    return (client_id, portal.journey) if portal else (None, None)


def offered_upstreams(next_url: str | None, journey: str | None = None) -> list[UpstreamClient]:
    """The upstreams offered on the portal a login continues to (or on a journey)."""
    client_id, portal_journey = _portal_of(next_url)
    found = upstreams()
    chosen = offered(
        current_app.extensions.get("idp_upstream_configs", []),
        client_id,
        portal_journey or journey,
    )
    return [found[u.name] for u in chosen]


def login_context(next_url: str | None, journey: str | None = None) -> dict[str, Any]:
    """What the login and sign-up pages need to show the upstream buttons of this portal."""
    params = {"next": next_url} if next_url else {}
    buttons = [
        {
            "name": client.settings.name,
            "url": url_for("federation.start", upstream=client.settings.name, **params),
            "variant": client.preset.button,
            "brand": client.preset.brand or client.settings.name,
            "about": client.preset.about_url,
        }
        for client in offered_upstreams(next_url, journey)
    ]
    if not buttons:
        return {"franceconnect_url": None, "upstream_buttons": []}
    first = buttons[0]
    return {
        "franceconnect_url": first["url"],
        "franceconnect_plus": first["variant"] == "plus",
        "franceconnect_about": first["about"],
        "upstream_buttons": buttons,
    }


@bp.context_processor
def _brand() -> dict[str, Any]:
    """The name of the upstream the federation pages are about (FranceConnect+, …)."""
    client = upstream()
    return {"upstream_brand": (client.preset.brand or client.settings.name) if client else None}


@bp.url_value_preprocessor
def _pull_upstream(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """/federation/<upstream>/…: an unknown upstream is a 404."""
    if values and "upstream" in values:
        name = values.pop("upstream")
        if name not in upstreams():
            abort(404)
        g.upstream = name


@bp.url_defaults
def _fill_upstream(endpoint: str, values: dict[str, Any]) -> None:
    if "upstream" in values or not current_app.url_map.is_endpoint_expecting(endpoint, "upstream"):
        return
    client = upstream()
    values["upstream"] = client.settings.name if client else DEFAULT_NAME


def init_app(app: Flask) -> None:
    """Build the upstream clients, register the routes and `idp federation`."""
    from idp.federation import link_views  # noqa: F401 (routes)
    from idp.federation import views  # noqa: F401 (routes)
    from idp.federation.cli import federation_cli

    configs = configured(app.config)
    app.extensions["idp_upstream_configs"] = configs
    app.extensions["idp_upstreams"] = {u.name: _client(u, app.config) for u in configs}
    # The default upstream (kept for callers that know only one).
    app.extensions["idp_federation"] = next(iter(app.extensions["idp_upstreams"].values()), None)
    app.register_blueprint(bp)
    app.cli.add_command(federation_cli)
