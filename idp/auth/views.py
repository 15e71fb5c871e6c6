"""Login and logout pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from idp import federation
from idp import notify
from idp.auth import bp
from idp.auth import known_devices
from idp.auth import lockout
from idp.auth import lockout_mail
from idp.auth import services
from idp.auth import session as sso
from idp.auth.forms import ConfirmForm
from idp.auth.forms import LoginForm
from idp.auth.limits import typed_key
from idp.errors import AccountUnavailable
from idp.errors import InvalidCredentials
from idp.extensions import db
from idp.extensions import limiter
from idp.oidc import backchannel
from idp.oidc.server import query_client
from idp.security import audit

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def safe_next(value: str | None) -> str | None:
    """A local path to return to, or None (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    # Control characters: browsers drop tabs and newlines (so "/\t/x" means "//x"), and a
    # newline in a Location header is refused by Werkzeug (a 500).
    if _CONTROL_CHARACTER.search(value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def _portal_of(next_url: str | None):
    if not next_url or not next_url.startswith("/authorize"):
        return None
    client_id = parse_qs(urlsplit(next_url).query).get("client_id", [None])[0]
    return query_client(client_id) if client_id else None


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_login_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def failed(response) -> bool:
    """A login or code form that did not let the person through (they are redirected
    when it did). Per-address limits count only these: many people share one address
    behind a hospital's, a company's or a mobile operator's NAT, and their logins must not
    spend a budget meant for guessing."""
    return response.status_code != 302


@bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=failed)
@limiter.limit(_account_login_limit, methods=["POST"], key_func=typed_key("identifier"))
def login() -> Any:
    """Identifier + password login page."""
    next_url = safe_next(request.args.get("next"))
    from idp.enrolment.engine import get_journey  # the enrolment package imports this one

    portal = _portal_of(next_url)
    journey_name = (portal.journey if portal else None) or current_app.config["DEFAULT_JOURNEY"]
    journey = get_journey(journey_name)
    login_kind = journey.login_kind if portal and journey else "any"
    form = LoginForm()
    if request.method == "GET" and request.args.get("login_hint"):
        form.identifier.data = request.args["login_hint"][:254]
    error = None
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        devices = known_devices.read(request.cookies.get(known_devices.COOKIE))
        try:
            account = services.authenticate(
                form.identifier.data, form.password.data, origin, login_kind, devices
            )
        except lockout.Throttled:
            db.session.commit()  # the refusal is audited
            return _throttled_page(form, portal, journey_name, login_kind, next_url)
        except InvalidCredentials as exc:
            error = _("Identifiant ou mot de passe incorrect.")
            if exc.locked is not None:
                lockout_mail.send_locked_mail(exc.locked)
                db.session.commit()
                notify.dispatch_after_commit()
        except AccountUnavailable as exc:
            if str(exc) == "deleting" and exc.account is not None:
                # The password was right: the only thing offered is to cancel the deletion.
                from idp.account import deletion_views  # the account package imports this one

                response = deletion_views.offer_cancel(exc.account, next_url)
                db.session.commit()
                return response
            # The password was right: telling the owner why is not enumeration.
            error = (
                _("Votre compte n'est pas encore activé : suivez le lien reçu par courriel.")
                if str(exc) == "pending"
                else _("Votre compte est suspendu. Contactez l'assistance du service.")
            )
        else:
            from idp.mfa import views as mfa  # the mfa package imports this one

            # A second factor due: no SSO session yet, the factor page opens it.
            # The device cookie is earned by the password: the second factor, when due,
            # is still asked; the cookie only spares this browser the locks of strangers.
            # The response is built before the commit: after it, reading account.sub for
            # the device cookie would load the account again.
            if (second_factor := mfa.after_password(account, next_url, origin)) is not None:
                response = current_app.make_response(second_factor)
                known_devices.remember(response, account, devices)
                db.session.commit()
                return response
            secret = sso.open_session(account, ["pwd"], "eidas1", origin)[1]
            response = redirect(next_url or url_for("auth.home"))
            sso.set_cookie(response, secret)
            known_devices.remember(response, account, devices)
            db.session.commit()
            return response
        db.session.commit()
    signup_url = url_for("enrolment.start", journey=journey_name, next=next_url)
    return render_template(
        "auth/login.html",
        form=form,
        error=error,
        portal=portal,
        signup_url=signup_url,
        signup_journey=journey_name,
        login_kind=login_kind,
        **federation.login_context(next_url, journey_name),
    )


def _throttled_page(form, portal, journey_name: str, login_kind: str, next_url) -> Any:
    """The same refusal, message and status for every identifier, known or not."""
    form.password.data = ""
    page = render_template(
        "auth/login.html",
        form=form,
        error=_(
            "Trop de tentatives de connexion. Patientez quelques instants avant de réessayer, "
            "ou choisissez un nouveau mot de passe avec « Mot de passe oublié ? »."
        ),
        portal=portal,
        signup_url=url_for("enrolment.start", journey=journey_name, next=next_url),
        signup_journey=journey_name,
        login_kind=login_kind,
        **federation.login_context(next_url, journey_name),
    )
    return page, 429


@bp.get("/")
def home() -> Any:
    """Landing page: who is logged in."""
    return render_template("auth/home.html", current=sso.current_session())


@bp.route("/deconnexion", methods=["GET", "POST"])
def logout() -> Any:
    """Local logout, confirmed by a POST."""
    form = ConfirmForm()
    current = sso.current_session()
    if current is None:
        return render_template("auth/logged_out.html")
    if form.validate_on_submit():
        upstream_url = sso.end_browser_session(current, audit.origin_of(request), reason="user")
        db.session.commit()
        backchannel.dispatch_after_commit()
        response = (
            redirect(upstream_url)  # a FranceConnect session: through FranceConnect's logout
            if upstream_url
            else current_app.make_response(render_template("auth/logged_out.html"))
        )
        sso.clear_cookie(response)
        return response
    return render_template("auth/logout.html", form=form, current=current)
