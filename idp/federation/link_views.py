"""Linking and sign-up after a verified FranceConnect callback, and the email link.

The identity waits server-side on its round trip (FederationFlow); the browser holds a
random continuation token in the signed session cookie.
"""

from __future__ import annotations

from typing import Any

from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _

from idp import notify
from idp.auth import session as sso
from idp.auth.views import failed
from idp.auth.views import safe_next
from idp.enrolment.fields import value
from idp.enrolment.validators import mask_email
from idp.extensions import db
from idp.extensions import limiter
from idp.federation import bp
from idp.federation import contact
from idp.federation import flows
from idp.federation import services
from idp.federation import upstream_name
from idp.federation.forms import ConfirmForm
from idp.federation.forms import InsuredForm
from idp.federation.forms import ProofForm
from idp.federation.forms import SignupForm
from idp.federation.models import FederationFlow
from idp.federation.views import CONTINUATION
from idp.federation.views import SENT_TO
from idp.federation.views import client_or_404
from idp.federation.views import log_in
from idp.federation.views import other_ways
from idp.federation.views import reason_page
from idp.models import Account
from idp.models import utcnow
from idp.security import audit


def _continued(linking: bool):
    flow = flows.by_continuation(session.get(CONTINUATION))
    if flow is None or (flow.candidate_id is not None) != linking:
        return None
    # Each upstream's pages finish only the round trips started with it.
    return flow if flow.provider == upstream_name() else None


# Per address, only what fails counts (idp.auth.views.failed): people linking their accounts
# from one hospital's or mobile operator's address must not spend a guesser's budget. The
# password guesses of one round trip are bounded by services.MAX_PROOF_ATTEMPTS.
@bp.route("/federation/<upstream>/lier-mon-compte", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"], deduct_when=failed)
def link() -> Any:
    """A unique account matches the identity: its password (if it has one), then a link
    sent to its email, prove it before the link."""
    client = client_or_404()
    flow = _continued(linking=True)
    if flow is None:
        return reason_page("expired", None, 410)
    account = db.session.get(Account, flow.candidate_id)
    if not account.email:
        # Nowhere to send the second proof: the accounts stay apart.
        next_url = flow.return_to
        flows.close(flow, "failed")
        session.pop(CONTINUATION, None)
        db.session.commit()
        return reason_page("link_unavailable", next_url, 409)
    verified = services.restore(flow, client)
    with_password = account.password_hash is not None
    form = ProofForm() if with_password else ConfirmForm()
    error = False
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        if account.is_active and (
            not with_password or services.check_proof(flow, account, form.password.data, origin)
        ):
            if with_password:
                audit.record(
                    "federation.link_password_proved",
                    account_id=account.id,
                    origin=origin,
                    provider=upstream_name(),
                )
            return _send_link_proof(flow, account, origin)
        if flow.attempts >= services.MAX_PROOF_ATTEMPTS:
            next_url = flow.return_to
            flows.close(flow, "failed")
            session.pop(CONTINUATION, None)
            db.session.commit()
            return reason_page("proof_locked", next_url, 429)
        db.session.commit()
        error = True
    identifier = account.username or mask_email(account.email)
    return render_template(
        "federation/link.html",
        form=form,
        with_password=with_password,
        refuse_form=ConfirmForm(),
        error=error,
        identity=verified.claims,
        identifier=identifier,
        **other_ways(flow.return_to),
    )


def _send_link_proof(flow: FederationFlow, account: Account, origin: audit.Origin) -> Any:
    """Mail the single-use link; the round trip now waits for it, not for this browser."""
    secret = services.send_link_proof(flow, account, origin)
    portal = other_ways(flow.return_to)["portal"]
    notify.send_mail(
        "federation_link",
        to=account.email,
        portal_name=portal.name if portal else None,
        link=url_for(".confirm_link", secret=secret, _external=True),
        given_name=(account.given_name or "").split(" ")[0] or None,
    )
    session.pop(CONTINUATION, None)
    session[SENT_TO] = mask_email(account.email)
    db.session.commit()
    notify.dispatch_after_commit()
    return redirect(url_for(".link_sent", next=flow.return_to))


@bp.get("/federation/<upstream>/lien-envoye")
def link_sent() -> Any:
    """Check your inbox: the accounts are linked once the link is followed."""
    client_or_404()
    return render_template(
        "federation/link_sent.html",
        sent_to=session.get(SENT_TO),
        **other_ways(safe_next(request.args.get("next"))),
    )


@bp.route("/federation/<upstream>/relier/<secret>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def confirm_link(secret: str) -> Any:
    """The link's page. GET only shows it (mail scanners open links); POST links or refuses,
    then the person is logged in and returned to the portal."""
    client = client_or_404()
    state, row, flow = services.link_proof(secret)
    if flow is not None and flow.provider != upstream_name():
        state, flow = "gone", None
    form = ConfirmForm()
    if state != "valid":
        status = 409 if state == "used" else 410
        return render_template("federation/link_confirm.html", state=state, form=form), status
    account = db.session.get(Account, flow.candidate_id)
    verified = services.restore(flow, client)
    next_url = flow.return_to
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        row.used_at = utcnow()
        if request.form.get("decision") == "refuse":
            audit.record(
                "federation.link_refused",
                account_id=account.id,
                origin=origin,
                provider=upstream_name(),
            )
            flows.close(flow, "failed")
            db.session.commit()
            return reason_page("link_refused", next_url)
        if not account.is_active or services.identity_of(verified.issuer, verified.subject):
            # Suspended, or this identity was linked elsewhere meanwhile: nothing changes.
            flows.close(flow, "failed")
            db.session.commit()
            return reason_page("expired", next_url, 410)
        audit.record(
            "federation.link_email_confirmed",
            account_id=account.id,
            origin=origin,
            provider=upstream_name(),
        )
        services.link(verified, account, origin)
        flows.close(flow)
        return log_in(account, verified, next_url)
    return render_template(
        "federation/link_confirm.html",
        state=state,
        form=form,
        identity=verified.claims,
        identifier=account.username or mask_email(account.email or ""),
        portal=other_ways(next_url)["portal"],
    )


@bp.post("/federation/<upstream>/ne-pas-lier")
def refuse_link() -> Any:
    """The person does not want the link (or the account is not theirs): nothing changes."""
    client_or_404()
    flow = _continued(linking=True)
    if flow is None or not ConfirmForm().validate_on_submit():
        return reason_page("expired", None, 410)
    next_url = flow.return_to
    audit.record(
        "federation.link_refused",
        account_id=flow.candidate_id,
        origin=audit.origin_of(request),
        provider=upstream_name(),
    )
    flows.close(flow, "failed")
    session.pop(CONTINUATION, None)
    db.session.commit()
    return reason_page("link_refused", next_url)


@bp.route("/federation/<upstream>/creer-mon-compte", methods=["GET", "POST"])
def signup() -> Any:
    """No account matches: create one from the certified identity, then confirm an email."""
    client = client_or_404()
    flow = _continued(linking=False)
    if flow is None:
        return reason_page("expired", None, 410)
    verified = services.restore(flow, client)
    form = SignupForm()
    suggested = verified.claims.get("email")
    if request.method == "GET" and isinstance(suggested, str):
        form.email.data = form.email_confirm.data = suggested
    ways = other_ways(flow.return_to)
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        account = services.create_account(verified, origin)
        email = value(form.email)
        secret = contact.offer(account, email, origin)
        if secret:
            notify.send_mail(
                "activation",
                to=email,
                portal_name=ways["portal"].name if ways["portal"] else None,
                link=url_for(".confirm_email", secret=secret, _external=True),
                journey="franceconnect",
                given_name=(account.given_name or "").split(" ")[0] or None,
                valid_days=contact.LINK_VALIDITY.days,
            )
        else:
            # The address belongs to another account: its owner is told, nothing is linked.
            notify.send_mail(
                "account_exists",
                to=email,
                portal_name=ways["portal"].name if ways["portal"] else None,
                login_url=url_for("auth.login", _external=True),
            )
        next_url = flow.return_to
        flows.close(flow)
        session[SENT_TO] = mask_email(email)
        portal = ways["portal"]
        after = ".insured" if portal and portal.journey in services.NIR_JOURNEYS else ".created"
        response = log_in(account, verified, url_for(after, next=next_url))
        notify.dispatch_after_commit()
        return response
    return render_template("federation/signup.html", form=form, identity=verified.claims, **ways)


@bp.route("/federation/<upstream>/assurance-maladie", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"], deduct_when=failed)
def insured() -> Any:
    """After a sign-up for an Assurance Maladie portal: the NIR, checked against the insured
    registry with the certified identity, before returning to the portal."""
    client = client_or_404()
    next_url = safe_next(request.args.get("next"))
    current = sso.current_session()
    identity = (
        services.identity_of_account(current.account_id, client.settings.issuer)
        if current
        else None
    )
    if identity is None:
        return reason_page("expired", next_url, 410)
    portal = other_ways(next_url)["portal"]
    if not services.needs_nir(portal.journey if portal else None, current.account_id):
        return redirect(url_for(".created", next=next_url))
    form = InsuredForm()
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        account = db.session.get(Account, current.account_id)
        record = services.match_insured(identity.claims, value(form.nir), value(form.card_serial))
        if record is None:
            audit.record("federation.nir_mismatch", account_id=account.id, origin=origin)
            # Never say which field differed: that would help guess the other.
            form.form_errors.append(
                _(
                    "Ces informations ne correspondent pas à l'identité transmise par "
                    "FranceConnect. Vérifiez le numéro de sécurité sociale et le numéro de "
                    "série de la carte Vitale."
                )
            )
        elif not services.add_nir(account, record, origin):
            form.form_errors.append(
                _(
                    "Ce numéro de sécurité sociale est déjà rattaché à un autre compte : il ne "
                    "peut pas être ajouté à celui-ci. Contactez l'assistance du service."
                )
            )
        else:
            db.session.commit()
            return redirect(url_for(".created", next=next_url))
        db.session.commit()
    return render_template(
        "federation/insured.html", form=form, identity=identity.claims, portal=portal
    )


@bp.get("/federation/<upstream>/compte-cree")
def created() -> Any:
    """The account exists and the person is logged in; an email link is on its way."""
    next_url = safe_next(request.args.get("next"))
    return render_template(
        "federation/created.html",
        current=sso.current_session(),
        next_url=next_url or url_for("auth.home"),
        sent_to=session.pop(SENT_TO, None),
        portal=other_ways(next_url)["portal"],
    )


@bp.route("/federation/<upstream>/courriel/<secret>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def confirm_email(secret: str) -> Any:
    """The email link. GET shows a page (mail scanners open links); POST confirms."""
    client_or_404()
    row = contact.find(secret)
    state = contact.link_state(row)
    form = ConfirmForm()
    if state == "valid" and form.validate_on_submit():
        state = contact.confirm(row, audit.origin_of(request))
        db.session.commit()
    status = {"valid": 200, "confirmed": 200, "used": 409, "taken": 409}.get(state, 410)
    return render_template(
        "federation/email.html", state=state, form=form, email=row.destination if row else None
    ), status
