"""Mon espace santé pages beside the generic steps: provisional codes, the email change, the
ends of both journeys and the "Félicitations" page."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf import FlaskForm
from sqlalchemy import select

from idp import notify
from idp.auth import session as sso
from idp.auth.views import safe_next
from idp.enrolment import bp
from idp.enrolment import engine
from idp.enrolment import mon_espace_sante_services as mes
from idp.enrolment import views
from idp.enrolment.engine import Journey
from idp.enrolment.fields import value
from idp.enrolment.models import Enrolment
from idp.enrolment.mon_espace_sante_forms import EmailForm
from idp.enrolment.mon_espace_sante_forms import record_of
from idp.extensions import db
from idp.extensions import limiter
from idp.models import Account
from idp.models import utcnow
from idp.registry import crypto
from idp.security import audit

TEMPLATES = "enrolment/mon_espace_sante/"


def send_code(enrolment: Enrolment, channel: str) -> None:
    """Issue a provisional code and queue it to the contact on record (raises TooManyCodes)."""
    contact = record_of(enrolment, "contact_id")
    destination = mes.destinations(contact).of(channel) if contact else None
    if not destination:
        raise mes.TooManyCodes()  # nothing to send it to: no code either
    issued = mes.issue_provisional_code(enrolment, channel, destination)
    minutes = int(engine.CODE_VALIDITY.total_seconds() // 60)
    if channel == "email":
        notify.send_mail(
            "mes_code",
            to=destination,
            code=issued.secret,
            minutes=minutes,
            portal_name=views._portal_name(enrolment),
            child=bool(enrolment.data.get("child")),
        )
    else:
        notify.send_sms("mes_code", to=destination, code=issued.secret, minutes=minutes)
    audit.record(
        "mes.code_sent", origin=audit.origin_of(request), journey=enrolment.journey, channel=channel
    )


def _in_progress(journey: str) -> tuple[Journey, Enrolment | None]:
    if journey not in (mes.JOURNEY, mes.OPPOSITION_JOURNEY):
        abort(404)
    j = views._journey(journey)
    enrolment = views._current(j)
    if enrolment is not None and enrolment.status != "in_progress":
        enrolment = None
    return j, enrolment


@bp.post("/inscription/<journey>/code-provisoire/renvoyer")
@limiter.limit("3 per 15 minutes", key_func=views._enrolment_key)
def mes_resend_code(journey: str) -> Any:
    """A new provisional code by the same channel; the previous one stops working."""
    j, enrolment = _in_progress(journey)
    if enrolment is None:
        return views._page("enrolment/expired.html", j, None), 410
    code_step = j.step("code-provisoire")
    channel = enrolment.data.get("code_channel")
    if not channel or enrolment.reached < j.index(code_step.name):
        return redirect(views._step_url(j, enrolment.step))
    try:
        send_code(enrolment, channel)
    except mes.TooManyCodes:
        return redirect(views._step_url(j, code_step.name) + "?trop=1")
    engine.remember(enrolment, proven_for=None)
    engine.rewind(j, enrolment, code_step)
    enrolment.step = code_step.name
    db.session.commit()
    notify.dispatch_after_commit()
    return redirect(views._step_url(j, code_step.name) + "?renvoye=1")


@bp.route("/inscription/mon-espace-sante/coordonnees/adresse-email", methods=["GET", "POST"])
def mes_email() -> Any:
    """ "Modifier mon adresse e-mail": a changed address is confirmed by a link at the end."""
    j, enrolment = _in_progress(mes.JOURNEY)
    if enrolment is None:
        return views._page("enrolment/expired.html", j, None), 410
    contact_step = j.step("coordonnees")
    index = j.index(contact_step.name)
    if enrolment.reached < index or contact_step.skipped(enrolment):
        return redirect(views._step_url(j, enrolment.step))
    form = EmailForm()
    if request.method == "GET":
        record = record_of(enrolment)
        current = enrolment.data.get("email") or (record.email if record else None)
        form.email.data = form.email_confirm.data = current
    if form.validate_on_submit():
        engine.remember(enrolment, email=value(form.email))
        db.session.commit()
        return redirect(views._step_url(j, contact_step.name))
    return views._page(
        TEMPLATES + "email.html",
        j,
        enrolment,
        form=form,
        step=contact_step,
        index=index,
    )


def _complete(enrolment: Enrolment) -> None:
    enrolment.status = "completed"
    enrolment.data = {}
    enrolment.password_hash = None


def _proven(enrolment: Enrolment) -> bool:
    data = enrolment.data
    return bool(data.get("insured_id")) and data.get("proven_for") == data["insured_id"]


def conclude_activation(j: Journey, enrolment: Enrolment) -> Any:
    """Activate at once (the code proved the contact), or mail a link to a changed address."""
    if not _proven(enrolment):
        return views._page("enrolment/out_of_order.html", j, enrolment), 409
    if enrolment.data.get("child"):
        return _activate_child(j, enrolment)
    origin = audit.origin_of(request)
    data = enrolment.data
    record = record_of(enrolment)
    created = j.finish(enrolment, origin)
    if created.account is None or created.email_taken or data["email"] != record.email:
        engine.remember(enrolment, email_taken=created.email_taken)
        enrolment.expires_at = utcnow() + engine.RESEND_WINDOW
        views._send_link(j, enrolment)
        return redirect(url_for("enrolment.check_inbox", journey=j.name))
    account = created.account
    channel = data["code_channel"]
    mes.activate(
        account,
        record.nir(),
        origin,
        email_proven=channel == "email",
        phone_proven=channel == "sms" and data.get("mobile") == record.mobile,
    )
    return_to = enrolment.return_to
    _complete(enrolment)
    amr = ["mail" if channel == "email" else "sms"]
    secret = sso.open_session(account, amr, "eidas1", origin)[1]
    db.session.commit()
    notify.dispatch_after_commit()
    response = redirect(url_for("enrolment.mes_done", next=return_to))
    sso.set_cookie(response, secret)
    response.delete_cookie(views.COOKIE)
    return response


def _activate_child(j: Journey, enrolment: Enrolment) -> Any:
    """The child's profile, managed by the logged-in parent's account."""
    current = sso.current_session()
    if current is None or current.account_id != enrolment.data.get("parent_account_id"):
        here = views._step_url(j, enrolment.step)
        return views._page(
            TEMPLATES + "parent_login.html",
            j,
            enrolment,
            login_url=url_for("auth.login", next=here),
        ), 403
    record = record_of(enrolment)
    if mes.account_with_nir(record.nir()) is not None:
        return views._page(TEMPLATES + "already_active.html", j, None, child=True), 409
    child = mes.create_child_account(current.account, record, enrolment, audit.origin_of(request))
    return_to = enrolment.return_to
    _complete(enrolment)
    db.session.commit()
    response = redirect(url_for("enrolment.mes_done", next=return_to, profil=child.sub))
    response.delete_cookie(views.COOKIE)
    return response


def on_activated(enrolment: Enrolment, account: Account) -> str:
    """The changed email was confirmed by its link: the space is active too."""
    data = enrolment.data
    record = record_of(enrolment)
    if data.get("code_channel") == "sms" and record and data.get("mobile") == record.mobile:
        account.phone_verified_at = utcnow()
    nir = crypto.decrypt(data["nir_encrypted"])
    space = mes.space_for_nir(nir)
    # An opposition recorded meanwhile wins: the account works, the space stays refused.
    if space is None or space.status != mes.OPPOSED:
        mes.set_status(nir, mes.ACTIVE, audit.origin_of(request), account.id)
    return url_for("enrolment.mes_done", next=enrolment.return_to)


def conclude_opposition(j: Journey, enrolment: Enrolment) -> Any:
    """Record the opposition, its withdrawal or the closing; no account is needed."""
    if not _proven(enrolment):
        return views._page("enrolment/out_of_order.html", j, enrolment), 409
    decision = enrolment.data["decision"]
    child = bool(enrolment.data.get("child"))
    try:
        space = j.finish(enrolment, audit.origin_of(request))
    except ValueError:
        # The status changed since the code was checked (another browser): start again.
        return views._page("enrolment/out_of_order.html", j, enrolment), 409
    return_to = enrolment.return_to
    _complete(enrolment)
    db.session.commit()
    response = current_app.make_response(
        views._page(
            TEMPLATES + "decision_recorded.html",
            j,
            None,
            decision=decision,
            child=child,
            at=space.status_at,
            next_url=return_to,
        )
    )
    response.delete_cookie(views.COOKIE)
    return response


@bp.get("/inscription/mon-espace-sante/profil-active")
def mes_done() -> Any:
    """ "Félicitations, votre profil a bien été activé !", then back to the portal."""
    current = sso.current_session()
    child = None
    if current is not None and request.args.get("profil"):
        child = db.session.scalar(
            select(Account).where(
                Account.sub == request.args["profil"], Account.managed_by_id == current.account_id
            )
        )
    return render_template(
        TEMPLATES + "done.html",
        current=current,
        child=child,
        next_url=safe_next(request.args.get("next")),
        form=FlaskForm(),
    )
