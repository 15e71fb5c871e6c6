"""Forms of the mobile phone change: the new number and the password, then the SMS code."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Regexp

from idp.account.lifecycle_forms import current_password_field
from idp.enrolment.fields import phone_field


class PhoneChangeForm(FlaskForm):
    """The new mobile number (French formats, as at sign-up) and the current password."""

    phone = phone_field(_l("Nouveau numéro de téléphone mobile"), mobile=True, needed=True)
    current_password = current_password_field(required=False)


class PhoneCodeForm(FlaskForm):
    """The 6-digit code received by SMS on the new number."""

    code = StringField(
        _l("Code reçu par SMS"),
        validators=[
            DataRequired(_l("Saisissez le code reçu par SMS.")),
            Length(max=16),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Le code est composé de 6 chiffres.")),
        ],
        description=_l("6 chiffres, reçus sur votre nouveau numéro."),
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "spellcheck": "false",
        },
    )
