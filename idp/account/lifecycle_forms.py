"""Forms of the email change and account deletion pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from idp.enrolment.fields import email_confirm_field
from idp.enrolment.fields import email_field


def current_password_field(required: bool) -> PasswordField:
    checks = [DataRequired(_l("Saisissez votre mot de passe actuel."))] if required else []
    return PasswordField(
        _l("Mot de passe actuel"),
        validators=[*checks, Optional(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )


class EmailChangeForm(FlaskForm):
    """The new address twice, and the current password (when the account has one)."""

    email = email_field()
    email_confirm = email_confirm_field()
    current_password = current_password_field(required=False)


class DeletionForm(FlaskForm):
    """Re-authentication before the deletion: the password, or a code received by mail."""

    current_password = current_password_field(required=False)
    code = StringField(
        _l("Code reçu par courriel"),
        validators=[Optional(), Length(max=12)],
        description=_l("8 caractères, reçus à votre adresse électronique."),
        render_kw={
            "autocomplete": "one-time-code",
            "spellcheck": "false",
            "autocapitalize": "none",
        },
    )
