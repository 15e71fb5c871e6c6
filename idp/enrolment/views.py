"""Generic journey views: steps, activation by email link or SMS code, resend, cancel."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask import abort
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import update
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Regexp

from idp import federation
from idp import notify
from idp.auth import session as sso
from idp.auth.views import safe_next
from idp.enrolment import bp
from idp.enrolment import engine
from idp.enrolment import services
from idp.enrolment import validators as v
from idp.enrolment.engine import Journey
from idp.enrolment.models import Enrolment
from idp.enrolment.passwords import personal_info
from idp.enrolment.passwords import policy_for
from idp.extensions import db
from idp.extensions import limiter
from idp.models import Account
from idp.models import utcnow
from idp.oidc.server import query_client
from idp.security import audit
from idp.security import tokens
from idp.security import verification

COOKIE = "idp_enrolment"


class CodeForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[DataRequired(), Regexp(r"^\s*\d{6}\s*$")],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": "6"},
    )


def _journey(name: str) -> Journey:
    journey = engine.get_journey(name)
    if journey is None:
        abort(404)
    return journey


def _current(journey: Journey) -> Enrolment | None:
    enrolment = engine.find(request.cookies.get(COOKIE))
    if enrolment is None or enrolment.journey != journey.name or enrolment.expires_at <= utcnow():
        return None
    return enrolment


def _portal_name(enrolment: Enrolment | None) -> str | None:
    client = query_client(enrolment.client_id) if enrolment and enrolment.client_id else None
    return client.name if client else None


def _set_cookie(response: Response, secret: str) -> Response:
    response.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["ISSUER"].startswith("https://"),
        max_age=int(engine.RESEND_WINDOW.total_seconds()),
    )
    return response


def _step_url(journey: Journey, step_name: str) -> str:
    return url_for("enrolment.step", journey=journey.name, step=step_name)


def _page(template: str, journey: Journey, enrolment: Enrolment | None, **context: Any) -> str:
    personal = personal_info(enrolment)
    step = context.get("step")
    if step is not None and enrolment is not None:
        # The stepper counts only the steps this person goes through (a child skips some).
        visible = [s for s in journey.steps if not s.skipped(enrolment)]
        visible += [journey.finalise] if journey.finalise else []
        if step in visible and len(visible) > 1:  # no stepper for a one-page journey
            n = visible.index(step)
            following = visible[n + 1] if n + 1 < len(visible) else None
            context["stepper"] = {"n": n + 1, "total": len(visible), "next": following}
    if journey.offers_franceconnect:
        context = {
            **federation.login_context(enrolment.return_to if enrolment else None, journey.name),
            **context,
        }
    return render_template(
        template,
        journey=journey,
        enrolment=enrolment,
        portal_name=_portal_name(enrolment),
        policy=policy_for(journey.name, enrolment.client_id if enrolment else None),
        personal_inputs=[*personal.names, *personal.identifiers],
        **context,
    )


def _client_of(next_url: str | None) -> str | None:
    if not next_url:
        return None
    return parse_qs(urlsplit(next_url).query).get("client_id", [None])[0]


def _enrolment_key() -> str:
    """One sign-up (its cookie, hashed: limiter keys are not secrets), else the address."""
    cookie = request.cookies.get(COOKIE)
    return "sign-up:" + tokens.sha256(cookie) if cookie else request.remote_addr or "-"


# Many people sign up from one address: an adviser at a France Services counter helping one
# person after another, a hospital's or a company's NAT, a mobile operator's carrier-grade
# NAT. So what one sign-up may do is limited per sign-up (its cookie), and the address only
# has ceilings, against mass abuse, that such a place does not reach.
SENDS_PER_SIGN_UP = "5 per hour"
STEPS_PER_SIGN_UP = "60 per 15 minutes"
STARTS_PER_ADDRESS = "300 per hour"
STEPS_PER_ADDRESS = "1000 per hour"


def address_limit() -> str:
    """Codes and links sent, and codes typed, per client address in sign-ups."""
    return current_app.config["SIGNUP_ADDRESS_RATE_LIMIT"]


@bp.get("/inscription/<journey>")
@limiter.limit(STARTS_PER_ADDRESS)
def start(journey: str) -> Response:
    """Open (or resume) a sign-up for this journey."""
    j = _journey(journey)
    next_url = safe_next(request.args.get("next"))
    current = _current(j)
    if current is not None and current.status == "in_progress":
        if next_url:
            current.return_to, current.client_id = next_url, _client_of(next_url)
            db.session.commit()
        return redirect(_step_url(j, current.step))
    enrolment, secret = engine.start(j, _client_of(next_url), next_url)
    audit.record(
        "enrolment.started",
        client_id=enrolment.client_id,
        origin=audit.origin_of(request),
        journey=j.name,
    )
    db.session.commit()
    return _set_cookie(redirect(_step_url(j, enrolment.step)), secret)


# Steps check uniqueness and may send mail.
@bp.route("/inscription/<journey>/<step>", methods=["GET", "POST"])
@limiter.limit(STEPS_PER_SIGN_UP, methods=["POST"], key_func=_enrolment_key)
@limiter.limit(STEPS_PER_ADDRESS, methods=["POST"])
def step(journey: str, step: str) -> Any:
    """One step of the wizard; the data is kept server-side between steps."""
    j = _journey(journey)
    try:
        index = j.index(step)
    except KeyError:
        abort(404)
    enrolment = _current(j)
    if enrolment is None and request.method == "POST" and sso.current_session() is not None:
        return already_activated()  # Back, then the last step sent again once activated
    if enrolment is None:
        return _page("enrolment/expired.html", j, None), 410
    if enrolment.status != "in_progress":
        return _page("enrolment/already_done.html", j, enrolment), 409
    if index > enrolment.reached:
        if request.method == "POST":
            return _page("enrolment/out_of_order.html", j, enrolment), 409
        return redirect(_step_url(j, enrolment.step))
    current_step = j.steps[index]
    if current_step.skipped(enrolment):
        return redirect(_step_url(j, enrolment.step))
    form = current_step.form()
    form.enrolment = enrolment
    if request.method == "GET" and current_step.load:
        current_step.load(enrolment, form)
    if form.validate_on_submit():
        try:
            current_step.save(enrolment, form)
        except engine.Stop as stop:
            engine.cancel(enrolment)
            audit.record("enrolment.stopped", origin=audit.origin_of(request), journey=j.name,
                         at=current_step.name)  # fmt: skip
            db.session.commit()
            response = current_app.make_response(_page(stop.template, j, None, **stop.context))
            response.delete_cookie(COOKIE)
            return response
        following = engine.advance(j, enrolment, current_step)
        if following is not None:
            db.session.commit()
            # A step may queue a mail or an SMS (a one-time code): sent once committed.
            notify.dispatch_after_commit()
            return redirect(_step_url(j, following.name))
        return _finish(j, enrolment)
    if request.method == "POST" and current_step.commit_refused:
        db.session.commit()
    extra = current_step.context(enrolment, form) if current_step.context else {}
    return _page(
        current_step.template,
        j,
        enrolment,
        form=form,
        step=current_step,
        index=index,
        back_step=engine.previous(j, enrolment, current_step),
        **extra,
    )


def _finish(j: Journey, enrolment: Enrolment) -> Any:
    # The last step sent twice at once (a double click): only the request that moves the
    # sign-up on creates the account; the other one says it was already sent.
    if not _move(enrolment, "in_progress", "awaiting_activation"):
        db.session.rollback()
        return _page("enrolment/already_done.html", j, None), 409
    if j.conclude is not None:
        return j.conclude(j, enrolment)
    origin = audit.origin_of(request)
    created = j.finish(enrolment, origin)
    enrolment.expires_at = utcnow() + engine.RESEND_WINDOW
    engine.remember(enrolment, email_taken=created.email_taken)
    if len(j.channels) > 1 and enrolment.data.get("mobile"):
        db.session.commit()
        return redirect(url_for("enrolment.activation", journey=j.name))
    _send_link(j, enrolment)
    return redirect(url_for("enrolment.check_inbox", journey=j.name))


def _send_link(j: Journey, enrolment: Enrolment) -> None:
    """Mail the activation link (or, if the address is taken, a notice to its owner)."""
    email = enrolment.data["email"]
    portal = _portal_name(enrolment)
    if enrolment.data.get("email_taken"):
        notify.send_mail(
            "account_exists",
            to=email,
            portal_name=portal,
            login_url=url_for("auth.login", _external=True),
        )
    else:
        issued = verification.issue_link(
            "activation",
            email,
            engine.LINK_VALIDITY,
            account_id=enrolment.account_id,
            enrolment_id=enrolment.id,
        )
        link = url_for("enrolment.link", secret=issued.secret, _external=True)
        notify.send_mail(
            "activation",
            to=email,
            portal_name=portal,
            link=link,
            journey=j.name,
            given_name=enrolment.data.get("given_name"),
            valid_days=engine.LINK_VALIDITY.days,
        )
        audit.record(
            "activation.link_sent", account_id=enrolment.account_id, origin=audit.origin_of(request)
        )
    db.session.commit()
    notify.dispatch_after_commit()


def _send_code(enrolment: Enrolment) -> None:
    issued = verification.issue_code(
        "activation",
        enrolment.data["mobile"],
        engine.CODE_VALIDITY,
        account_id=enrolment.account_id,
        enrolment_id=enrolment.id,
    )
    notify.send_sms(
        "activation_code",
        to=enrolment.data["mobile"],
        code=issued.secret,
        portal_name=_portal_name(enrolment),
        minutes=int(engine.CODE_VALIDITY.total_seconds() // 60),
    )
    audit.record(
        "activation.code_sent", account_id=enrolment.account_id, origin=audit.origin_of(request)
    )
    db.session.commit()
    notify.dispatch_after_commit()


def _awaiting(journey: str) -> tuple[Journey, Enrolment | None]:
    j = _journey(journey)
    enrolment = _current(j)
    if enrolment is not None and enrolment.status != "awaiting_activation":
        enrolment = None
    return j, enrolment


def _move(enrolment: Enrolment, current: str, to: str) -> bool:
    """Move the sign-up from `current` to `to` in the database, unless a parallel request
    (the same form, code or link sent twice at once) already moved it: of two, one wins."""
    with db.session.no_autoflush:
        moved = db.session.execute(
            update(Enrolment)
            .where(Enrolment.id == enrolment.id, Enrolment.status == current)
            .values(status=to)
            .execution_options(synchronize_session=False)
        ).rowcount
    return moved == 1


def claim_activation(enrolment: Enrolment) -> bool:
    """Mark the sign-up completed, unless a parallel request already did: only one activates."""
    return _move(enrolment, "awaiting_activation", "completed")


def already_activated() -> Any:
    """The answer to a second activation: the account is active, the person may log in."""
    db.session.rollback()
    response = current_app.make_response(
        (render_template("enrolment/done.html", current=sso.current_session()), 409)
    )
    response.delete_cookie(COOKIE)
    return response


def _activate(j: Journey, enrolment: Enrolment, channel: str, claimed: bool = False) -> Response:
    """Activate, log in, and go back to the portal without typing the password again."""
    if not claimed and not claim_activation(enrolment):
        return already_activated()
    origin = audit.origin_of(request)
    account = db.session.get(Account, enrolment.account_id)
    services.activate(account, channel, origin)
    target = enrolment.return_to or url_for("enrolment.done")
    if j.on_activated is not None:
        target = j.on_activated(enrolment, account) or target
    enrolment.status = "completed"
    enrolment.data = {}
    enrolment.password_hash = None
    amr = ["mail"] if channel == "email" else ["sms"]
    secret = sso.open_session(account, amr, "eidas1", origin)[1]
    if j.finalise is not None:
        notify.send_mail(
            "enrolment_confirmed",
            to=account.email,
            portal_name=_portal_name(enrolment),
            given_name=account.given_name,
        )
    db.session.commit()
    notify.dispatch_after_commit()
    response = redirect(target)
    sso.set_cookie(response, secret)
    response.delete_cookie(COOKIE)
    return response


@bp.post("/inscription/<journey>/annuler")
def cancel(journey: str) -> Any:
    """ "Annuler la demande": forget everything typed; nothing half-created survives."""
    j = _journey(journey)
    enrolment = engine.find(request.cookies.get(COOKIE))
    return_to = None
    if enrolment is not None and FlaskForm().validate_on_submit():
        return_to = enrolment.return_to
        engine.cancel(enrolment)
        audit.record("enrolment.cancelled", origin=audit.origin_of(request), journey=j.name)
        db.session.commit()
    response = current_app.make_response(
        _page("enrolment/cancelled.html", j, None, return_to=return_to)
    )
    response.delete_cookie(COOKIE)
    return response


@bp.get("/inscription/identifiant-disponible")
@limiter.limit("30 per minute")
def username_available() -> Response:
    """Live check of the identifier (seed 001: "Identifiant disponible !")."""
    wanted = request.args.get("identifiant", "")
    try:
        username = v.username(wanted)
    except ValueError as exc:
        return jsonify(available=False, message=str(exc))
    if services.username_in_use(username):
        return jsonify(available=False, message=_("Cet identifiant n'est pas disponible."))
    return jsonify(available=True, message=_("Identifiant disponible !"))
