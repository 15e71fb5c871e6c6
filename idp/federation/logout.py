"""The logout chain: a session opened through FranceConnect logs out through it too.

idp ends its own session first (tokens revoked, back-channel logouts queued), then sends
the browser to FranceConnect's /session/end with the ID token of the login, a state and
the registered post-logout URI; FranceConnect comes back to /federation/franceconnect/
logged-out, which finishes the portal's RP-initiated logout (its state included).
"""

from __future__ import annotations

import base64
import json

from flask import current_app
from flask import url_for
from joserfc import jwe
from joserfc.errors import JoseError

from idp.federation import DEFAULT_NAME
from idp.federation import flows
from idp.federation import upstream
from idp.federation import upstream_of_issuer
from idp.federation import upstreams
from idp.federation.client import JWE_ALGORITHMS
from idp.federation.client import UpstreamClient
from idp.federation.client import UpstreamError
from idp.federation.models import FederationFlow
from idp.security import audit


def post_logout_redirect_uri(name: str) -> str:
    """The URI registered with the upstream for the way back (built on the issuer)."""
    return current_app.config["ISSUER"] + url_for("federation.logged_out", upstream=name)


def _payload_issuer(jws: str) -> str | None:
    try:
        payload = jws.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return claims.get("iss") if isinstance(claims, dict) else None


def upstream_of_token(id_token: str) -> UpstreamClient | None:
    """The upstream that issued an ID token kept at login (verified then, so its `iss` is
    trusted); an encrypted one (FC+) is decrypted with idp's own keys to read it."""
    if id_token.count(".") == 4:
        encrypted = [c for c in upstreams().values() if c.preset.encrypted and c.encryption]
        if len(encrypted) == 1:
            return encrypted[0]
        for client in encrypted:
            try:
                inner = jwe.decrypt_compact(
                    id_token, client.encryption.private_keyset(), algorithms=JWE_ALGORITHMS
                ).plaintext.decode()
            except (JoseError, ValueError):
                continue
            return upstream_of_issuer(_payload_issuer(inner)) or client
        return None
    return upstream_of_issuer(_payload_issuer(id_token)) or upstream(DEFAULT_NAME)


def upstream_logout_url(
    id_token: str, return_to: str | None, account_id: int | None, origin: audit.Origin
) -> str | None:
    """The upstream's logout URL for this ID token, or None when it cannot be reached."""
    client = upstream_of_token(id_token) if id_token else None
    if client is None:
        return None
    flow, state, _ = flows.open_flow(
        "logout",
        client.settings.name,
        current_app.config["FEDERATION_FLOW_LIFETIME"],
        return_to=return_to,
        with_nonce=False,
    )
    try:
        # FC accepts the ID token after it expired: it is sent as received, never refreshed.
        url = client.end_session_url(
            id_token, state, post_logout_redirect_uri(client.settings.name)
        )
    except UpstreamError as exc:
        flows.close(flow, "failed")
        audit.record(
            "federation.logout_skipped",
            account_id=account_id,
            origin=origin,
            provider=client.settings.name,
            reason=exc.reason,
        )
        return None
    audit.record(
        "federation.logout_started", account_id=account_id, origin=origin, provider=flow.provider
    )
    return url


def finish(state: str | None, origin: audit.Origin, provider: str) -> FederationFlow | None:
    """The upstream came back: the round trip this state started, closed (None if unknown)."""
    flow = flows.by_state(state, "logout", provider)
    if flow is not None:
        flows.close(flow)
    audit.record(
        "federation.logout_returned",
        origin=origin,
        provider=flow.provider if flow else None,
        state="ok" if flow else ("missing" if not state else "unknown"),
    )
    return flow
