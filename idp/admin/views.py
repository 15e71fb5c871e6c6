"""Console home, dashboard and people (helpdesk) pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from idp import notify
from idp.admin import bp
from idp.admin import models  # noqa: F401 (the roles table)
from idp.admin import services
from idp.admin.access import admin_only
from idp.admin.checks import answer_attempts_left
from idp.admin.forms import ConfirmForm
from idp.admin.forms import ReviewForm
from idp.admin.forms import SecretAnswerForm
from idp.admin.people import history
from idp.extensions import db
from idp.extensions import limiter
from idp.models import Account
from idp.models import utcnow
from idp.oidc import backchannel
from idp.oidc.models import BrowserSession
from idp.security import audit

FLASH = "admin"
FLASH_REFUSED = "admin_error"


def refusal_message(reason: str) -> str:
    return {
        "not_pending": _("Ce compte n'attend pas d'activation."),
        "no_enrolment": _(
            "L'inscription de ce compte n'est plus disponible : la personne doit se réinscrire."
        ),
        "already_disabled": _("Ce compte est déjà désactivé."),
        "not_disabled": _("Ce compte n'est pas désactivé."),
        "not_active": _("Seul un compte actif peut recevoir un lien de réinitialisation."),
        "not_pending_review": _("Cette inscription n'est plus en attente de vérification."),
        "reason_required": _("Indiquez le motif du refus : il sera envoyé à la personne."),
        "bad_decision": _("Décision inconnue."),
        "no_secret_answer": _("Cette personne n'a pas enregistré de question secrète."),
        "too_many_attempts": _(
            "Trop de réponses fausses pour cette personne : réessayez dans une heure."
        ),
    }.get(reason, _("Action impossible sur ce compte."))


def _origin() -> audit.Origin:
    return audit.origin_of(request)


@bp.get("/")
def index() -> Any:
    """The dashboard for administrators; the people search for helpdesk agents."""
    if "admin" not in g.roles:
        return redirect(url_for(".people"))
    return render_template("admin/dashboard.html", figures=services.dashboard())


@bp.route("/personnes", methods=["GET", "POST"])
def people() -> Any:
    """Search people by name, email, username or identifier (NIR: exact value).

    The form posts its query (CSRF-checked): a NIR typed there stays out of URLs, hence out
    of access logs, browser history and Referer headers. `?q=` still works for links."""
    raw = request.form.get("q") if request.method == "POST" else request.args.get("q")
    query = (raw or "").strip()[:200]
    found = services.search_people(query) if query else []
    if query:
        audit.record(
            "admin.people_searched", origin=_origin(), results=len(found), actor_id=g.operator.id
        )
        db.session.commit()
    return render_template("admin/people.html", query=query, found=found)


# The largest id an integer column holds (PostgreSQL's int4): a larger one in a URL is
# nobody, not a database error.
MAX_ID = 2**31 - 1


def _person(account_id: int) -> Account:
    account = db.session.get(Account, account_id) if 0 < account_id <= MAX_ID else None
    if account is None:
        abort(404)
    return account


@bp.get("/personnes/<int:account_id>")
def person(account_id: int) -> Any:
    """A person's status, identifiers, sessions and history, with the helpdesk actions."""
    from idp.enrolment.ars_interne import SECRET_QUESTIONS
    from idp.enrolment.models import AccountIdentifier

    account = _person(account_id)
    identifiers = db.session.scalars(
        select(AccountIdentifier).where(AccountIdentifier.account_id == account.id)
    ).all()
    sessions = db.session.scalars(
        select(BrowserSession)
        .where(
            BrowserSession.account_id == account.id,
            BrowserSession.ended_at.is_(None),
            BrowserSession.expires_at > utcnow(),
        )
        .order_by(BrowserSession.created_at.desc())
    ).all()
    questions = {c.value: c.label for c in SECRET_QUESTIONS if c.value}
    events = history(account)
    # Who looked at whose data (RGPD): the consultation itself is recorded.
    audit.record(
        "admin.person_viewed", account_id=account.id, origin=_origin(), actor_id=g.operator.id
    )
    db.session.commit()
    return render_template(
        "admin/person.html",
        account=account,
        identifiers=identifiers,
        sessions=sessions,
        events=events,
        person_roles=sorted(services.roles_of(account)),
        question=questions.get(account.secret_question, account.secret_question),
        attempts_left=answer_attempts_left(account) if account.secret_answer_hash else 0,
        form=ConfirmForm(),
        answer_form=SecretAnswerForm(formdata=None),
    )


def _act(account_id: int, action: Any, done: str | Callable[[Any], str]) -> Any:
    """Run one helpdesk action from a POST with a valid CSRF token, commit, tell.

    done is the message, or makes it from what the action returned: always one whole
    translated sentence, never a fragment completed with str.format."""
    account = _person(account_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    # The console's own operators are an administrator's business: a helpdesk agent (or
    # whoever holds an agent's session) must not disable, reset or log out an administrator.
    if "admin" not in g.roles and services.roles_of(account):
        message = _(
            "Les actions sur les comptes du back-office sont réservées aux administrateurs."
        )
        return render_template("admin/forbidden.html", message=message), 403
    try:
        result = action(account)
    except services.ActionRefused as refused:
        db.session.rollback()
        flash(refusal_message(refused.reason), FLASH_REFUSED)
    else:
        db.session.commit()
        notify.dispatch_after_commit()
        backchannel.dispatch_after_commit()
        flash(done(result) if callable(done) else done, FLASH)
    return redirect(url_for(".person", account_id=account_id))


@bp.post("/personnes/<int:account_id>/activation")
def resend_activation(account_id: int) -> Any:
    """Mail a new activation link to a pending account."""
    return _act(
        account_id,
        lambda a: services.resend_activation(a, g.operator, _origin()),
        lambda address: _(
            "Un nouveau lien d'activation a été envoyé à %(address)s.", address=address
        ),
    )


@bp.post("/personnes/<int:account_id>/deverrouiller")
def unlock(account_id: int) -> Any:
    """Lift a lockout after too many failed logins."""
    return _act(
        account_id,
        lambda a: services.unlock(a, g.operator, _origin()),
        _("Le compte est déverrouillé."),
    )


@bp.post("/personnes/<int:account_id>/desactiver")
def disable(account_id: int) -> Any:
    """Disable an account: its sessions end and its tokens are revoked."""
    return _act(
        account_id,
        lambda a: services.set_disabled(a, True, g.operator, _origin()),
        _("Le compte est désactivé ; ses sessions sont terminées."),
    )


@bp.post("/personnes/<int:account_id>/reactiver")
def enable(account_id: int) -> Any:
    """Enable a disabled account again."""
    return _act(
        account_id,
        lambda a: services.set_disabled(a, False, g.operator, _origin()),
        _("Le compte est réactivé."),
    )


@bp.post("/personnes/<int:account_id>/reinitialiser-mot-de-passe")
def force_password_reset(account_id: int) -> Any:
    """Make the password unusable, end the sessions, mail a reset link."""

    def told(mailed: bool) -> str:
        if mailed:
            return _(
                "Le mot de passe est désactivé ; "
                "un lien de réinitialisation a été envoyé par courriel."
            )
        return _(
            "Le mot de passe est désactivé ; aucune adresse électronique : "
            "la personne passera par « mot de passe oublié »."
        )

    return _act(account_id, lambda a: services.force_password_reset(a, g.operator, _origin()), told)


@bp.post("/personnes/<int:account_id>/sessions")
def revoke_sessions(account_id: int) -> Any:
    """End every session of the person; the portals are told (back-channel logout)."""
    return _act(
        account_id,
        lambda a: services.revoke_sessions(a, g.operator, _origin()),
        lambda ended: ngettext("%(num)d session terminée.", "%(num)d sessions terminées.", ended),
    )


def _per_operator() -> str:
    """Several agents of one helpdesk office share its address: count per agent."""
    return f"operator:{g.operator.id}"


@bp.post("/personnes/<int:account_id>/reponse-secrete")
@limiter.limit("30 per hour", key_func=_per_operator)  # and 5 wrong answers per person
def check_secret_answer(account_id: int) -> Any:
    """Compare the answer given on the phone; only right or wrong is shown."""
    account = _person(account_id)
    form = SecretAnswerForm()
    if not form.validate_on_submit():
        flash(_("Saisissez la réponse donnée par la personne."), FLASH_REFUSED)
        return redirect(url_for(".person", account_id=account_id) + "#question-secrete")
    try:
        right = services.check_secret_answer(account, form.answer.data, g.operator, _origin())
    except services.ActionRefused as refused:
        db.session.commit()  # the refused attempt is audited too
        flash(refusal_message(refused.reason), FLASH_REFUSED)
    else:
        db.session.commit()
        if right:
            flash(_("La réponse est correcte."), FLASH)
        else:
            flash(_("La réponse ne correspond pas."), FLASH_REFUSED)
    return redirect(url_for(".person", account_id=account_id) + "#question-secrete")


@bp.get("/verifications")
def reviews() -> Any:
    """Sign-ups waiting for a check (ARS interns who typed INE 0000)."""
    return render_template(
        "admin/reviews.html", queue=services.review_queue(), form=ReviewForm(formdata=None)
    )


@bp.post("/verifications/<int:account_id>")
def review(account_id: int) -> Any:
    """Accept or reject a sign-up; the person is mailed (with the reason if rejected)."""
    account = _person(account_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.review(account, form.decision.data, form.reason.data, g.operator, _origin())
    except services.ActionRefused as refused:
        db.session.rollback()
        flash(refusal_message(refused.reason), FLASH_REFUSED)
    else:
        db.session.commit()
        notify.dispatch_after_commit()
        backchannel.dispatch_after_commit()
        if form.decision.data == "accepted":
            flash(_("Inscription acceptée : la personne est prévenue par courriel."), FLASH)
        else:
            flash(_("Inscription refusée : le motif est envoyé à la personne."), FLASH)
    return redirect(url_for(".reviews"))


@bp.get("/tableau-de-bord")
@admin_only
def dashboard() -> Any:
    """Sign-ups, pending activations, logins and failures over 30 days."""
    return render_template("admin/dashboard.html", figures=services.dashboard())


from idp.admin import audit_views  # noqa: E402,F401 (routes)
from idp.admin import portal_views  # noqa: E402,F401 (routes)
