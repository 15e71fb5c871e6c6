"""Form pieces shared by the journeys: validators adapted to WTForms, common fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from idp.enrolment import validators as v


def checked(fn: Callable[[str], Any]) -> Callable[[Any, Any], None]:
    """Run a validator that normalises or raises ValueError; keep the normalised value."""

    def _validate(form: Any, field: Any) -> None:
        if field.data in (None, ""):
            return
        try:
            field.normalised = fn(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    return _validate


def value(field: Any) -> Any:
    """The normalised value of a field validated with `checked`, else its data."""
    return getattr(field, "normalised", field.data if field.data not in ("",) else None)


def same_as(other: str, message: str, *, ignore_case: bool = False) -> Callable[[Any, Any], None]:
    """The "typed twice" check; exact for passwords, case-insensitive for emails."""

    def _validate(form: Any, field: Any) -> None:
        first, second = (form[other].data or ""), (field.data or "")
        if ignore_case:
            first, second = first.strip().lower(), second.strip().lower()
        if first != second:
            raise ValidationError(message)

    return _validate


def required(message: str) -> DataRequired:
    return DataRequired(message)


CIVILITIES = [
    SelectChoice("", _l("Sélectionnez")),
    SelectChoice("madame", _l("Madame")),
    SelectChoice("monsieur", _l("Monsieur")),
]


def civility_field() -> SelectField:
    return SelectField(
        _l("Civilité"),
        choices=CIVILITIES,
        validators=[DataRequired(_l("Choisissez votre civilité."))],
        render_kw={"autocomplete": "honorific-prefix"},
    )


def name_field(label: Any, autocomplete: str, needed: bool = True) -> StringField:
    checks = [DataRequired(_l("Ce champ est obligatoire."))] if needed else [Optional()]
    return StringField(
        label,
        validators=[*checks, Length(max=100), checked(v.person_name)],
        render_kw={"autocomplete": autocomplete},
    )


def birthdate_field() -> StringField:
    return StringField(
        _l("Date de naissance"),
        description=_l("Au format JJ/MM/AAAA, par exemple 24/08/1962."),
        validators=[DataRequired(_l("Indiquez votre date de naissance.")), checked(v.birthdate)],
        render_kw={"autocomplete": "bday", "inputmode": "numeric", "placeholder": "JJ/MM/AAAA"},
    )


def email_field() -> EmailField:
    return EmailField(
        _l("Adresse électronique"),
        description=_l("Format attendu : nom@domaine.fr"),
        validators=[DataRequired(_l("Indiquez votre adresse électronique.")), checked(v.email)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


def email_confirm_field() -> EmailField:
    return EmailField(
        _l("Confirmation de l'adresse électronique"),
        validators=[
            DataRequired(_l("Saisissez une seconde fois votre adresse électronique.")),
            same_as(
                "email",
                _l("Les deux adresses électroniques ne sont pas identiques."),
                ignore_case=True,
            ),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


def phone_field(label: Any, mobile: bool, needed: bool = False) -> StringField:
    checks = [DataRequired(_l("Indiquez votre numéro de téléphone."))] if needed else [Optional()]
    return StringField(
        label,
        description=_l("Par exemple 06 12 34 56 78.")
        if mobile
        else _l("Par exemple 01 23 45 67 89."),
        validators=[*checks, checked(v.mobile_phone if mobile else v.phone)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )


PASSWORD_MISSING = _l("Choisissez un mot de passe.")
PASSWORD_CONFIRM_MISSING = _l("Saisissez une seconde fois votre mot de passe.")
PASSWORDS_DIFFER = _l("Les deux mots de passe ne sont pas identiques.")


def new_password_fields(
    label: Any,
    confirm_label: Any,
    *,
    missing: Any = PASSWORD_MISSING,
    missing_confirm: Any = PASSWORD_CONFIRM_MISSING,
    mismatch: Any = PASSWORDS_DIFFER,
) -> tuple[PasswordField, PasswordField]:
    """A new password checked against the journey's policy, and its exact confirmation."""
    from idp.enrolment.passwords import policy_validator

    return (
        PasswordField(
            label,
            validators=[DataRequired(missing), policy_validator()],
            render_kw={"autocomplete": "new-password"},
        ),
        PasswordField(
            confirm_label,
            validators=[DataRequired(missing_confirm), same_as("password", mismatch)],
            render_kw={"autocomplete": "new-password"},
        ),
    )


def username_field(label: Any, description: Any) -> StringField:
    return StringField(
        label,
        description=description,
        validators=[
            DataRequired(_l("Choisissez un identifiant.")),
            Length(min=3, max=64),
            checked(v.username),
        ],
        render_kw={"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"},
    )


def consent_fields() -> tuple[BooleanField, BooleanField]:
    return (
        BooleanField(
            _l("J'accepte les conditions générales d'utilisation du service"),
            validators=[
                DataRequired(_l("Vous devez accepter les conditions générales d'utilisation."))
            ],
        ),
        BooleanField(
            _l(
                "Je consens à l'utilisation de mes données personnelles dans le cadre de cette "
                "démarche en ligne, conformément au Règlement général sur la protection des "
                "données (RGPD)"
            ),
            validators=[DataRequired(_l("Vous devez consentir au traitement de vos données."))],
        ),
    )
