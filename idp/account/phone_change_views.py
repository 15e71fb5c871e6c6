"""Mon compte: change the mobile phone (a code by SMS to the new number, a mail to the owner)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from idp import notify
from idp.account import bp
from idp.account import phone_change
from idp.account.phone_forms import PhoneChangeForm
from idp.account.phone_forms import PhoneCodeForm
from idp.account.views import FLASH
from idp.account.views import logged_in_recently
from idp.account.views import login_required
from idp.account.views import step_up_if_needed
from idp.enrolment.fields import value
from idp.enrolment.validators import format_phone
from idp.enrolment.validators import mask_phone
from idp.extensions import db
from idp.extensions import limiter
from idp.security import audit

PAGE = "/telephone-mobile"


def _limit() -> str:
    # Guessing the current password or the code from a stolen session costs as much as at login.
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.app_template_filter("phone_national")
def phone_national(number: str) -> str:
    """ "+33612345678" → "06 12 34 56 78" (as stored when it cannot be parsed)."""
    try:
        return format_phone(number)
    except Exception:  # noqa: BLE001 (a legacy value must not break Mon compte)
        return number


@bp.route(PAGE, methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
@login_required
def change_phone() -> Any:
    """Ask to change the mobile phone: the new number and the current password."""
    current = g.account_session
    account = current.account
    if (step_up := step_up_if_needed(current)) is not None:
        return step_up
    form = PhoneChangeForm()
    # As for the email: a recent FranceConnect login proves the identity as the password would.
    ask_password = account.password_hash is not None and not (
        current.upstream_id_token is not None and logged_in_recently(current)
    )
    error = None
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        try:
            if ask_password:
                phone_change.check_password(account, form.current_password.data, origin)
            elif not logged_in_recently(current):
                raise phone_change.WrongPassword
            issued = phone_change.request_change(account, value(form.phone), origin)
        except phone_change.WrongPassword:
            db.session.commit()  # the refusal is audited
            error = (
                _("Le mot de passe actuel est incorrect.")
                if ask_password
                else _("Par sécurité, déconnectez-vous puis reconnectez-vous avant de recommencer.")
            )
        except phone_change.SameNumber:
            form.phone.errors = [_("C'est déjà le numéro de téléphone mobile de votre compte.")]
        except phone_change.TooManyCodes:
            db.session.commit()
            error = _("Trop de codes ont été envoyés. Réessayez dans une heure.")
        else:
            notify.send_sms(
                "phone_change_code",
                to=issued.verification.destination,
                code=issued.secret,
                minutes=int(phone_change.CODE_LIFETIME.total_seconds() // 60),
            )
            db.session.commit()
            notify.dispatch_after_commit()
            return redirect(url_for(".confirm_phone"))
    return render_template(
        "account/phone.html",
        form=form,
        error=error,
        account=account,
        ask_password=ask_password,
        current_phone=phone_national(account.phone) if account.phone else None,
    )


@bp.route(PAGE + "/code", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
@login_required
def confirm_phone() -> Any:
    """Type the code received on the new number; the number changes once it is right."""
    current = g.account_session
    account = current.account
    if (step_up := step_up_if_needed(current)) is not None:
        return step_up
    row = phone_change.pending(account.id)
    if row is None:
        return redirect(url_for(".change_phone"))
    form = PhoneCodeForm()
    error = None
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        try:
            phone_change.confirm(account, form.code.data, origin)
        except phone_change.CodeRefused as refused:
            db.session.commit()  # the attempt is counted and audited
            if refused.reason == "wrong":
                error = ngettext(
                    "Ce code est incorrect. Il vous reste %(num)d essai.",
                    "Ce code est incorrect. Il vous reste %(num)d essais.",
                    refused.remaining,
                )
            elif refused.reason == "used":  # sent twice at once: the other request changed it
                flash(_("Votre numéro de téléphone mobile a été modifié."), FLASH)
                return redirect(url_for(".overview") + "#identite")
            else:
                flash(_("Ce code n'est plus valable : demandez-en un nouveau."), "account_error")
                return redirect(url_for(".change_phone"))
        else:
            if account.email:
                notify.send_mail(
                    "phone_changed",
                    to=account.email,
                    given_name=account.given_name,
                    new_phone=mask_phone(account.phone),
                    account_url=url_for(".overview", _external=True),
                    reset_url=url_for("auth.forgotten_password", _external=True),
                )
            db.session.commit()
            notify.dispatch_after_commit()
            flash(_("Votre numéro de téléphone mobile a été modifié."), FLASH)
            return redirect(url_for(".overview") + "#identite")
    return render_template(
        "account/phone_code.html",
        form=form,
        error=error,
        masked=mask_phone(row.destination),
    )
