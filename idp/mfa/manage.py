"""Mon compte: enable or disable the authenticator app, recovery codes, remembered devices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import segno
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from idp import notify
from idp.account.views import FLASH
from idp.account.views import FLASH_REFUSED
from idp.account.views import _password_limit
from idp.account.views import login_required
from idp.extensions import db
from idp.extensions import limiter
from idp.mfa import bp
from idp.mfa import devices
from idp.mfa import services
from idp.mfa.forms import ConfirmForm
from idp.mfa.forms import ProveForm
from idp.mfa.forms import TotpSetupForm
from idp.models import Account
from idp.security import audit
from idp.security.passwords import verify_password

PREFIX = "/mon-compte/double-authentification"
ANCHOR = "double-authentification"


def _back() -> Any:
    return redirect(url_for("account.overview") + "#" + ANCHOR)


def _tell(account: Account, change: str) -> None:
    """A mail to the person when a factor is added or removed (not when it is theirs to
    see only: the mail is the alarm if someone else holds the session)."""
    if account.email:
        notify.send_mail(
            "mfa_changed",
            to=account.email,
            change=change,
            given_name=account.given_name,
            account_url=url_for("account.overview", _external=True) + "#" + ANCHOR,
        )


def _password_ok(account: Account, password: str | None) -> bool:
    if not password or not account.password_hash:
        return False
    ok, new_hash = verify_password(account.password_hash, password)
    if ok and new_hash:
        account.password_hash = new_hash
    return ok


def _proved(account: Account, form: ProveForm, origin: audit.Origin) -> bool:
    """The password or a current code of the app is right (the refusal is audited)."""
    if _password_ok(account, form.password.data):
        return True
    if form.code.data:
        cred = services.enabled_totp(account.id)
        if cred is not None and services.check_totp(cred, form.code.data):
            return True
    audit.record("mfa.proof_refused", account_id=account.id, origin=origin)
    return False


def overview_context(account_id: int) -> dict[str, Any]:
    """What the "Double authentification" section of Mon compte shows."""
    return {
        "mfa_totp": services.enabled_totp(account_id),
        "mfa_recovery_left": services.recovery_codes_left(account_id),
        "mfa_devices": devices.devices_of(account_id),
    }


@bp.route(PREFIX + "/application", methods=["GET", "POST"])
@limiter.limit(_password_limit, methods=["POST"])
@login_required
def totp_setup() -> Any:
    """Enable an authenticator app: QR code and secret, then a first right code."""
    account = g.account_session.account
    if services.enabled_totp(account.id) is not None:
        flash(_("L'application d'authentification est déjà activée."), FLASH)
        return _back()
    form = TotpSetupForm()
    origin = audit.origin_of(request)
    cred = (
        services.start_totp(account.id) if request.method == "GET" else services.totp_of(account.id)
    )
    if cred is None:
        return redirect(url_for(".totp_setup"))
    error = None
    ask_password = account.password_hash is not None and not services.session_has_second_factor(
        g.account_session
    )
    if form.validate_on_submit() and ask_password and not _password_ok(account, form.password.data):
        audit.record("mfa.proof_refused", account_id=account.id, origin=origin)
        error = _("Le mot de passe actuel est incorrect.")
    elif form.validate_on_submit():
        codes = services.enable_totp(cred, form.code.data, origin)
        if codes is not None:
            _tell(account, "totp_enabled")
            db.session.commit()
            notify.dispatch_after_commit()
            return render_template("mfa/recovery_codes.html", codes=codes, first=True)
        audit.record("mfa.totp_setup_refused", account_id=account.id, origin=origin)
        error = _("Ce code est incorrect. Vérifiez l'heure de votre téléphone et réessayez.")
    db.session.commit()
    secret = services.totp_secret(cred)
    # The name the app shows beside the codes: this provider's host name.
    issuer_name = urlsplit(current_app.config["ISSUER"]).hostname or "idp"
    uri = services.provisioning_uri(cred, account, issuer_name)
    qr_svg = segno.make(uri, error="m").svg_inline(
        scale=4, light="#fff", title=_("QR code à scanner avec votre application")
    )
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template(
        "mfa/totp_setup.html",
        form=form,
        error=error,
        qr_svg=qr_svg,
        secret=grouped,
        ask_password=ask_password,
    )


def _behind_proof(
    change: Callable[[int, audit.Origin], Any],
    mail: str,
    done: Callable[[Any], Any],
    page: dict[str, str],
) -> Any:
    """The flow of a change to the authenticator app that needs a proof first (the password
    or a current code): without an app, back to the section; on a right proof, change(account
    id, origin), the mail to the person, commit, and done(what change returned) answers; on a
    wrong one, the proof page again (title, intro, action, button from page)."""
    account = g.account_session.account
    if services.enabled_totp(account.id) is None:
        return _back()
    form = ProveForm()
    error = None
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        if _proved(account, form, origin):
            result = change(account.id, origin)
            _tell(account, mail)
            db.session.commit()
            notify.dispatch_after_commit()
            return done(result)
        db.session.commit()
        error = _("Le mot de passe ou le code est incorrect.")
    return render_template("mfa/prove.html", form=form, error=error, **page)


@bp.route(PREFIX + "/application/desactiver", methods=["GET", "POST"])
@limiter.limit(_password_limit, methods=["POST"])
@login_required
def totp_disable() -> Any:
    """Disable the authenticator app (password or a current code first)."""

    def done(_disabled: bool) -> Any:
        flash(_("L'application d'authentification a été désactivée."), FLASH)
        return _back()

    return _behind_proof(
        services.disable_totp,
        "totp_disabled",
        done,
        {
            "title": _("Désactiver l'application d'authentification"),
            "intro": _(
                "Vos codes de secours et vos appareils mémorisés seront aussi supprimés. "
                "Confirmez avec votre mot de passe ou un code de l'application."
            ),
            "action": url_for(".totp_disable"),
            "button": _("Désactiver"),
        },
    )


@bp.route(PREFIX + "/codes-de-secours", methods=["GET", "POST"])
@limiter.limit(_password_limit, methods=["POST"])
@login_required
def recovery_codes() -> Any:
    """Generate ten new recovery codes (the old ones stop working), shown once."""
    return _behind_proof(
        services.regenerate_recovery_codes,
        "recovery_codes",
        lambda codes: render_template("mfa/recovery_codes.html", codes=codes, first=False),
        {
            "title": _("Générer de nouveaux codes de secours"),
            "intro": _(
                "Les codes de secours actuels ne fonctionneront plus. "
                "Confirmez avec votre mot de passe ou un code de l'application."
            ),
            "action": url_for(".recovery_codes"),
            "button": _("Générer de nouveaux codes"),
        },
    )


@bp.post(PREFIX + "/appareils/<int:device_id>/oublier")
@login_required
def forget_device(device_id: int) -> Any:
    """Forget one remembered device: it will be asked the second factor again."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    account_id = g.account_session.account_id
    if not devices.forget_device(account_id, device_id, audit.origin_of(request)):
        abort(404)
    db.session.commit()
    flash(_("Cet appareil a été oublié."), FLASH)
    return _back()


@bp.post(PREFIX + "/appareils/oublier")
@login_required
def forget_all_devices() -> Any:
    """Forget every remembered device of the account."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    account_id = g.account_session.account_id
    count = devices.forget_all_devices(account_id, audit.origin_of(request), reason="user")
    db.session.commit()
    if count:
        flash(_("Tous vos appareils ont été oubliés."), FLASH)
    else:
        flash(_("Aucun appareil n'était mémorisé."), FLASH_REFUSED)
    return _back()
