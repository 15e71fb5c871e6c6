"""The second-factor page, at login and for a step-up: `/connexion/verification`.

At login, a right password opens no SSO session while a second factor is due: the signed
Flask session keeps a pending login (account, time, where to go) for ten minutes, and this
page opens the session once the factor is right. With a live session and no pending login,
the same page upgrades the session (step-up) and goes back to `next`.

A portal that needs more than idp's own factors give (eidas3: FranceConnect+ only) gets no
code page at all: `level_unreachable` offers the upstream that gives the level, or the way
back to the portal with `unmet_authentication_requirements` (see idp.oidc.views).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp import federation
from idp import notify
from idp.auth import session as sso
from idp.auth.views import _portal_of
from idp.auth.views import failed
from idp.auth.views import safe_next
from idp.extensions import db
from idp.extensions import limiter
from idp.mfa import bp
from idp.mfa import devices
from idp.mfa import services
from idp.mfa.forms import SendCodeForm
from idp.mfa.forms import VerifyForm
from idp.models import Account
from idp.models import utcnow
from idp.notify.masking import mask_recipient
from idp.security import audit

PENDING = "mfa_pending"
# What a pending second factor leads to when it is not a login: the cancel of a deletion
# (the account is not active, so no SSO session opens; see idp.account.deletion_views).
DELETION_CANCEL = "deletion_cancel"
DEVICE_COOKIE = "idp_device"
IP_LIMIT = "30 per 10 minutes"
ACCOUNT_LIMIT = "10 per 10 minutes"


# the login hook --------------------------------------------------------------
def _query_of(next_url: str | None) -> dict[str, str]:
    if not next_url or not next_url.startswith("/authorize"):
        return {}
    return {k: v[0] for k, v in parse_qs(urlsplit(next_url).query).items()}


def after_password(account: Account, next_url: str | None, origin: audit.Origin) -> Any:
    """Called after a right password: a redirect to the second factor, or None (none due).

    Due when the portal being logged into (minimum acr, acr_values, claims) wants eidas2,
    or when the account enabled an authenticator app and this browser is not remembered.
    A remembered browser only spares the account's own choice, never a portal's demand.
    When the portal wants a level no code reaches (eidas3), the "FranceConnect+ required"
    page instead, and no session.
    """
    session.pop(PENDING, None)  # a new password login replaces an unfinished one
    required = services.required_acr(_portal_of(next_url), _query_of(next_url))
    if not services.reachable_locally(required):
        # No code of idp's reaches eidas3: ask none, open no session, say what will.
        return level_unreachable(next_url, account.id, required, origin)
    if required is None:
        if services.enabled_totp(account.id) is None:
            return None
        if devices.recognised_device(account.id, request.cookies.get(DEVICE_COOKIE)):
            audit.record("mfa.device_recognised", account_id=account.id, origin=origin)
            return None
    session[PENDING] = {"account": account.id, "at": utcnow().isoformat(), "next": next_url}
    audit.record(
        "mfa.required",
        account_id=account.id,
        origin=origin,
        reason="portal" if required else "account",
    )
    return redirect(url_for("mfa.step_up"))


def _gives(upstream_name: str, required: str) -> bool:
    """The upstream's platform may answer with the required level (FranceConnect+: eidas3)."""
    client = federation.upstreams().get(upstream_name)
    return client is not None and any(
        services.satisfies(level, required) for level in client.preset.requestable
    )


def level_unreachable(
    next_url: str | None, account_id: int | None, required: str | None, origin: audit.Origin
) -> Any:
    """The page shown instead of a code when the portal needs a level idp's own factors never
    reach: the upstream buttons that give it, and a form back to the portal (audited; the
    caller commits).

    OIDC Core 5.5.1.1 (conformance idea "oidcc-claims-essential"): an essential acr that
    cannot be met is a failed authentication, told to the portal, not a dead end here.
    """
    audit.record("mfa.level_unreachable", account_id=account_id, origin=origin, required=required)
    portal = _portal_of(next_url)
    journey = (portal.journey if portal else None) or current_app.config["DEFAULT_JOURNEY"]
    buttons = [
        button
        for button in federation.login_context(next_url, journey)["upstream_buttons"]
        if _gives(button["name"], required)
    ]
    query = urlsplit(next_url).query if next_url and next_url.startswith("/authorize?") else ""
    return render_template(
        "mfa/level_unreachable.html",
        portal=portal,
        upstream_buttons=buttons,
        back_url=url_for("oidc.unmet_requirements") + "?" + query if query else None,
    ), 403


def before_deletion_cancel(account: Account, origin: audit.Origin) -> Any:
    """Called after a right password on an account being deleted: a redirect to the second
    factor when a login would ask it (an enabled app, this browser not remembered), or None.

    A portal's own demand (eidas2) is not asked here: cancelling logs into nothing, and the
    login that follows asks it."""
    session.pop(PENDING, None)
    if services.enabled_totp(account.id) is None:
        return None
    if devices.recognised_device(account.id, request.cookies.get(DEVICE_COOKIE)):
        audit.record("mfa.device_recognised", account_id=account.id, origin=origin)
        return None
    session[PENDING] = {
        "account": account.id,
        "at": utcnow().isoformat(),
        "next": None,
        "then": DELETION_CANCEL,
    }
    audit.record("mfa.required", account_id=account.id, origin=origin, reason=DELETION_CANCEL)
    return redirect(url_for("mfa.step_up"))


def _pending() -> tuple[dict[str, Any] | None, bool]:
    """The pending login, and whether one existed but is no longer valid."""
    pending = session.get(PENDING)
    if not pending:
        return None, False
    try:
        started = dt.datetime.fromisoformat(pending["at"])
    except (KeyError, TypeError, ValueError):
        started = None
    if started is None or utcnow() - started > services.PENDING_LIFETIME:
        session.pop(PENDING, None)
        return None, True
    return pending, False


def _limit_key() -> str:
    pending = session.get(PENDING)
    if pending:
        return f"mfa:{pending.get('account')}"
    current = sso.current_session()
    return f"mfa:{current.account_id}" if current else f"mfa-ip:{request.remote_addr}"


def _ended(next_url: str | None, reason: str, status: int = 403) -> Any:
    return render_template(
        "mfa/ended.html", reason=reason, login_url=url_for("auth.login", next=next_url)
    ), status


def _set_device_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        token,
        max_age=int(devices.DEVICE_LIFETIME.total_seconds()),
        httponly=True,
        secure=current_app.config["ISSUER"].startswith("https://"),
        samesite="Lax",
        path="/",
    )


def _masked(account: Account) -> dict[str, str]:
    return {
        method: mask_recipient("sms" if method == "sms" else "email", destination)
        for method, destination in services.code_destinations(account).items()
    }


@bp.route("/connexion/verification", methods=["GET", "POST"])
@limiter.limit(IP_LIMIT, methods=["POST"], deduct_when=failed)
@limiter.limit(ACCOUNT_LIMIT, methods=["POST"], key_func=_limit_key)
def step_up() -> Any:
    """Second factor: finish a pending login, or upgrade the live session to eidas2."""
    pending, expired = _pending()
    current = sso.current_session()
    if pending is not None:
        account = db.session.get(Account, pending["account"])
        next_url = safe_next(pending.get("next"))
        since = dt.datetime.fromisoformat(pending["at"])
        cancelling = pending.get("then") == DELETION_CANCEL
        # The password typed for this pending login must still be the account's one: a
        # reset, a change or a forced reset since then voids it.
        if (
            account is None
            or account.status != ("deleting" if cancelling else "active")
            or not account.password_hash
            or (account.password_set_at is not None and account.password_set_at > since)
        ):
            session.pop(PENDING, None)
            return _ended(next_url, "expired")
        required = services.required_acr(_portal_of(next_url), _query_of(next_url))
        if not cancelling and not services.reachable_locally(required):
            # A login pending from before the portal's demand was known to be out of reach.
            session.pop(PENDING, None)
            page = level_unreachable(next_url, account.id, required, audit.origin_of(request))
            db.session.commit()
            return page
    elif current is not None:
        account = current.account
        next_url = safe_next(request.args.get("next"))
        required = services.required_acr(_portal_of(next_url), _query_of(next_url))
        if services.beyond_reach(current.acr, required):
            # eidas3 comes from FranceConnect+ only: no code of idp's can reach it.
            page = level_unreachable(
                next_url, current.account_id, required, audit.origin_of(request)
            )
            db.session.commit()
            return page
        if services.session_has_second_factor(current):
            return redirect(next_url or url_for("account.overview"))
        since = max(utcnow() - services.PENDING_LIFETIME, current.created_at)
    else:
        next_url = safe_next(request.args.get("next"))
        if expired:
            return _ended(next_url, "expired")
        return redirect(url_for("auth.login", next=next_url))

    methods = services.methods_of(account)
    if not methods:
        return render_template("mfa/no_method.html", next_url=next_url)
    method = request.args.get("methode")
    method = method if method in methods else methods[0]
    form = VerifyForm()
    send_form = SendCodeForm()
    origin = audit.origin_of(request)
    here = url_for("mfa.step_up", next=None if pending else next_url, methode=method)
    error = None
    if request.method == "POST" and request.form.get("action") == "send":
        if method in ("sms", "mail") and send_form.validate_on_submit():
            try:
                issued = services.send_code(account, method, origin)
            except services.TooManyCodes:
                db.session.commit()
                error = _("Trop de codes ont été envoyés. Réessayez dans une heure.")
            else:
                minutes = int(services.CODE_LIFETIME.total_seconds() // 60)
                portal = _portal_of(next_url)
                if method == "sms":
                    notify.send_sms(
                        "mfa_code",
                        to=issued.verification.destination,
                        code=issued.secret,
                        minutes=minutes,
                    )
                else:
                    notify.send_mail(
                        "mfa_code",
                        to=issued.verification.destination,
                        code=issued.secret,
                        minutes=minutes,
                        given_name=account.given_name,
                        portal_name=portal.name if portal else None,
                    )
                db.session.commit()
                notify.dispatch_after_commit()
                return redirect(here)
    elif form.validate_on_submit():
        try:
            amr = services.verify_factor(account, method, form.code.data, origin)
        except services.FactorRefused:
            if services.failures_since(account.id, since) >= services.MAX_FAILURES:
                audit.record("mfa.too_many_failures", account_id=account.id, origin=origin)
                if pending is not None:
                    session.pop(PENDING, None)
                    db.session.commit()
                    return _ended(next_url, "failures")
                # Someone holding the session cookie is guessing: the session ends.
                sso.end_session(current, origin, reason="mfa_failures")
                db.session.commit()
                response = current_app.make_response(_ended(next_url, "failures"))
                sso.clear_cookie(response)
                return response
            db.session.commit()
            error = _("Ce code est incorrect ou n'est plus valable.")
        else:
            if pending is not None and pending.get("then") == DELETION_CANCEL:
                # No session for an account being deleted: the factor only unlocks the
                # "Annuler la suppression" page.
                from idp.account import deletion_views  # the account package imports this one

                session.pop(PENDING, None)
                deletion_views.second_factor_passed(account)
                device = None
                if form.remember.data:  # as a login would
                    device = devices.remember_device(account.id, origin.user_agent, origin)
                db.session.commit()
                response = redirect(url_for("account.cancel_deletion"))
                if device:
                    _set_device_cookie(response, device)
                return response
            if pending is not None:
                session.pop(PENDING, None)
                secret = sso.open_session(account, ["pwd", amr], services.TWO_FACTORS, origin)[1]
            else:
                secret = None
                services.upgrade_session(current, method, origin)
            device = None
            if form.remember.data:
                device = devices.remember_device(account.id, origin.user_agent, origin)
            db.session.commit()
            response = redirect(
                next_url or url_for("account.overview" if pending is None else "auth.home")
            )
            if secret:
                sso.set_cookie(response, secret)
            if device:
                _set_device_cookie(response, device)
            return response
    return render_template(
        "mfa/verify.html",
        form=form,
        send_form=send_form,
        error=error,
        mode=("login" if pending.get("then") != DELETION_CANCEL else DELETION_CANCEL)
        if pending is not None
        else "step_up",
        method=method,
        methods=methods,
        masked=_masked(account),
        code_sent=method in ("sms", "mail") and services.code_sent(account.id, method),
        next_url=None if pending else next_url,
        portal=_portal_of(next_url),
    )
