"""FranceConnect round trips: start, callback (verify, then log in or hand over), logout, keys."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask import abort
from flask import current_app
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.auth import session as sso
from idp.auth.views import safe_next
from idp.extensions import db
from idp.federation import bp
from idp.federation import encryption_keys
from idp.federation import flows
from idp.federation import logout as upstream_logout
from idp.federation import pivot
from idp.federation import services
from idp.federation import upstream
from idp.federation import upstream_name
from idp.federation import upstreams
from idp.federation.client import UpstreamClient
from idp.federation.client import UpstreamError
from idp.federation.forms import ConfirmForm
from idp.federation.models import FederationFlow
from idp.models import Account
from idp.oidc import backchannel
from idp.oidc.server import query_client
from idp.security import audit
from idp.security import tokens

# Flask session keys: states this browser started (login CSRF), the continuation token,
# and the address a confirmation link was sent to (shown once on the next page).
STATES = "federation_states"
CONTINUATION = "federation_flow"
SENT_TO = "federation_sent_to"
# Upstream failures that are the provider's (502) rather than a refused answer (400).
UPSTREAM_DOWN = {"unreachable", "timeout", "upstream_error"}
# Mon compte's flash categories (confirmation, refusal) and the section to come back to.
ACCOUNT_DONE = "account"
ACCOUNT_REFUSED = "account_error"
ACCOUNT_SECTION = "franceconnect"


def client_or_404() -> UpstreamClient:
    client = upstream()
    if client is None:
        abort(404)
    return client


def _redirect_uri() -> str:
    # Built on the issuer, not the request's host: it must match the registration exactly.
    return current_app.config["ISSUER"] + url_for("federation.callback")


def _bind(state: str) -> None:
    """Remember in the signed session cookie that this browser started this round trip."""
    started = [h for h in session.get(STATES, []) if isinstance(h, str)][-4:]
    session[STATES] = [*started, tokens.sha256(state)]


def _bound(state: str | None) -> bool:
    return bool(state) and tokens.sha256(state) in session.get(STATES, [])


def _unbind(state: str | None) -> None:
    if state:
        session[STATES] = [h for h in session.get(STATES, []) if h != tokens.sha256(state)]


def other_ways(next_url: str | None) -> dict[str, Any]:
    """Links to the other ways in: password login and the portal's sign-up journey."""
    client_id = None
    if next_url and next_url.startswith("/authorize"):
        client_id = parse_qs(urlsplit(next_url).query).get("client_id", [None])[0]
    portal = query_client(client_id) if client_id else None
    journey = (portal.journey if portal else None) or current_app.config["DEFAULT_JOURNEY"]
    params = {"next": next_url} if next_url else {}
    return {
        "portal": portal,
        "login_url": url_for("auth.login", **params),
        "signup_url": url_for("enrolment.start", journey=journey, **params),
    }


def reason_page(reason: str, next_url: str | None, status: int = 200) -> tuple[str, int]:
    return render_template("federation/error.html", reason=reason, **other_ways(next_url)), status


def _failure(exc: UpstreamError, next_url: str | None, origin: audit.Origin) -> tuple[str, int]:
    """Every failed round trip: audited, a French page with the other ways in, no change."""
    audit.record(
        "federation.failed",
        origin=origin,
        provider=upstream_name(),
        reason=exc.reason,
        detail=exc.detail,
    )
    db.session.commit()
    status = 200 if exc.reason == "cancelled" else 502 if exc.reason in UPSTREAM_DOWN else 400
    return reason_page(exc.reason, next_url, status)


def log_in(account: Account, verified: services.Verified, next_url: str | None) -> Response:
    origin = audit.origin_of(request)
    row, secret = sso.open_session(account, verified.amr, verified.acr, origin)
    # Kept for the logout chain (FranceConnect's /session/end wants it as id_token_hint).
    row.upstream_id_token = verified.id_token
    session.pop(CONTINUATION, None)
    db.session.commit()
    response = redirect(next_url or url_for("auth.home"))
    sso.set_cookie(response, secret)
    return response


@bp.get("/federation/<upstream>/start")
def start() -> Any:
    """Send the browser to FranceConnect (state and nonce of 64 hex, acr_values: the level
    configured, or the one the portal being logged into needs when higher)."""
    client = client_or_404()
    next_url = safe_next(request.args.get("next"))
    origin = audit.origin_of(request)
    acr = client.acr_for(_level_needed(next_url))
    flows.purge_expired()
    flow, state, nonce = flows.open_flow(
        "login",
        client.settings.name,
        current_app.config["FEDERATION_FLOW_LIFETIME"],
        return_to=next_url,
        acr=acr,
    )
    try:
        url = client.authorization_url(_redirect_uri(), state, nonce, acr)
    except UpstreamError as exc:
        flows.close(flow, "failed")
        return _failure(exc, next_url, origin)
    _bind(state)
    audit.record("federation.started", origin=origin, provider=upstream_name(), acr=acr)
    db.session.commit()
    return redirect(url)


@bp.post("/federation/<upstream>/relier-mon-compte")
def start_link() -> Any:
    """From Mon compte: a round trip in "link" mode for the logged-in account."""
    client = client_or_404()
    current = sso.current_session()
    if current is None:
        return redirect(url_for("auth.login", next=url_for("account.overview")))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    from idp.account.views import step_up_if_needed  # the account package imports this one

    # A new lasting way into the account: the session must have passed a second factor.
    if (step_up := step_up_if_needed(current, _account_url())) is not None:
        return step_up
    origin = audit.origin_of(request)
    flows.purge_expired()
    flow, state, nonce = flows.open_flow(
        "link",
        client.settings.name,
        current_app.config["FEDERATION_FLOW_LIFETIME"],
        return_to=url_for("account.overview"),
        acr=client.settings.acr,
    )
    flow.candidate_id = current.account_id
    try:
        url = client.authorization_url(_redirect_uri(), state, nonce, client.settings.acr)
    except UpstreamError as exc:
        flows.close(flow, "failed")
        return _link_failure(exc, current.account_id, origin)
    _bind(state)
    audit.record(
        "federation.started",
        account_id=current.account_id,
        origin=origin,
        provider=upstream_name(),
        acr=client.settings.acr,
        purpose="link",
    )
    db.session.commit()
    return redirect(url)


def _level_needed(next_url: str | None) -> str | None:
    """The acr the portal of an authorization request in `next_url` needs (its minimum, an
    essential acr claim), or None."""
    if not next_url or not next_url.startswith("/authorize?"):
        return None
    from idp.mfa.services import required_acr  # the mfa package imports this one

    query = {k: v[0] for k, v in parse_qs(urlsplit(next_url).query).items()}
    return required_acr(query_client(query.get("client_id", "")), query)


def _brand_name() -> str:
    client = upstream()
    return (client.preset.brand or client.settings.name) if client else "FranceConnect"


def _account_url() -> str:
    return url_for("account.overview") + "#" + ACCOUNT_SECTION


def _to_account() -> Response:
    return redirect(_account_url())


def _link_failure(exc: UpstreamError, account_id: int | None, origin: audit.Origin) -> Response:
    """A failed round trip started from Mon compte: audited, nothing linked, back there."""
    audit.record(
        "federation.failed",
        account_id=account_id,
        origin=origin,
        provider=upstream_name(),
        reason=exc.reason,
        detail=exc.detail,
        purpose="link",
    )
    db.session.commit()
    brand = _brand_name()
    if exc.reason == "cancelled":
        message = _("La liaison avec %(brand)s a été annulée. Rien n'a été modifié.", brand=brand)
    elif exc.reason in UPSTREAM_DOWN:
        message = _(
            "%(brand)s ne répond pas pour le moment : votre compte n'a pas été relié. "
            "Réessayez dans quelques minutes.",
            brand=brand,
        )
    else:
        message = _(
            "La réponse de %(brand)s n'a pas pu être vérifiée : votre compte n'a pas été "
            "relié. Rien n'a été modifié.",
            brand=brand,
        )
    flash(message, ACCOUNT_REFUSED)
    return _to_account()


def _finish_link(client: UpstreamClient, flow: FederationFlow, state: str | None) -> Any:
    """Back from a "link" round trip: link the verified identity to the logged-in account,
    unless it is already another account's (the person already proved this account)."""
    origin = audit.origin_of(request)
    account_id = flow.candidate_id
    try:
        verified = services.verify_callback(client, flow, request.args, _redirect_uri())
    except UpstreamError as exc:
        flows.close(flow, "failed")
        _unbind(state)
        return _link_failure(exc, account_id, origin)
    _unbind(state)
    current = sso.current_session()
    if current is None or current.account_id != account_id:
        # Logged out, or another account, meanwhile: nothing is linked.
        flows.close(flow, "failed")
        audit.record(
            "federation.failed",
            account_id=account_id,
            origin=origin,
            provider=upstream_name(),
            reason="session_changed",
            purpose="link",
        )
        db.session.commit()
        return reason_page("expired", None, 410)
    account = current.account
    existing = services.identity_of(verified.issuer, verified.subject)
    if existing is not None and existing.account_id != account.id:
        audit.record(
            "federation.link_conflict",
            account_id=account.id,
            origin=origin,
            provider=verified.provider,
        )
        flows.close(flow, "failed")
        db.session.commit()
        flash(
            _(
                "Cette identité %(brand)s est déjà reliée à un autre compte : elle n'a pas "
                "été reliée au vôtre.",
                brand=_brand_name(),
            ),
            ACCOUNT_REFUSED,
        )
        return _to_account()
    mismatch = pivot.differences(account, verified.claims)
    if mismatch:
        # Never overwrite an identity with another one: the FranceConnect identity may be
        # a relative's (shared devices, shared emails). Nothing changes; the person is told
        # which fields differ and what to do.
        audit.record(
            "federation.link_mismatch",
            account_id=account.id,
            origin=origin,
            provider=upstream_name(),
            fields=mismatch,
        )
        flows.close(flow, "failed")
        db.session.commit()
        return render_template(
            "federation/link_mismatch.html",
            fields=mismatch,
            account=account,
            identity=verified.claims,
            brand=client.preset.brand,
        ), 409
    if existing is None:
        services.link(verified, account, origin)
    elif existing.account_id == account.id:
        # Already linked: the certified fields are refreshed all the same.
        services.login_linked(existing, verified, origin)
    flows.close(flow)
    db.session.commit()
    flash(_("Votre compte est maintenant relié à %(brand)s.", brand=_brand_name()), ACCOUNT_DONE)
    return _to_account()


@bp.get("/federation/<upstream>/callback")
def callback() -> Any:
    """FranceConnect's answer: verify everything, then log in, offer a link, or sign up
    (or, for a round trip started from Mon compte, link the logged-in account)."""
    client = client_or_404()
    origin = audit.origin_of(request)
    state = request.args.get("state")
    # A state started with another upstream is refused here (mix-up, RFC 9207 §1).
    name = client.settings.name
    flow = flows.by_state(state, "login", name) if _bound(state) else None
    if flow is None and _bound(state):
        linking = flows.by_state(state, "link", name)
        if linking is not None:
            return _finish_link(client, linking, state)
    next_url = flow.return_to if flow else None
    try:
        verified = services.verify_callback(client, flow, request.args, _redirect_uri())
    except UpstreamError as exc:
        if flow is not None:
            flows.close(flow, "failed")
        _unbind(state)
        return _failure(exc, next_url, origin)
    _unbind(state)
    outcome = services.resolve(verified, origin)
    if outcome.kind == "login":
        account = services.login_linked(outcome.identity, verified, origin)
        flows.close(flow)
        return log_in(account, verified, next_url)
    if outcome.kind in ("ambiguous", "unavailable", "mismatch"):
        flows.close(flow, "failed")
        db.session.commit()
        return reason_page(outcome.kind, next_url, 403 if outcome.kind == "unavailable" else 409)
    services.keep(flow, verified)
    flow.candidate_id = outcome.account.id if outcome.kind == "link" else None
    session[CONTINUATION] = flows.continue_flow(
        flow, current_app.config["FEDERATION_FLOW_LIFETIME"]
    )
    db.session.commit()
    return redirect(url_for(".link" if outcome.kind == "link" else ".signup"))


@bp.get("/federation/<upstream>/logged-out")
def logged_out() -> Any:
    """Back from FranceConnect's logout: finish the portal's logout (its state included)."""
    client_or_404()
    origin = audit.origin_of(request)
    flow = upstream_logout.finish(request.args.get("state"), origin, upstream_name())
    # The session normally ended before leaving; without a state it still must end here.
    current = sso.current_session()
    if current is not None:
        sso.end_session(current, origin, reason="upstream_logout")
    db.session.commit()
    backchannel.dispatch_after_commit()
    if flow is not None and flow.return_to:
        response = redirect(flow.return_to)
    else:
        response = current_app.make_response(render_template("auth/logged_out.html"))
    sso.clear_cookie(response)
    return response


@bp.get("/federation/jwks.json")
def jwks() -> Any:
    """idp's public encryption keys (registered with FranceConnect+ as our JWKS URL)."""
    if not any(c.preset.encrypted for c in upstreams().values()):
        abort(404)
    response = jsonify(encryption_keys(current_app.config).public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
