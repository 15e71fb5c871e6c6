"""OpenID Connect endpoints. Views parse, call Authlib or a service, commit, respond."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.errors import InteractionRequiredError
from authlib.oidc.core.errors import LoginRequiredError
from authlib.oidc.core.errors import RequestNotSupportedError
from authlib.oidc.core.errors import RequestURINotSupportedError
from flask import Response
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from joserfc import jwt
from joserfc.errors import JoseError

from idp.auth import session as sso
from idp.extensions import csrf
from idp.extensions import db
from idp.mfa import services as mfa
from idp.oidc import backchannel
from idp.oidc import bp
from idp.oidc import claims
from idp.oidc import consent as consents
from idp.oidc.endpoints import metadata
from idp.security import audit
from idp.security import tokens

# Parameters that belong to our own interaction, never forwarded to a portal.
LOGIN_MARKER = "idp_login"


class UnmetAuthenticationRequirementsError(OAuth2Error):
    """OpenID Connect Unmet Authentication Requirements 1.0 §2: the level the portal needs
    (an essential acr, OIDC Core 5.5.1.1, or its minimum) was not reached."""

    error = "unmet_authentication_requirements"


def server():
    return current_app.extensions["idp_oauth"]


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    """OpenID Provider metadata (Discovery 1.0 §3, RFC 8414)."""
    response = jsonify(metadata())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/jwks.json")
def jwks() -> Response:
    """Public signing keys: active, next and recently retired."""
    response = jsonify(current_app.extensions["idp_keys"].public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _authorization_error(error: OAuth2Error, state: str | None = None) -> Any:
    """Redirect an error to a verified redirect_uri, else show a page (never redirect)."""
    if error.redirect_uri:
        error.state = state if state is not None else error.state
        _, _, headers = error()
        location = add_params_to_uri(
            dict(headers)["Location"], [("iss", current_app.config["ISSUER"])]
        )
        return redirect(location)
    return render_template("oidc/error.html", error=error), 400


def _interaction_params() -> dict[str, str]:
    return {k: v for k, v in request.values.items() if k not in {"csrf_token", "decision"}}


def _authorize_url(extra: dict[str, str] | None = None) -> str:
    params = _interaction_params() | (extra or {})
    return url_for("oidc.authorize") + "?" + urlencode(params)


def _send_to_login(force: bool) -> Any:
    extra = {}
    if force:
        # The login page must run even with a live session: remember when we asked,
        # in the signed Flask session, so the return trip is recognised exactly once.
        marker = tokens.new_token(12)
        session.setdefault("login_markers", {})[marker] = time.time()
        # Keep the browser's session cookie small: only the few latest markers.
        markers = session["login_markers"]
        for stale in sorted(markers, key=markers.get)[:-5]:
            markers.pop(stale)
        session.modified = True
        extra[LOGIN_MARKER] = marker
    params = {"next": _authorize_url(extra)}
    if hint := request.values.get("login_hint"):
        params["login_hint"] = hint
    return redirect(url_for("auth.login") + "?" + urlencode(params))


def _send_to_signup(client) -> Any:
    params = {k: v for k, v in _interaction_params().items() if k != "prompt"}
    prompts = [p for p in (request.values.get("prompt") or "").split() if p != "create"]
    if prompts:
        params["prompt"] = " ".join(prompts)
    back = url_for("oidc.authorize") + "?" + urlencode(params)
    journey = client.journey or current_app.config["DEFAULT_JOURNEY"]
    return redirect(url_for("enrolment.start", journey=journey, next=back))


def _fresh_login(current) -> bool:
    marker = request.values.get(LOGIN_MARKER)
    asked_at = session.get("login_markers", {}).get(marker) if marker else None
    if asked_at is None or current is None:
        return False
    # A login made before we asked (even in the same second) does not count.
    return current.auth_time.timestamp() > float(asked_at)


def _parse_claims_request(raw: str | None, redirect_uri: str) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ValueError
    except ValueError:
        raise InvalidRequestError(
            "Invalid 'claims' parameter.", redirect_uri=redirect_uri
        ) from None
    return {k: v for k, v in value.items() if k in {"id_token", "userinfo"}}


def _hint_matches(hint: str, account, client) -> bool:
    try:
        token = jwt.decode(hint, current_app.extensions["idp_keys"].verification_keyset())
    except (JoseError, ValueError):
        return False
    values = token.claims
    return values.get("iss") == current_app.config["ISSUER"] and values.get(
        "sub"
    ) == claims.subject_for(account, client)


def _validate(current):
    """Validate the authorization request; return (grant, redirect_uri) or raise."""
    grant = server().get_consent_grant(end_user=current.account if current else None)
    redirect_uri = grant.redirect_uri
    data = grant.request.payload.data
    if "request" in data:
        raise RequestNotSupportedError(redirect_uri=redirect_uri)
    if "request_uri" in data:
        raise RequestURINotSupportedError(redirect_uri=redirect_uri)
    if data.get("response_mode", "query") != "query":
        raise InvalidRequestError(
            "Only response_mode=query is supported.", redirect_uri=redirect_uri
        )
    grant.request.claims_request = _parse_claims_request(data.get("claims"), redirect_uri)
    return grant, redirect_uri


@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt
def authorize() -> Any:
    """Authorization endpoint (OIDC Core 3.1.2), by GET or POST."""
    current = sso.current_session()
    state = request.values.get("state")
    try:
        grant, redirect_uri = _validate(current)
        data = grant.request.payload.data
        prompts = set((data.get("prompt") or "").split())
        try:
            max_age = int(data["max_age"]) if data.get("max_age") else None
        except ValueError:
            raise InvalidRequestError("Invalid 'max_age'.", redirect_uri=redirect_uri) from None
        if "create" in prompts:
            # OpenID Connect "Initiating User Registration": open the portal's journey,
            # then come back here (without prompt=create) to issue the code.
            return _send_to_signup(grant.request.client)
        fresh = _fresh_login(current)
        too_old = (
            current is not None
            and max_age is not None
            and time.time() - current.auth_time.timestamp() > max_age
        )
        if current is None or ((("login" in prompts) or too_old) and not fresh):
            if "none" in prompts:
                raise LoginRequiredError(redirect_uri=redirect_uri)
            return _send_to_login(force=current is not None or "login" in prompts or too_old)
        client = grant.request.client
        hint = data.get("id_token_hint")
        if hint and "none" in prompts and not _hint_matches(hint, current.account, client):
            raise LoginRequiredError(redirect_uri=redirect_uri)
        required = mfa.required_acr(client, data)
        if not mfa.satisfies(current.acr, required):
            # The portal's minimum acr or the request wants a second factor: step-up.
            if "none" in prompts:
                raise InteractionRequiredError(redirect_uri=redirect_uri)
            if not mfa.reachable_locally(required):
                return _level_unreachable(current, required)
            return redirect(url_for("mfa.step_up", next=_authorize_url()))
        scope = grant.request.payload.scope or ""
        if client.require_consent and (
            "consent" in prompts or not consents.covers(current.account, client, scope)
        ):
            if "none" in prompts:
                raise ConsentRequiredError(redirect_uri=redirect_uri)
            return render_template(
                "oidc/consent.html",
                client=client,
                scopes=consents.describe(scope),
                action=url_for("oidc.consent") + "?" + urlencode(_interaction_params()),
            )
        return _issue_code(grant, current)
    except OAuth2Error as error:
        return _authorization_error(error, state)


def _level_unreachable(current, required: str | None) -> Any:
    """No code of idp's reaches this level (eidas3): the page offering FranceConnect+ or the
    way back to the portal, instead of a step-up."""
    from idp.mfa import views as mfa_views  # the mfa views import the auth ones

    page = mfa_views.level_unreachable(
        _authorize_url(), current.account_id, required, audit.origin_of(request)
    )
    db.session.commit()
    return page


def _issue_code(grant, current) -> Any:
    grant.request.sso_session = current
    if marker := request.values.get(LOGIN_MARKER):
        session.get("login_markers", {}).pop(marker, None)
        session.modified = True
    response = server().create_authorization_response(grant_user=current.account, grant=grant)
    audit.record(
        "authorization.code_issued",
        account_id=current.account_id,
        client_id=grant.request.client.client_id,
        origin=audit.origin_of(request),
    )
    db.session.commit()
    return response


@bp.post("/authorize/consent")
def consent() -> Any:
    """The person's answer on the consent page (CSRF-protected)."""
    current = sso.current_session()
    state = request.args.get("state")
    try:
        grant, _ = _validate(current)
        if current is None:
            return _send_to_login(force=False)
        client = grant.request.client
        required = mfa.required_acr(client, grant.request.payload.data)
        if not mfa.satisfies(current.acr, required):
            if not mfa.reachable_locally(required):
                return _level_unreachable(current, required)
            return redirect(url_for("mfa.step_up", next=_authorize_url()))
        if request.form.get("decision") != "accept":
            audit.record(
                "consent.refused",
                account_id=current.account_id,
                client_id=client.client_id,
                origin=audit.origin_of(request),
            )
            db.session.commit()
            return server().create_authorization_response(grant_user=None, grant=grant)
        consents.grant(current.account, client, grant.request.payload.scope or "")
        audit.record(
            "consent.granted",
            account_id=current.account_id,
            client_id=client.client_id,
            origin=audit.origin_of(request),
            scope=grant.request.payload.scope,
        )
        return _issue_code(grant, current)
    except OAuth2Error as error:
        return _authorization_error(error, state)


@bp.post("/authorize/unmet")
def unmet_requirements() -> Any:
    """Back to the portal from the "FranceConnect+ required" page (CSRF-protected).

    The original authorization request travels in the query, as for the consent answer, and
    is validated again by Authlib: an unknown client or a redirect_uri not registered exactly
    is a page, never a redirect. The portal then gets `unmet_authentication_requirements`
    with its state and iss (OIDC Core 5.5.1.1, conformance idea "oidcc-claims-essential").
    """
    current = sso.current_session()
    state = request.args.get("state")
    try:
        grant, redirect_uri = _validate(current)
        client = grant.request.client
        required = mfa.required_acr(client, grant.request.payload.data)
        if mfa.reachable_locally(required) or (
            current is not None and mfa.satisfies(current.acr, required)
        ):
            # Nothing out of reach (any more): the authorization goes on as usual.
            return redirect(_authorize_url())
        audit.record(
            "authorization.unmet_requirements",
            account_id=current.account_id if current else None,
            client_id=client.client_id,
            origin=audit.origin_of(request),
            required=required,
        )
        db.session.commit()
        raise UnmetAuthenticationRequirementsError(
            f"The authentication level {required} needs a FranceConnect+ login.",
            redirect_uri=redirect_uri,
        )
    except OAuth2Error as error:
        return _authorization_error(error, state)


@bp.post("/token")
@csrf.exempt
def token() -> Response:
    """Token endpoint: authorization_code, refresh_token, client_credentials."""
    response = server().create_token_response()
    db.session.commit()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo() -> Response:
    """UserInfo endpoint (OIDC Core 5.3), bearer token in header or form."""
    form_token = request.form.get("access_token") if request.method == "POST" else None
    if form_token and "Authorization" not in request.headers:
        # RFC 6750 §2.2 (form body); Authlib reads the header only (EnvironHeaders is live).
        request.environ["HTTP_AUTHORIZATION"] = f"Bearer {form_token}"
    return server().create_endpoint_response("userinfo")


@bp.post("/revoke")
@csrf.exempt
def revoke() -> Response:
    """Token revocation (RFC 7009)."""
    response = server().create_endpoint_response("revocation")
    db.session.commit()
    return response


@bp.post("/introspect")
@csrf.exempt
def introspect() -> Response:
    """Token introspection (RFC 7662)."""
    response = server().create_endpoint_response("introspection")
    response.headers["Cache-Control"] = "no-store"
    return response


def _finish_logout(validated) -> Any:
    response = server().create_endpoint_response("end_session", validated)
    db.session.commit()
    backchannel.dispatch_after_commit()
    if response is None:
        response = current_app.make_response(render_template("auth/logged_out.html"))
    sso.clear_cookie(response)
    return response


@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt
def end_session() -> Any:
    """RP-initiated logout (RP-Initiated Logout 1.0 §2)."""
    try:
        validated = server().validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return render_template("oidc/error.html", error=error), 400
    current = sso.current_session()
    hint_sid = (validated.id_token_claims or {}).get("sid")
    if current is not None and hint_sid != current.sid:
        # No hint, or a hint from another session: ask before acting (§6).
        return render_template(
            "oidc/logout_confirm.html",
            client=validated.client,
            action=url_for("oidc.end_session_confirm") + "?" + urlencode(_interaction_params()),
        )
    return _finish_logout(validated)


@bp.post("/logout/confirm")
def end_session_confirm() -> Any:
    """The person confirmed the logout on our page."""
    try:
        validated = server().validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return render_template("oidc/error.html", error=error), 400
    return _finish_logout(validated)
