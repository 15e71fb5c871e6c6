"""Mon compte: "Supprimer mon compte", and "Annuler la suppression" during the grace period."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _

from idp import notify
from idp.account import bp
from idp.account import deletion
from idp.account.forms import ConfirmForm
from idp.account.lifecycle_forms import DeletionForm
from idp.account.views import logged_in_recently
from idp.account.views import login_required
from idp.auth import session as sso
from idp.auth.lockout_mail import local_time
from idp.extensions import db
from idp.extensions import limiter
from idp.models import Account
from idp.models import utcnow
from idp.oidc import backchannel
from idp.security import audit

# The Flask session key set by a right password on an account being deleted.
CANCEL = "deletion_cancel"
CANCEL_GRACE = dt.timedelta(minutes=10)


def _limit() -> str:
    # Guessing the current password from a stolen session costs as much as at login.
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/suppression", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
@login_required
def delete_account() -> Any:
    """Confirm the deletion with the password (or a code received by mail)."""
    current = g.account_session
    account = current.account
    form = DeletionForm()
    error = None
    # Without a password, a code by mail proves it is the owner; without an address either
    # (FranceConnect only), a login of the last minutes does.
    method = "password" if account.password_hash else ("code" if account.email else "fresh")
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        try:
            if method == "fresh":
                if not logged_in_recently(current):
                    raise deletion.ReauthFailed
            else:
                deletion.reauthenticate(account, form.current_password.data, form.code.data, origin)
        except deletion.ReauthFailed:
            db.session.commit()  # the refusal (and a code attempt) is recorded
            error = {
                "password": _("Le mot de passe est incorrect."),
                "code": _("Ce code est incorrect ou n'est plus valable."),
                "fresh": _(
                    "Par sécurité, déconnectez-vous puis reconnectez-vous avant de recommencer."
                ),
            }[method]
        else:
            grace = int(current_app.config["ACCOUNT_DELETION_GRACE_DAYS"])
            when = deletion.schedule(account, grace, origin)
            if when is None:  # the form sent twice at once: the other request scheduled it
                db.session.rollback()
                response = current_app.make_response(
                    render_template(
                        "account/deletion_scheduled.html",
                        when=local_time(account.deletion_scheduled_at),
                    )
                )
                sso.clear_cookie(response)
                return response
            if account.email:
                notify.send_mail(
                    "account_deletion_scheduled",
                    to=account.email,
                    given_name=account.given_name,
                    date=local_time(when),
                    login_url=url_for("auth.login", _external=True),
                )
            db.session.commit()
            notify.dispatch_after_commit()
            backchannel.dispatch_after_commit()
            response = current_app.make_response(
                render_template("account/deletion_scheduled.html", when=local_time(when))
            )
            sso.clear_cookie(response)
            return response
    return render_template(
        "account/deletion.html",
        form=form,
        error=error,
        method=method,
        account=account,
        children=deletion.managed_accounts(account),
        grace_days=current_app.config["ACCOUNT_DELETION_GRACE_DAYS"],
        current=current,
    )


@bp.post("/suppression/code")
@limiter.limit(_limit)
@login_required
def deletion_code() -> Any:
    """Mail a code confirming the deletion (accounts without a password)."""
    account = g.account_session.account
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if account.password_hash is None and account.email:
        issued = deletion.send_code(account)
        notify.send_mail(
            "account_deletion_code",
            to=account.email,
            given_name=account.given_name,
            code=issued.secret,
            minutes=int(deletion.CODE_LIFETIME.total_seconds() // 60),
        )
        audit.record(
            "account.deletion_code_sent", account_id=account.id, origin=audit.origin_of(request)
        )
        db.session.commit()
        notify.dispatch_after_commit()
        flash(_("Un code vient d'être envoyé à votre adresse électronique."), "account")
    return redirect(url_for(".delete_account"))


def offer_cancel(account: Account, next_url: str | None) -> Any:
    """After a right password on an account being deleted: only "Annuler la suppression",
    after the second factor a login would ask (a stolen password alone cannot cancel)."""
    from idp.mfa import views as mfa  # the mfa package imports this one

    second_factor = mfa.before_deletion_cancel(account, audit.origin_of(request))
    session[CANCEL] = {
        "account": account.id,
        "at": utcnow().isoformat(),
        "next": next_url,
        "factor_due": second_factor is not None,
    }
    return second_factor or redirect(url_for("account.cancel_deletion"))


def second_factor_passed(account: Account) -> None:
    """The second factor asked by offer_cancel is right: the cancel page opens (for
    CANCEL_GRACE from now)."""
    grant = session.get(CANCEL)
    if grant and grant.get("account") == account.id:
        session[CANCEL] = {**grant, "at": utcnow().isoformat(), "factor_due": False}


def _cancel_grant() -> Account | None:
    grant = session.get(CANCEL)
    if not grant:
        return None
    if utcnow() - dt.datetime.fromisoformat(grant["at"]) > CANCEL_GRACE:
        return None
    account = db.session.get(Account, grant["account"])
    return account if account is not None and account.status == "deleting" else None


@bp.route("/suppression/annuler", methods=["GET", "POST"])
def cancel_deletion() -> Any:
    """The only page an account being deleted reaches: cancel the deletion, or leave."""
    account = _cancel_grant()
    if account is None:
        session.pop(CANCEL, None)
        return redirect(url_for("auth.login"))
    if session[CANCEL].get("factor_due", True):
        # The password was right, the second factor not given yet: its page first.
        return redirect(url_for("mfa.step_up"))
    form = ConfirmForm()
    if form.validate_on_submit():
        next_url = session.pop(CANCEL)["next"]
        cancelled = deletion.cancel(account, audit.origin_of(request))
        if cancelled and account.email:
            notify.send_mail(
                "account_deletion_cancelled",
                to=account.email,
                given_name=account.given_name,
                account_url=url_for(".overview", _external=True),
            )
        db.session.commit()
        notify.dispatch_after_commit()
        flash(
            _("La suppression de votre compte est annulée. Connectez-vous pour continuer."),
            "success",
        )
        return redirect(url_for("auth.login", next=next_url))
    return render_template(
        "account/deletion_cancel.html",
        form=form,
        when=local_time(account.deletion_scheduled_at) if account.deletion_scheduled_at else None,
    )
