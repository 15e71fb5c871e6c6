"""Mon compte: change the email address (a link to the new address, a notice to the old)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from flask import g
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from idp import notify
from idp.account import bp
from idp.account import email_change
from idp.account.lifecycle_forms import EmailChangeForm
from idp.account.views import logged_in_recently
from idp.account.views import login_required
from idp.account.views import step_up_if_needed
from idp.extensions import db
from idp.extensions import limiter
from idp.security import audit


def _limit() -> str:
    # Guessing the current password from a stolen session costs as much as at login.
    return current_app.config["LOGIN_RATE_LIMIT"]


def link_lifetime() -> dt.timedelta:
    return dt.timedelta(hours=int(current_app.config["EMAIL_CHANGE_LINK_HOURS"]))


@bp.route("/adresse-electronique", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
@login_required
def change_email() -> Any:
    """Ask to change the email address: the new one twice, and the current password."""
    current = g.account_session
    fresh_upstream = current.upstream_id_token is not None and logged_in_recently(current)
    # Mail codes are a second factor: a one-factor session steps up first. A fresh
    # FranceConnect login is an independent proof (the path when the mailbox is lost).
    if not fresh_upstream and (step_up := step_up_if_needed(current)) is not None:
        return step_up
    account = current.account
    form = EmailChangeForm()
    error = None
    # A FranceConnect login of the last minutes proves the identity as well as the password
    # (the locked-out path: no more access to the mailbox, password forgotten).
    ask_password = account.password_hash is not None and not fresh_upstream
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        new_email = form.email.data
        try:
            if not ask_password:
                if not logged_in_recently(current):
                    raise email_change.WrongPassword
            else:
                email_change.check_password(account, form.current_password.data, origin)
        except email_change.WrongPassword:
            db.session.commit()  # the refusal is audited
            error = (
                _("Le mot de passe actuel est incorrect.")
                if ask_password
                else _("Par sécurité, déconnectez-vous puis reconnectez-vous avant de recommencer.")
            )
        else:
            if account.email and new_email == account.email:
                form.email.errors = [_("C'est déjà l'adresse électronique de votre compte.")]
            else:
                _send(
                    account,
                    email_change.request_change(account, new_email, link_lifetime(), origin),
                )
                db.session.commit()
                notify.dispatch_after_commit()
                return render_template(
                    "account/email_sent.html", new_email=new_email, current=current
                )
    return render_template(
        "account/email.html",
        form=form,
        error=error,
        current=current,
        account=account,
        ask_password=ask_password,
    )


def mail_confirmation(account, request_: email_change.ChangeRequest) -> None:
    """The link that makes the new address the account's, sent to that address."""
    notify.send_mail(
        "email_change_confirm",
        to=request_.new_email,
        given_name=account.given_name,
        link=url_for("account.confirm_email", token=request_.secret, _external=True),
        hours=int(link_lifetime().total_seconds() // 3600),
    )


def _send(account, request_: email_change.ChangeRequest) -> None:
    reset_url = url_for("auth.forgotten_password", _external=True)
    if request_.secret is not None:
        mail_confirmation(account, request_)
    else:
        assert request_.owner is not None
        notify.send_mail(
            "email_change_taken",
            to=request_.new_email,
            given_name=request_.owner.given_name,
            login_url=url_for("auth.login", _external=True),
            reset_url=reset_url,
        )
    if account.email:
        notify.send_mail(
            "email_change_requested",
            to=account.email,
            given_name=account.given_name,
            new_email=request_.new_email,
            account_url=url_for(".overview", _external=True),
            reset_url=reset_url,
        )


def _refused(reason: str) -> Any:
    response = current_app.make_response(
        (render_template("account/email_refused.html", reason=reason), 410)
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/adresse-electronique/confirmer/<token>", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
def confirm_email(token: str) -> Any:
    """Confirm the new address from the link (a button: mail scanners only GET)."""
    from idp.account.forms import ConfirmForm

    try:
        account, new_email = email_change.pending(token)
    except email_change.ChangeRefused as refused:
        return _refused(refused.reason)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            account, old_email = email_change.confirm(token, audit.origin_of(request))
        except email_change.ChangeRefused as refused:
            if refused.reason == "taken":
                db.session.commit()  # the link is spent (it can never succeed) and audited
            else:
                db.session.rollback()
            return _refused(refused.reason)
        if old_email:
            notify.send_mail(
                "email_changed",
                to=old_email,
                given_name=account.given_name,
                new_email=new_email,
                reset_url=url_for("auth.forgotten_password", _external=True),
            )
        db.session.commit()
        notify.dispatch_after_commit()
        response = current_app.make_response(
            render_template("account/email_changed.html", new_email=new_email)
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    response = current_app.make_response(
        render_template("account/email_confirm.html", form=form, new_email=new_email)
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
