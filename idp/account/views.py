"""Mon compte pages: one overview with sections, a password page, POST-only actions."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from typing import Any

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
from idp.account import bp
from idp.account import export
from idp.account import services
from idp.account.forms import ChangePasswordForm
from idp.account.forms import ConfirmForm
from idp.account.forms import PreferencesForm
from idp.auth import session as sso
from idp.extensions import db
from idp.extensions import limiter
from idp.models import utcnow
from idp.oidc import backchannel
from idp.security import audit

FLASH = "account"
FLASH_REFUSED = "account_error"


def _password_limit() -> str:
    # Guessing the current password from a stolen session costs as much as at login.
    return current_app.config["LOGIN_RATE_LIMIT"]


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send a browser without a live SSO session to the login page, then back here."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        current = sso.current_session()
        if current is None:
            # Not ".overview": the decorator also guards the mfa blueprint's views.
            back = request.path if request.method == "GET" else url_for("account.overview")
            return redirect(url_for("auth.login", next=back))
        g.account_session = current
        return view(*args, **kwargs)

    return wrapped


# An account without a password (FranceConnect only) proves itself by a recent login.
FRESH_LOGIN = dt.timedelta(minutes=15)


def logged_in_recently(current: Any) -> bool:
    """Whether this SSO session's login is less than FRESH_LOGIN old: what stands for the
    password before a sensitive change on an account that has none."""
    return current.auth_time is not None and utcnow() - current.auth_time < FRESH_LOGIN


def step_up_if_needed(current: Any, next_url: str | None = None) -> Any:
    """A redirect to the second factor when the account has one and this session did not use it.

    The email address and the mobile number receive second-factor codes, and a linked
    FranceConnect identity is a lasting way in: adding them with the password alone (or a
    stolen session) would let a stolen password reach eidas2."""
    from idp.mfa import services as mfa

    if mfa.session_has_second_factor(current) or not mfa.methods_of(current.account):
        return None
    return redirect(url_for("mfa.step_up", next=next_url or request.path))


def _back(anchor: str) -> Any:
    return redirect(url_for(".overview") + "#" + anchor)


@bp.get("")
@login_required
def overview() -> Any:
    """Mon compte: every section on one page."""
    from idp.federation.mon_compte import account_upstreams
    from idp.federation.services import certified_fields
    from idp.federation.services import linked_identity
    from idp.mfa.manage import overview_context as mfa_overview  # the mfa package imports this one

    current = g.account_session
    account = current.account
    prefs = services.preferences(account.id)
    prefs_form = PreferencesForm(data={p.kind: p.granted for p in prefs})
    fc_upstreams = account_upstreams(account)
    return render_template(
        "account/overview.html",
        current=current,
        account=account,
        certified=certified_fields(account.id),
        identifiers=services.identifiers(account.id),
        sessions=services.live_sessions(account.id),
        short_user_agent=services.short_user_agent,
        portals=services.portal_consents(account.id),
        preferences=prefs,
        prefs_form=prefs_form,
        events=services.recent_events(account.id),
        form=ConfirmForm(),
        fc_identity=linked_identity(account.id),
        fc_available=bool(fc_upstreams),
        fc_upstreams=fc_upstreams,
        **mfa_overview(account.id),
    )


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@limiter.limit(_password_limit, methods=["POST"])
@login_required
def change_password() -> Any:
    """Change the password: the current one, then a new one under the journey's policy."""
    from idp.enrolment.passwords import personal_info
    from idp.enrolment.passwords import policy_for
    from idp.security.password_policy import personal_inputs

    current = g.account_session
    account = current.account
    form = ChangePasswordForm(account)
    error = None
    if account.password_hash and form.validate_on_submit():
        origin = audit.origin_of(request)
        try:
            services.change_password(
                account, form.current_password.data, form.password.data, current, origin
            )
        except services.WrongPassword:
            error = _("Le mot de passe actuel est incorrect.")
            db.session.commit()  # the refusal is audited
        else:
            from idp.mfa.devices import forget_all_devices

            forget_all_devices(account.id, origin, reason="password_changed")
            if account.email:
                notify.send_mail(
                    "account_password_changed",
                    to=account.email,
                    given_name=account.given_name,
                    account_url=url_for(".overview", _external=True),
                    reset_url=url_for("auth.forgotten_password", _external=True),
                )
            db.session.commit()
            notify.dispatch_after_commit()
            backchannel.dispatch_after_commit()
            flash(
                _("Votre mot de passe a été modifié. Vos autres appareils ont été déconnectés."),
                FLASH,
            )
            return _back("mot-de-passe")
    return render_template(
        "account/password.html",
        form=form,
        error=error,
        current=current,
        account=account,
        policy=policy_for(account.journey),
        user_inputs=personal_inputs(personal_info(form.enrolment)),
    )


@bp.post("/sessions/<int:session_id>/fin")
@login_required
def end_session(session_id: int) -> Any:
    """End one session of the account (this one logs the browser out)."""
    current = g.account_session
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        ended = services.end_one_session(current.account_id, session_id, audit.origin_of(request))
    except services.NotYours:
        abort(404)
    db.session.commit()
    backchannel.dispatch_after_commit()
    if ended.id == current.id:
        response = redirect(url_for("auth.login"))
        sso.clear_cookie(response)
        return response
    flash(_("La session a été fermée."), FLASH)
    return _back("sessions")


@bp.post("/sessions/autres/fin")
@login_required
def end_other_sessions() -> Any:
    """End every session of the account but this one."""
    current = g.account_session
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.end_other_sessions(current.account_id, current, audit.origin_of(request))
    db.session.commit()
    backchannel.dispatch_after_commit()
    flash(_("Vos autres sessions ont été fermées."), FLASH)
    return _back("sessions")


@bp.post("/portails/<int:consent_id>/retrait")
@login_required
def revoke_consent(consent_id: int) -> Any:
    """Withdraw a portal's authorisation and revoke its tokens."""
    current = g.account_session
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.revoke_consent(current.account_id, consent_id, audit.origin_of(request))
    except services.NotYours:
        abort(404)
    db.session.commit()
    flash(_("L'autorisation du portail a été retirée."), FLASH)
    return _back("portails")


@bp.post("/preferences")
@login_required
def preferences() -> Any:
    """Record the marketing opt-ins that changed."""
    current = g.account_session
    form = PreferencesForm()
    if not form.validate_on_submit():
        abort(400)
    wanted = {kind: bool(form[kind].data) for kind in services.MARKETING_KINDS}
    services.set_preferences(current.account_id, wanted, audit.origin_of(request))
    db.session.commit()
    flash(_("Vos préférences ont été enregistrées."), FLASH)
    return _back("preferences")


@bp.post("/mes-donnees")
@login_required
def export_data() -> Any:
    """Download the account's personal data as JSON."""
    current = g.account_session
    if not ConfirmForm().validate_on_submit():
        abort(400)
    data = export.export_data(current.account, audit.origin_of(request))
    db.session.commit()
    response = current_app.response_class(
        json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="mes-donnees.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<upstream>/delier")
@login_required
def unlink_franceconnect(upstream: str) -> Any:
    """Unlink one upstream (FranceConnect, Pro Santé Connect…), only when the account can
    still log in another way."""
    from idp.federation import services as federation
    from idp.federation.mon_compte import account_upstreams
    from idp.federation.mon_compte import issuers

    current = g.account_session
    if not ConfirmForm().validate_on_submit():
        abort(400)
    account = current.account
    row = next((r for r in account_upstreams(account) if r.name == upstream), None)
    if row is None:
        abort(404)
    origin = audit.origin_of(request)
    if row.identity is not None and not row.can_unlink:
        audit.record(
            "federation.unlink_refused",
            account_id=account.id,
            origin=origin,
            reason="no_password",
            upstream=upstream,
        )
        db.session.commit()
        flash(
            _(
                "%(brand)s n'a pas été délié : c'est le seul moyen de vous connecter à "
                "votre compte, qui n'a pas de mot de passe.",
                brand=row.brand,
            ),
            FLASH_REFUSED,
        )
        return _back("franceconnect")
    if federation.unlink(account, origin, upstream, issuers()):
        db.session.commit()
        flash(_("%(brand)s n'est plus relié à votre compte.", brand=row.brand), FLASH)
    return _back("franceconnect")
