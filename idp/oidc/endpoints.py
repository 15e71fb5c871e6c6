"""Discovery metadata and the RP-initiated logout endpoint."""

from __future__ import annotations

from typing import Any

from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import current_app
from flask import request
from flask import url_for

from idp.auth import session as sso
from idp.oidc import claims
from idp.security import audit


class EndSession(EndSessionEndpoint):
    """RP-Initiated Logout 1.0 on top of Authlib's endpoint."""

    def get_server_jwks(self):
        return current_app.extensions["idp_keys"].verification_keyset()

    def is_post_logout_redirect_uri_legitimate(self, request_, uri, client, logout_hint) -> bool:
        # Without id_token_hint, the person confirmed the logout on our own page
        # (CSRF-protected form): the registered URI may then be used.
        return request.endpoint == "oidc.end_session_confirm"

    def end_session(self, end_session_request) -> None:
        current = sso.current_session()
        if current is not None:
            sso.end_session(current, audit.origin_of(request), reason="rp_initiated")

    def create_response(self, end_session_request):
        # A FranceConnect session logs out through FranceConnect, which comes back to idp;
        # idp then redirects to the portal's validated URI (with its state).
        current = sso.current_session()
        if current is not None and current.upstream_id_token:
            upstream_url = sso.end_browser_session(
                current,
                audit.origin_of(request),
                reason="rp_initiated",
                return_to=end_session_request.redirect_uri,
            )
            if upstream_url:
                return 302, "", [("Location", upstream_url)]
        # Already ended above when the chain was tried: end_session() then finds no session.
        return super().create_response(end_session_request)


def _acr_values() -> list[str]:
    """eidas1 (password), eidas2 (a second factor, idp.mfa) and the levels the configured
    upstreams pass through (their union)."""
    from idp.federation import upstreams

    levels = ["eidas1", "eidas2"]
    for client in upstreams().values():
        levels += [level for level in client.passed_levels() if level not in levels]
    return levels


def metadata() -> dict[str, Any]:
    """The discovery document; every field describes what this server really does."""
    issuer = current_app.config["ISSUER"]
    store = current_app.extensions["idp_keys"]
    algs = sorted({k["alg"] for k in store.public_jwks()["keys"]}) or [
        current_app.config["KEY_ALG"]
    ]

    def url(endpoint: str) -> str:
        return issuer + url_for(endpoint)

    client_auth = ["client_secret_basic", "client_secret_post", "none"]
    return {
        "issuer": issuer,
        "authorization_endpoint": url("oidc.authorize"),
        "token_endpoint": url("oidc.token"),
        "userinfo_endpoint": url("oidc.userinfo"),
        "jwks_uri": url("oidc.jwks"),
        "end_session_endpoint": url("oidc.end_session"),
        "revocation_endpoint": url("oidc.revoke"),
        "introspection_endpoint": url("oidc.introspect"),
        "scopes_supported": ["openid", *claims.SCOPE_CLAIMS],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint_auth_methods_supported": client_auth[:2],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims.SUPPORTED_CLAIMS,
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": ["none", "login", "consent", "create"],
        "display_values_supported": ["page"],
        "ui_locales_supported": ["fr-FR", "en"],
        "acr_values_supported": _acr_values(),
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
    }
