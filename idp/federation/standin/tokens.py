"""The stand-in's back channel and logout: token, userinfo, revocation, /session/end."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

from authlib.common.urls import add_params_to_uri
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import request

from idp.federation.standin import PRESETS
from idp.federation.standin import jose
from idp.federation.standin.identities import BY_KEY
from idp.federation.standin.identities import professional_claims
from idp.federation.standin.views import bp
from idp.federation.standin.views import claims_for
from idp.federation.standin.views import current_state
from idp.federation.standin.views import error_page
from idp.federation.standin.views import pairwise_sub


def _token_error(error: str, status: int = 400, description: str = ""):
    return jsonify(error=error, error_description=description), status


@bp.post("/token")
def token():
    """client_secret_post only (FranceConnect refuses client_secret_basic)."""
    s = current_state()
    if request.headers.get("Authorization"):
        return _token_error("invalid_client", 401, "client_secret_basic is not accepted")
    form = request.form
    client = s.clients.get(form.get("client_id", ""))
    if client is None or not secrets.compare_digest(
        form.get("client_secret", ""), client["client_secret"]
    ):
        return _token_error("invalid_client", 401, "client authentication failed")
    if form.get("grant_type") != "authorization_code":
        return _token_error("unsupported_grant_type")
    with s.lock:
        grant = s.codes.pop(form.get("code", ""), None)
    if (
        grant is None
        or grant["expires"] < time.time()
        or grant["client_id"] != client["client_id"]
        or grant["redirect_uri"] != form.get("redirect_uri")
    ):
        return _token_error("invalid_grant", 400, "code unknown, used, expired or not yours")
    identity = BY_KEY[grant["identity"]]
    if identity.fault == "token_500":
        return "<h1>Internal Server Error</h1>", 500
    if identity.fault == "token_slow":
        time.sleep(s.slow_seconds)
    now = int(time.time())
    access_token = secrets.token_urlsafe(32)
    sub = pairwise_sub(client["client_id"], identity.key)
    claims: dict[str, Any] = {
        "iss": s.issuer,
        "sub": sub,
        "aud": client["client_id"],
        "iat": now,
        "exp": now + s.token_lifetime,
        "auth_time": grant["auth_time"],
        "nonce": grant["nonce"],
        "acr": grant["acr"],
        "at_hash": _at_hash(access_token),
    }
    if grant["amr"]:
        claims["amr"] = ["pwd"] if s.preset == "franceconnect" else ["pwd", "mfa"]
    if identity.fault == "wrong_nonce":
        claims["nonce"] = secrets.token_hex(32)
    if identity.fault == "wrong_iss":
        claims["iss"] = "https://faux-franceconnect.example/api/v2"
    if identity.fault == "wrong_aud":
        claims["aud"] = "un-autre-fournisseur-de-service"
    if identity.fault == "expired":
        claims["iat"] = now - 2 * s.token_lifetime - 600
        claims["exp"] = now - 600
    if identity.fault == "low_acr":
        index = s.levels.index(grant["acr"])
        if index > 0:
            claims["acr"] = s.levels[index - 1]
        elif s.preset == "franceconnect-plus":
            claims["acr"] = "eidas1"
        else:
            claims.pop("acr")
    try:
        id_token = jose.seal(
            s,
            client,
            claims,
            rogue=identity.fault == "bad_signature",
            foreign=identity.fault == "wrong_enc_key",
        )
    except jose.ClientKeyError as exc:
        return _token_error("server_error", 500, f"client keys: {exc}")
    with s.lock:
        s.access_tokens[access_token] = {
            "client_id": client["client_id"],
            "sub": sub,
            "identity": identity.key,
            "scopes": grant["scopes"],
            "expires": time.time() + s.token_lifetime,
        }
        s.id_tokens[id_token] = (client["client_id"], sub)
    response = jsonify(
        access_token=access_token,
        token_type="Bearer",  # noqa: S106 (a token type, not a secret)
        expires_in=s.token_lifetime,
        id_token=id_token,
        scope=" ".join(sorted(grant["scopes"])),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


@bp.get("/userinfo")
def userinfo():
    """A signed JWT (application/jwt), encrypted for the client on FranceConnect+."""
    s = current_state()
    auth = request.headers.get("Authorization", "")
    grant = s.access_tokens.get(auth.removeprefix("Bearer ").strip()) if auth else None
    if grant is None or grant["expires"] < time.time():
        return _token_error("invalid_token", 401, "access token unknown or expired")
    client = s.clients[grant["client_id"]]
    identity = BY_KEY[grant["identity"]]
    now = int(time.time())
    sub = grant["sub"]
    if identity.fault == "userinfo_other_sub":
        sub = pairwise_sub(client["client_id"], "someone-else")
    claims = {
        "iss": s.issuer,
        "aud": client["client_id"],
        "sub": sub,
        "iat": now,
        "exp": now + s.token_lifetime,
        **claims_for(grant["scopes"], identity.claims),
    }
    if PRESETS[s.preset].get("userinfo_json"):
        # Pro Santé Connect answers plain JSON (Keycloak's default): no birth data, the
        # national identifier in SubjectNameID.
        return jsonify(
            {
                "sub": sub,
                **professional_claims(identity, claims_for(grant["scopes"], identity.claims)),
            }
        )
    try:
        body = jose.seal(s, client, claims)
    except jose.ClientKeyError as exc:
        return _token_error("server_error", 500, f"client keys: {exc}")
    return current_app.response_class(body, mimetype="application/jwt")


@bp.post("/token/revocation")
def revocation():
    s = current_state()
    with s.lock:
        s.access_tokens.pop(request.form.get("token", ""), None)
    return "", 200


@bp.get("/session/end")
def end_session():
    """Logout: id_token_hint (expired ones accepted), registered post_logout_redirect_uri."""
    s = current_state()
    hint = request.args.get("id_token_hint", "")
    issued = s.id_tokens.get(hint)
    if issued is None:
        own = jose.read_own(s, hint) if hint else None
        issued = (own.get("aud"), own.get("sub")) if own else None
    if issued is None:
        return error_page("id_token_hint absent ou inconnu.")
    client = s.clients.get(issued[0])
    uri = request.args.get("post_logout_redirect_uri", "")
    if client is None or uri not in client.get("post_logout_redirect_uris", []):
        return error_page(
            "post_logout_redirect_uri non enregistrée pour ce fournisseur de service."
        )
    state = request.args.get("state")
    params = [("state", state)] if state and not s.logout_without_state else []
    return redirect(add_params_to_uri(uri, params) if params else uri, 303)
