"""Activation views: choosing the channel, the SMS code, the email link, resending."""

from __future__ import annotations

from typing import Any

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf import FlaskForm

from idp import notify
from idp.account import email_change
from idp.account.email_change_views import link_lifetime
from idp.account.email_change_views import mail_confirmation
from idp.auth import session as sso
from idp.enrolment import bp
from idp.enrolment import engine
from idp.enrolment import services
from idp.enrolment import validators as v
from idp.enrolment.engine import Journey
from idp.enrolment.models import Enrolment
from idp.enrolment.views import SENDS_PER_SIGN_UP
from idp.enrolment.views import CodeForm
from idp.enrolment.views import _activate
from idp.enrolment.views import _awaiting
from idp.enrolment.views import _enrolment_key
from idp.enrolment.views import _page
from idp.enrolment.views import _portal_name
from idp.enrolment.views import _send_code
from idp.enrolment.views import _send_link
from idp.enrolment.views import address_limit
from idp.enrolment.views import already_activated
from idp.enrolment.views import claim_activation
from idp.extensions import db
from idp.extensions import limiter
from idp.models import Account
from idp.models import utcnow
from idp.security import audit
from idp.security import tokens
from idp.security import verification


@bp.route("/inscription/<journey>/activation", methods=["GET", "POST"])
@limiter.limit(SENDS_PER_SIGN_UP, methods=["POST"], key_func=_enrolment_key)
@limiter.limit(address_limit, methods=["POST"])
def activation(journey: str) -> Any:
    """Choose how to validate the account: SMS code or email link (seed 001, step 5)."""
    j, enrolment = _awaiting(journey)
    if enrolment is None:
        return _page("enrolment/expired.html", j, None), 410
    form = FlaskForm()
    if form.validate_on_submit():
        channel = request.form.get("channel")
        if channel == "sms" and "sms" in j.channels and enrolment.data.get("mobile"):
            _send_code(enrolment)
            return redirect(url_for("enrolment.code", journey=j.name))
        if channel == "email":
            _send_link(j, enrolment)
            return redirect(url_for("enrolment.check_inbox", journey=j.name))
    data = enrolment.data
    return _page(
        "enrolment/activation_choice.html",
        j,
        enrolment,
        form=form,
        masked_phone=v.mask_phone(data["mobile"]) if data.get("mobile") else None,
        email=data["email"],
    )


@bp.get("/inscription/<journey>/courriel-envoye")
def check_inbox(journey: str) -> Any:
    """ "Consultez votre boîte mail", with "Je n'ai pas reçu le mail"."""
    j, enrolment = _awaiting(journey)
    if enrolment is None:
        return _page("enrolment/expired.html", j, None), 410
    return _page(
        "enrolment/check_inbox.html",
        j,
        enrolment,
        form=FlaskForm(),
        email=enrolment.data["email"],
        resent=request.args.get("renvoye") == "1",
    )


@bp.post("/inscription/<journey>/renvoyer")
@limiter.limit("3 per 15 minutes", key_func=_enrolment_key)
@limiter.limit(address_limit)
def resend(journey: str) -> Any:
    """Send a new link; the older ones stop working."""
    j, enrolment = _awaiting(journey)
    if enrolment is None:
        return _page("enrolment/expired.html", j, None), 410
    if FlaskForm().validate_on_submit():
        _send_link(j, enrolment)
    return redirect(url_for("enrolment.check_inbox", journey=j.name, renvoye=1))


@bp.route("/inscription/<journey>/code", methods=["GET", "POST"])
@limiter.limit(address_limit, methods=["POST"])  # each code also counts its attempts
def code(journey: str) -> Any:
    """Type the SMS code; attempts are limited."""
    j, enrolment = _awaiting(journey)
    if enrolment is None and request.method == "POST" and sso.current_session() is not None:
        return already_activated()  # Back, then the code sent again after the activation
    if enrolment is None:
        return _page("enrolment/expired.html", j, None), 410
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        row = verification.current_code("activation", enrolment_id=enrolment.id)
        try:
            verification.check_code(row, form.code.data)
        except verification.CodeRejected as rejected:
            db.session.commit()  # the attempt counts
            error = rejected
        else:
            if enrolment.account_id is None:  # a journey that keeps no account then
                db.session.commit()
                return _page("enrolment/email_taken.html", j, enrolment)
            if not claim_activation(enrolment):
                return already_activated()
            _confirm_email_later(enrolment)
            return _activate(j, enrolment, "sms", claimed=True)
    elif request.method == "POST":
        error = verification.CodeRejected("format")
    return _page(
        "enrolment/code.html",
        j,
        enrolment,
        form=form,
        error=error,
        masked_phone=v.mask_phone(enrolment.data["mobile"]),
    )


def _confirm_email_later(enrolment: Enrolment) -> None:
    """The SMS code proved the phone, not the address typed: it becomes the account's from
    the link sent to it (as a change in Mon compte would), and an address another account
    has only earns its owner a notice. Whoever holds the phone sees the same either way."""
    account = db.session.get(Account, enrolment.account_id)
    account.email = None
    asked = email_change.request_change(
        account, enrolment.data["email"], link_lifetime(), audit.origin_of(request)
    )
    if asked.secret is not None:
        mail_confirmation(account, asked)
        return
    notify.send_mail(
        "account_exists",
        to=asked.new_email,
        portal_name=_portal_name(enrolment),
        login_url=url_for("auth.login", _external=True),
    )


@bp.post("/inscription/<journey>/code/renvoyer")
@limiter.limit("3 per 15 minutes", key_func=_enrolment_key)
@limiter.limit(address_limit)
def resend_code(journey: str) -> Any:
    """A new SMS code; the previous one stops working."""
    j, enrolment = _awaiting(journey)
    if enrolment is None:
        return _page("enrolment/expired.html", j, None), 410
    if FlaskForm().validate_on_submit() and enrolment.data.get("mobile"):
        _send_code(enrolment)
    return redirect(url_for("enrolment.code", journey=j.name))


@bp.get("/inscription/termine")
def done() -> str:
    """Shown when a sign-up did not start from a portal."""
    return render_template("enrolment/done.html", current=sso.current_session())


def _link_context(secret: str) -> tuple[Any, Enrolment | None, Journey | None, str]:
    row = verification.find_link(secret, "activation")
    enrolment = db.session.get(Enrolment, row.enrolment_id) if row and row.enrolment_id else None
    journey = engine.get_journey(enrolment.journey) if enrolment else None
    state = services.link_state(row)
    if state == "valid" and (enrolment is None or enrolment.account_id is None):
        state = "gone"
    return row, enrolment, journey, state


@bp.route("/activation/<secret>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def link(secret: str) -> Any:
    """The email link. GET shows a page (mail scanners open links); POST activates."""
    row, enrolment, j, state = _link_context(secret)
    if state != "valid" or j is None:
        status = {"resendable": 410, "gone": 410, "superseded": 410, "used": 409}[state]
        return render_template(
            "enrolment/link_state.html",
            state=state,
            form=FlaskForm(),
            secret=secret,
            portal_name=_portal_name(enrolment),
        ), status
    if j.finalise is not None:
        form = j.finalise.form()
        form.enrolment = enrolment
        if form.validate_on_submit():
            # Claimed before finalising: a second submit must not write the answers again.
            if not claim_activation(enrolment):
                return already_activated()
            account = db.session.get(Account, enrolment.account_id)
            j.extra["finalise"](enrolment, form, account)
            row.used_at = utcnow()
            return _activate(j, enrolment, "email", claimed=True)
        extra = j.finalise.context(enrolment, form) if j.finalise.context else {}
        return _page(
            j.finalise.template,
            j,
            enrolment,
            form=form,
            step=j.finalise,
            index=len(j.steps),
            **extra,
        )
    form = FlaskForm()
    if form.validate_on_submit():
        row.used_at = utcnow()
        return _activate(j, enrolment, "email")
    return _page("enrolment/confirm_link.html", j, enrolment, form=form)


@bp.post("/activation/<secret>/renvoyer")
@limiter.limit("3 per hour", key_func=lambda: "link:" + tokens.sha256(request.view_args["secret"]))
@limiter.limit(address_limit)
def link_resend(secret: str) -> Any:
    """From 7 to 21 days: a new link to the same address."""
    row, enrolment, j, state = _link_context(secret)
    if (
        state != "resendable"
        or j is None
        or enrolment is None
        or not FlaskForm().validate_on_submit()
    ):
        return render_template(
            "enrolment/link_state.html",
            state=state,
            form=FlaskForm(),
            secret=secret,
            portal_name=_portal_name(enrolment),
        ), 410
    _send_link(j, enrolment)
    return render_template(
        "enrolment/link_state.html",
        state="resent",
        form=FlaskForm(),
        secret=secret,
        portal_name=_portal_name(enrolment),
        email=v.mask_email(enrolment.data["email"]),
    )
