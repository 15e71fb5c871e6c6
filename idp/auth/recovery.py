"""Forgotten password (email link or SMS code) and forgotten identifier pages.

Every answer is the same whether or not an account matches, and takes at least
MIN_ANSWER_SECONDS, so that neither the text, the status nor the timing tells.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _

from idp import notify
from idp.auth import bp
from idp.auth import known_devices
from idp.auth import recovery_services as services
from idp.auth.limits import typed_key
from idp.auth.limits import typed_key_anywhere
from idp.auth.recovery_forms import ForgottenIdentifierForm
from idp.auth.recovery_forms import ForgottenPasswordForm
from idp.auth.recovery_forms import NewPasswordForm
from idp.auth.recovery_forms import ResetCodeForm
from idp.auth.views import _portal_of
from idp.auth.views import safe_next
from idp.extensions import db
from idp.extensions import limiter
from idp.models import Account
from idp.models import utcnow
from idp.oidc import backchannel
from idp.registry import crypto
from idp.security import audit
from idp.security.password_policy import personal_inputs

MIN_ANSWER_SECONDS = 0.5


def _address_limit() -> str:
    """Requests per client address: a ceiling, not a budget for the people behind it."""
    return current_app.config["RECOVERY_ADDRESS_RATE_LIMIT"]


# Per typed identifier from one client network (IPv4 /24, IPv6 /48): one attacker network
# cannot spend the budget of the owner's network.
IDENTIFIER_LIMIT = "3 per 15 minutes"
# Per typed identifier whatever the network, against mail bombing: exhausting it takes 9
# networks busy all hour, and it caps the mails an identifier gets at 100 an hour.
IDENTIFIER_CEILING = "100 per hour"
CODE_LIMIT = "10 per 15 minutes"
PENDING = "recovery"  # the Flask session key: what was typed, for the SMS code page
GRANT = "recovery_grant"  # a right SMS code: the account may choose a new password


def _context() -> dict[str, Any]:
    """Where the person came from: `next`, the portal, and how its people log in."""
    from idp.enrolment.engine import get_journey  # the enrolment package imports this one

    next_url = safe_next(request.args.get("next"))
    portal = _portal_of(next_url)
    journey_name = (portal.journey if portal else None) or current_app.config["DEFAULT_JOURNEY"]
    journey = get_journey(journey_name)
    login_kind = journey.login_kind if portal and journey else "any"
    return {"next_url": next_url, "portal": portal, "login_kind": login_kind}


def _pad(started: float) -> None:
    """Answer no sooner than MIN_ANSWER_SECONDS after `started` (timing says nothing)."""
    left = MIN_ANSWER_SECONDS - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)


def _portal_name(ctx: dict[str, Any]) -> str | None:
    return ctx["portal"].name if ctx["portal"] else None


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
@limiter.limit(IDENTIFIER_LIMIT, methods=["POST"], key_func=typed_key("identifier"))
@limiter.limit(IDENTIFIER_CEILING, methods=["POST"], key_func=typed_key_anywhere("identifier"))
def forgotten_password() -> Any:
    """Ask for a reset link by email or a code by SMS."""
    ctx = _context()
    form = ForgottenPasswordForm()
    if form.validate_on_submit():
        started = time.monotonic()
        channel = form.channel.data
        sent = services.request_reset(
            form.identifier.data, ctx["login_kind"], channel, audit.origin_of(request)
        )
        if sent is not None and channel == "sms":
            notify.send_sms(
                "password_reset_code",
                to=sent.destination,
                code=sent.secret,
                minutes=int(services.CODE_LIFETIME.total_seconds() // 60),
                portal_name=_portal_name(ctx),
            )
        elif sent is not None:
            notify.send_mail(
                "password_reset",
                to=sent.destination,
                link=url_for(
                    ".reset_by_link", token=sent.secret, next=ctx["next_url"], _external=True
                ),
                given_name=sent.account.given_name,
                portal_name=_portal_name(ctx),
                minutes=int(services.LINK_LIFETIME.total_seconds() // 60),
            )
        db.session.commit()
        notify.dispatch_after_commit()
        _pad(started)
        if channel == "sms":
            # The session cookie is signed, not secret: the identifier (a NIR, maybe) is encrypted.
            session[PENDING] = {
                "identifier": crypto.encrypt(form.identifier.data),
                "kind": ctx["login_kind"],
            }
            return redirect(url_for(".reset_code", next=ctx["next_url"]))
        return render_template("auth/recovery/link_sent.html", **ctx)
    return render_template("auth/recovery/forgotten_password.html", form=form, **ctx)


@bp.route("/mot-de-passe-oublie/code", methods=["GET", "POST"])
@limiter.limit(CODE_LIMIT, methods=["POST"])
def reset_code() -> Any:
    """Type the code received by SMS (attempts are limited)."""
    ctx = _context()
    pending = session.get(PENDING)
    if not pending:
        return redirect(url_for(".forgotten_password", next=ctx["next_url"]))
    form = ResetCodeForm()
    error = None
    if form.validate_on_submit():
        started = time.monotonic()
        try:
            account = services.check_reset_code(
                crypto.decrypt(pending["identifier"]),
                pending["kind"],
                form.code.data,
                audit.origin_of(request),
            )
        except services.ResetRefused:
            db.session.commit()  # the attempt counts
            _pad(started)  # a known account's code costs an update: timing says nothing
            error = _(
                "Ce code est incorrect ou n'est plus valable. Vérifiez-le, ou demandez "
                "un nouveau code."
            )
        else:
            db.session.commit()
            session.pop(PENDING, None)
            session[GRANT] = {"account": account.id, "at": utcnow().isoformat()}
            return redirect(url_for(".reset_after_code", next=ctx["next_url"]))
    return render_template("auth/recovery/code.html", form=form, error=error, **ctx)


def _new_password_page(account: Account, form: NewPasswordForm, ctx: dict[str, Any]) -> Any:
    from idp.enrolment.passwords import personal_info
    from idp.enrolment.passwords import policy_for

    response = current_app.make_response(
        render_template(
            "auth/recovery/new_password.html",
            form=form,
            policy=policy_for(account.journey),
            user_inputs=personal_inputs(personal_info(form.enrolment)),
            **ctx,
        )
    )
    # The reset link is in the address: never send it on in a Referer header.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _refused(ctx: dict[str, Any]) -> Any:
    return render_template("auth/recovery/refused.html", **ctx), 410


def _done(account: Account, ctx: dict[str, Any]) -> Any:
    """Commit the new password, tell the person by mail, send them to the login page."""
    if account.email:
        notify.send_mail(
            "password_changed",
            to=account.email,
            given_name=account.given_name,
            portal_name=_portal_name(ctx),
            reset_url=url_for(".forgotten_password", _external=True),
        )
    db.session.commit()
    notify.dispatch_after_commit()
    backchannel.dispatch_after_commit()  # the portals of the ended sessions are told
    flash(_("Votre mot de passe a été modifié. Vous pouvez vous connecter."), "success")
    response = redirect(url_for("auth.login", next=ctx["next_url"]))
    # Whoever holds the mailbox or phone may reset: a device cookie gives them nothing more,
    # and spares them a lock a stranger takes again between the reset and the login.
    devices = known_devices.read(request.cookies.get(known_devices.COOKIE))
    known_devices.remember(response, account, devices)
    return response


@bp.route("/mot-de-passe-oublie/lien/<token>", methods=["GET", "POST"])
@limiter.limit(CODE_LIMIT, methods=["POST"])
def reset_by_link(token: str) -> Any:
    """Choose a new password from the link received by email (single use, one hour)."""
    ctx = _context()
    try:
        account = services.link_account(token)
    except services.ResetRefused:
        return _refused(ctx)
    form = NewPasswordForm(account)
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        try:
            services.consume_link(token)
        except services.ResetRefused:
            db.session.rollback()
            return _refused(ctx)
        services.reset_password(account, form.password.data, "email", origin)
        return _done(account, ctx)
    return _new_password_page(account, form, ctx)


@bp.route("/mot-de-passe-oublie/nouveau", methods=["GET", "POST"])
@limiter.limit(CODE_LIMIT, methods=["POST"])
def reset_after_code() -> Any:
    """Choose a new password after a right SMS code."""
    ctx = _context()
    grant = session.get(GRANT)
    account = db.session.get(Account, grant["account"]) if grant else None
    if not grant or not services.code_grant_valid(account, dt.datetime.fromisoformat(grant["at"])):
        session.pop(GRANT, None)
        return _refused(ctx)
    assert account is not None
    form = NewPasswordForm(account)
    if form.validate_on_submit():
        session.pop(GRANT, None)
        services.reset_password(account, form.password.data, "sms", audit.origin_of(request))
        return _done(account, ctx)
    return _new_password_page(account, form, ctx)


@bp.route("/identifiant-oublie", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
@limiter.limit(IDENTIFIER_LIMIT, methods=["POST"], key_func=typed_key("email"))
@limiter.limit(IDENTIFIER_CEILING, methods=["POST"], key_func=typed_key_anywhere("email"))
def forgotten_identifier() -> Any:
    """Receive one's login identifier at the address of the account."""
    ctx = _context()
    form = ForgottenIdentifierForm()
    if form.validate_on_submit():
        started = time.monotonic()
        origin = audit.origin_of(request)
        account = services.account_for_email(form.email.data)
        if account is not None and account.email:
            notify.send_mail(
                "identifier_reminder",
                to=account.email,
                username=account.username,
                given_name=account.given_name,
                portal_name=_portal_name(ctx),
                login_url=url_for("auth.login", next=ctx["next_url"], _external=True),
            )
            audit.record("identifier_reminder.sent", account_id=account.id, origin=origin)
        else:
            audit.record("identifier_reminder.requested", origin=origin, found=False)
        db.session.commit()
        notify.dispatch_after_commit()
        _pad(started)
        return render_template("auth/recovery/identifier_sent.html", **ctx)
    return render_template("auth/recovery/forgotten_identifier.html", form=form, **ctx)
