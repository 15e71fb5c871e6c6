"""Forms of the Mon compte pages."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import PasswordField
from wtforms.validators import DataRequired

from idp.account.services import MARKETING_KINDS
from idp.enrolment.fields import new_password_fields
from idp.enrolment.passwords import account_as_enrolment
from idp.models import Account


class ConfirmForm(FlaskForm):
    """A button that only carries the CSRF token."""


_password, _confirm = new_password_fields(
    _l("Nouveau mot de passe"), _l("Confirmation du nouveau mot de passe")
)


class ChangePasswordForm(FlaskForm):
    """The current password, then a new one checked against the account's journey policy."""

    current_password = PasswordField(
        _l("Mot de passe actuel"),
        validators=[DataRequired(_l("Saisissez votre mot de passe actuel."))],
        render_kw={"autocomplete": "current-password"},
    )
    password = _password
    password_confirm = _confirm

    def __init__(self, account: Account, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enrolment = account_as_enrolment(account)


MARKETING_LABELS = {
    "marketing_email": _l("Recevoir des informations par courriel"),
    "marketing_sms": _l("Recevoir des informations par SMS"),
    "marketing_mobile_phone": _l("Être contacté par téléphone mobile"),
    "marketing_landline_phone": _l("Être contacté par téléphone fixe"),
}


class PreferencesForm(FlaskForm):
    """One checkbox per marketing opt-in."""


for _kind in MARKETING_KINDS:
    setattr(PreferencesForm, _kind, BooleanField(MARKETING_LABELS[_kind]))
