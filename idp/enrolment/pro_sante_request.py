"""Seed 004, "Si vous n'avez jamais eu de compte, cliquez ICI": ask for a confidential number.

N° FINESS, an optional email for a confirmation, and a CAPTCHA (idp.security.captcha). A
known FINESS queues a letter for the print shop (the number is generated when the letters are
exported) and, if an email was given, mails a confirmation; an unknown one gets the address
to write to. Both answers take the same time (MIN_DURATION), so that the delay does not tell
a known FINESS from an unknown one; the captcha and the rate limit keep it from being polled.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from flask import render_template
from flask import request
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from idp import notify
from idp.enrolment import bp
from idp.enrolment import validators as v
from idp.enrolment.engine import CGU_VERSION
from idp.enrolment.fields import checked
from idp.enrolment.fields import same_as
from idp.enrolment.fields import value
from idp.enrolment.pro_sante import NAME as JOURNEY
from idp.extensions import db
from idp.extensions import limiter
from idp.registry import services as registry
from idp.security import audit
from idp.security import captcha

# Where a professional missing from the registry writes to (seed 004: "nous envoyer un mail").
CONTACT_EMAIL = "professionnels@sante.example"
# Every answer to a valid request takes at least this long, known FINESS or not (seconds).
MIN_DURATION = 0.6
# Requests per IP address: real submissions, and every page (each one issues a challenge).
SUBMIT_LIMIT = "10 per hour"
PAGE_LIMIT = "120 per hour"
# Buttons that only replace the challenge ("Changer le texte", "Version accessible", back).
SWITCHES = {"nouveau": None, "accessible": "question", "image": "image"}

CAPTCHA_ERRORS = {
    "wrong": _l("La réponse ne correspond pas. Un nouveau contrôle vous est proposé."),
    "expired": _l("Le contrôle a expiré (10 minutes). Un nouveau contrôle vous est proposé."),
    "used": _l("Ce contrôle a déjà été utilisé. Un nouveau contrôle vous est proposé."),
    "missing": _l("Le contrôle n'est plus valable. Un nouveau contrôle vous est proposé."),
}


class CodeRequestForm(FlaskForm):
    finess = StringField(
        _l("Saisissez votre N° de tiers (FINESS)"),
        description=_l("N° FINESS (N° Professionnel de Santé), 9 chiffres."),
        validators=[DataRequired(_l("Indiquez votre N° FINESS.")), checked(v.finess)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    email = EmailField(
        _l("Adresse email"),
        description=_l("Format attendu : nom@domaine.fr"),
        validators=[Optional(), checked(v.email)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    email_confirm = EmailField(
        _l("Confirmation email"),
        validators=[
            same_as(
                "email", _l("Les deux adresses email ne sont pas identiques."), ignore_case=True
            )
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    challenge = HiddenField()
    mode = HiddenField()
    answer = StringField(
        _l("Réponse"),
        validators=[Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"},
    )

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        # Checked even when another field is wrong: every post burns its challenge.
        try:
            captcha.check(self.challenge.data or "", self.answer.data or "")
        except captcha.CaptchaRejected as rejected:
            self.answer.errors = [*self.answer.errors, CAPTCHA_ERRORS[rejected.reason]]
            return False
        return valid


def _mode(form: CodeRequestForm) -> str:
    wanted = form.mode.data or ("question" if request.args.get("version") == "accessible" else "")
    return wanted if wanted in captcha.MODES else "image"


def _page(form: CodeRequestForm, mode: str) -> str:
    challenge = captcha.issue(mode)
    form.challenge.data, form.mode.data, form.answer.data = challenge.nonce, mode, ""
    db.session.commit()
    svg = base64.b64encode(challenge.svg.encode()).decode() if challenge.svg else None
    return render_template(
        "enrolment/pro_sante/code_request.html",
        form=form,
        challenge=challenge,
        svg=svg,
        number_words=captcha.NUMBER_WORDS,
    )


def _is_switch() -> bool:
    return request.method == "POST" and request.form.get("action") in SWITCHES


@bp.route("/professionnels/code-confidentiel", methods=["GET", "POST"])
@limiter.limit(SUBMIT_LIMIT, methods=["POST"], exempt_when=_is_switch)
@limiter.limit(PAGE_LIMIT)
def pro_sante_code_request() -> Any:
    """ "Pour recevoir votre code confidentiel": a letter by post, for a known FINESS."""
    started = time.monotonic()
    form = CodeRequestForm()
    action = request.form.get("action") if request.method == "POST" else None
    if action in SWITCHES:
        # CSRF was checked by CSRFProtect; keep what was typed, replace the challenge.
        captcha.discard(form.challenge.data or "")
        form.finess.errors = form.email.errors = form.email_confirm.errors = []
        return _page(form, SWITCHES[action] or _mode(form))
    if not form.validate_on_submit():
        if form.is_submitted():
            db.session.commit()  # the used challenge stays used
        return _page(form, _mode(form))
    finess, email = value(form.finess), value(form.email)
    origin = audit.origin_of(request)
    record = registry.find_professional(finess)
    if record is not None:
        letter = registry.queue_letter(record, "confidential_code")
        # A letter exported lately is not sent again (registry.LETTER_INTERVAL); the answer
        # is the same: that letter is in the post, or arrived a few days ago.
        outcome = "letter_queued" if letter.exported_at is None else "letter_recent"
        audit.record("registry.code_requested", origin=origin, outcome=outcome,
                     finess=finess, letter_id=letter.id, email_given=bool(email))  # fmt: skip
        if email:
            notify.send_mail(
                "pro_sante_code_request",
                to=email,
                finess=finess,
                signup_url=url_for("enrolment.start", journey=JOURNEY, _external=True),
            )
        template = "enrolment/pro_sante/code_request_sent.html"
    else:
        audit.record("registry.code_requested", origin=origin, outcome="unknown_finess",
                     finess=finess, email_given=bool(email))  # fmt: skip
        template = "enrolment/pro_sante/code_request_unknown.html"
    db.session.commit()
    notify.dispatch_after_commit()
    page = render_template(
        template,
        finess=finess,
        email=email,
        contact_email=CONTACT_EMAIL,
        signup_url=url_for("enrolment.start", journey=JOURNEY),
    )
    _pad(started)
    return page


def _pad(started: float) -> None:
    """Sleep until MIN_DURATION has passed since started (time.monotonic())."""
    remaining = MIN_DURATION - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


@bp.get("/professionnels/conditions-generales-d-utilisation")
def pro_sante_cgu() -> str:
    """The conditions of use that the "INSCRIPTION" page asks to accept."""
    return render_template("enrolment/pro_sante/cgu.html", version=CGU_VERSION)
