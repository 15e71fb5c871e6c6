"""Forms of the FranceConnect pages: proving an account before linking, creating one, NIR."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from idp.enrolment.fields import consent_fields
from idp.enrolment.fields import email_confirm_field
from idp.enrolment.fields import email_field
from idp.enrolment.mon_espace_sante_forms import CardForm


class ProofForm(FlaskForm):
    """The password of the local account the FranceConnect identity matches."""

    password = PasswordField(
        _l("Mot de passe"),
        validators=[DataRequired(_l("Saisissez votre mot de passe.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )


class SignupForm(FlaskForm):
    """What FranceConnect does not certify: a contact email (confirmed by a link), consents."""

    email = email_field()
    email_confirm = email_confirm_field()
    cgu, rgpd = consent_fields()


class ConfirmForm(FlaskForm):
    """Only a CSRF token (refusing the link, confirming an email)."""


class InsuredForm(FlaskForm):
    """After a sign-up for an Assurance Maladie portal: NIR and Carte Vitale serial number."""

    nir = CardForm.nir
    card_serial = CardForm.card_serial
