"""The logout chain: a session opened through FranceConnect logs out through it too.

idp ends its own session first (tokens revoked, back-channel logouts queued), then sends
the browser to FranceConnect's /session/end with the ID token of the login, a state and
the registered post-logout URI; FranceConnect comes back to /federation/franceconnect/
logged-out, which finishes the portal's RP-initiated logout (its state included).
"""

from __future__ import annotations

from flask import current_app
from flask import url_for

from idp.federation import flows
from idp.federation import upstream
from idp.federation.client import UpstreamError
from idp.federation.models import FederationFlow
from idp.security import audit


def post_logout_redirect_uri() -> str:
    """The URI registered with FranceConnect for the way back (built on the issuer)."""
    return current_app.config["ISSUER"] + url_for("federation.logged_out")


def upstream_logout_url(
    id_token: str, return_to: str | None, account_id: int | None, origin: audit.Origin
) -> str | None:
    """FranceConnect's logout URL for this ID token, or None when it cannot be reached."""
    client = upstream()
    if client is None or not id_token:
        return None
    flow, state, _ = flows.open_flow(
        "logout",
        client.preset.name,
        current_app.config["FEDERATION_FLOW_LIFETIME"],
        return_to=return_to,
        with_nonce=False,
    )
    try:
        # FC accepts the ID token after it expired: it is sent as received, never refreshed.
        url = client.end_session_url(id_token, state, post_logout_redirect_uri())
    except UpstreamError as exc:
        flows.close(flow, "failed")
        audit.record(
            "federation.logout_skipped",
            account_id=account_id,
            origin=origin,
            provider=client.preset.name,
            reason=exc.reason,
        )
        return None
    audit.record(
        "federation.logout_started", account_id=account_id, origin=origin, provider=flow.provider
    )
    return url


def finish(state: str | None, origin: audit.Origin) -> FederationFlow | None:
    """FranceConnect came back: the round trip this state started, closed (None if unknown)."""
    flow = flows.by_state(state, "logout")
    if flow is not None:
        flows.close(flow)
    audit.record(
        "federation.logout_returned",
        origin=origin,
        provider=flow.provider if flow else None,
        state="ok" if flow else ("missing" if not state else "unknown"),
    )
    return flow
