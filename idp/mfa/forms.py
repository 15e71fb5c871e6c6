"""Forms of the second-factor pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp

SIX_DIGITS = Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Le code est composé de 6 chiffres."))


class VerifyForm(FlaskForm):
    """A second-factor code at login or step-up."""

    code = StringField(
        _l("Code"),
        validators=[DataRequired(_l("Saisissez le code.")), Length(max=32)],
        render_kw={
            "autocomplete": "one-time-code",
            "spellcheck": "false",
            "autocapitalize": "none",
        },
    )
    remember = BooleanField(
        _l("Se souvenir de cet appareil pendant 30 jours"), render_kw={"autocomplete": "off"}
    )


class SendCodeForm(FlaskForm):
    """Ask for a code by SMS or mail (a button; CSRF only)."""


class TotpSetupForm(FlaskForm):
    # Asked when the session did not pass a second factor: a stolen session alone must not
    # enrol its holder's app on the account.
    password = PasswordField(
        _l("Mot de passe actuel"),
        validators=[Optional(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        _l("Code à 6 chiffres affiché par l'application"),
        validators=[DataRequired(_l("Saisissez le code affiché par l'application.")), SIX_DIGITS],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ProveForm(FlaskForm):
    """Prove it is the owner before a sensitive change: the password or a current code."""

    password = PasswordField(
        _l("Mot de passe actuel"),
        validators=[Optional(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        _l("Ou code de votre application d'authentification"),
        validators=[Optional(), SIX_DIGITS],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not (self.password.data or self.code.data):
            self.password.errors = [_l("Saisissez votre mot de passe ou un code de l'application.")]
            return False
        return True


class ConfirmForm(FlaskForm):
    """A POST-only action button (CSRF only)."""
