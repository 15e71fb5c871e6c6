"""Forms of the recovery pages: forgotten password, SMS code, new password, forgotten identifier."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import RadioField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import Length
from wtforms.validators import Regexp

from idp.enrolment.fields import new_password_fields
from idp.enrolment.passwords import account_as_enrolment
from idp.models import Account


class ForgottenPasswordForm(FlaskForm):
    identifier = StringField(
        _l("Identifiant"),
        validators=[DataRequired(_l("Saisissez votre identifiant.")), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"},
        description=_l("Votre adresse électronique ou votre identifiant de connexion."),
    )
    channel = RadioField(
        _l("Comment souhaitez-vous recevoir de quoi choisir un nouveau mot de passe ?"),
        choices=[
            SelectChoice("email", _l("Par e-mail, à l'adresse enregistrée dans votre compte")),
            SelectChoice("sms", _l("Par SMS, au numéro de téléphone enregistré dans votre compte")),
        ],
        default="email",
        validators=[DataRequired(_l("Choisissez comment recevoir votre lien ou votre code."))],
    )


class ResetCodeForm(FlaskForm):
    code = StringField(
        _l("Code reçu par SMS"),
        description=_l("6 chiffres."),
        validators=[
            DataRequired(_l("Saisissez le code reçu par SMS.")),
            Regexp(r"^\s*\d{6}\s*$", message=_l("Le code est composé de 6 chiffres.")),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


_password, _confirm = new_password_fields(
    _l("Nouveau mot de passe"), _l("Confirmation du nouveau mot de passe")
)


class NewPasswordForm(FlaskForm):
    """The new password, checked against the policy of the account's journey."""

    password = _password
    password_confirm = _confirm

    def __init__(self, account: Account, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enrolment = account_as_enrolment(account)


class ForgottenIdentifierForm(FlaskForm):
    email = EmailField(
        _l("Adresse électronique"),
        description=_l("L'adresse enregistrée dans votre compte. Format attendu : nom@domaine.fr"),
        validators=[
            DataRequired(_l("Indiquez votre adresse électronique.")),
            Length(max=254),
            Email(_l("Format attendu : nom@domaine.fr"), check_deliverability=False),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
