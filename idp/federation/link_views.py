"""Linking and sign-up after a verified FranceConnect callback, and the email link.

The identity waits server-side on its round trip (FederationFlow); the browser holds a
random continuation token in the signed session cookie.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask import request
from flask import session
from flask import url_for

from idp import notify
from idp.auth import session as sso
from idp.auth.views import safe_next
from idp.enrolment.fields import value
from idp.enrolment.validators import mask_email
from idp.extensions import db
from idp.extensions import limiter
from idp.federation import PROVIDER
from idp.federation import bp
from idp.federation import contact
from idp.federation import flows
from idp.federation import services
from idp.federation.forms import ConfirmForm
from idp.federation.forms import ProofForm
from idp.federation.forms import SignupForm
from idp.federation.views import CONTINUATION
from idp.federation.views import SENT_TO
from idp.federation.views import client_or_404
from idp.federation.views import log_in
from idp.federation.views import other_ways
from idp.federation.views import reason_page
from idp.models import Account
from idp.security import audit


def _continued(linking: bool):
    flow = flows.by_continuation(session.get(CONTINUATION))
    if flow is None or (flow.candidate_id is not None) != linking:
        return None
    return flow


@bp.route("/federation/franceconnect/lier-mon-compte", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def link() -> Any:
    """A unique account matches the identity: its password proves it before the link."""
    client = client_or_404()
    flow = _continued(linking=True)
    if flow is None:
        return reason_page("expired", None, 410)
    account = db.session.get(Account, flow.candidate_id)
    verified = services.restore(flow, client.settings.issuer)
    form = ProofForm()
    error = False
    if form.validate_on_submit():
        origin = audit.origin_of(request)
        if account.is_active and services.check_proof(flow, account, form.password.data, origin):
            services.link(verified, account, origin)
            next_url = flow.return_to
            flows.close(flow)
            return log_in(account, verified, next_url)
        if flow.attempts >= services.MAX_PROOF_ATTEMPTS:
            next_url = flow.return_to
            flows.close(flow, "failed")
            session.pop(CONTINUATION, None)
            db.session.commit()
            return reason_page("proof_locked", next_url, 429)
        db.session.commit()
        error = True
    identifier = account.username or (mask_email(account.email) if account.email else None)
    return render_template(
        "federation/link.html",
        form=form,
        refuse_form=ConfirmForm(),
        error=error,
        identity=verified.claims,
        identifier=identifier,
        **other_ways(flow.return_to),
    )


@bp.post("/federation/franceconnect/ne-pas-lier")
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
        provider=PROVIDER,
    )
    flows.close(flow, "failed")
    session.pop(CONTINUATION, None)
    db.session.commit()
    return reason_page("link_refused", next_url)


@bp.route("/federation/franceconnect/creer-mon-compte", methods=["GET", "POST"])
def signup() -> Any:
    """No account matches: create one from the certified identity, then confirm an email."""
    client = client_or_404()
    flow = _continued(linking=False)
    if flow is None:
        return reason_page("expired", None, 410)
    verified = services.restore(flow, client.settings.issuer)
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
        response = log_in(account, verified, url_for(".created", next=next_url))
        notify.dispatch_after_commit()
        return response
    return render_template("federation/signup.html", form=form, identity=verified.claims, **ways)


@bp.get("/federation/franceconnect/compte-cree")
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


@bp.route("/federation/franceconnect/courriel/<secret>", methods=["GET", "POST"])
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
