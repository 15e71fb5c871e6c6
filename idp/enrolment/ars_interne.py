"""`ars-interne` journey (seed 000): INE, email twice → link → finalisation."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length

from idp.enrolment import services
from idp.enrolment import validators as v
from idp.enrolment.engine import Journey
from idp.enrolment.engine import Step
from idp.enrolment.engine import register
from idp.enrolment.engine import remember
from idp.enrolment.fields import birthdate_field
from idp.enrolment.fields import checked
from idp.enrolment.fields import consent_fields
from idp.enrolment.fields import email_confirm_field
from idp.enrolment.fields import email_field
from idp.enrolment.fields import name_field
from idp.enrolment.fields import new_password_fields
from idp.enrolment.fields import phone_field
from idp.enrolment.fields import value
from idp.enrolment.models import Enrolment
from idp.models import Account
from idp.security.passwords import hash_password

SECRET_QUESTIONS = [
    SelectChoice("", _l("Sélectionnez une question")),
    SelectChoice("mere", _l("Quel est le nom de jeune fille de votre mère ?")),
    SelectChoice("animal", _l("Quel était le nom de votre premier animal de compagnie ?")),
    SelectChoice("ville", _l("Dans quelle ville vos parents se sont-ils rencontrés ?")),
    SelectChoice("ecole", _l("Quel était le nom de votre école primaire ?")),
    SelectChoice("ami", _l("Quel est le prénom de votre meilleur ami d'enfance ?")),
]


class AccountForm(FlaskForm):
    ine = StringField(
        _l("N° INE"),
        description=_l(
            "Identifiant national étudiant, 11 caractères. Si vous n'avez pas votre N° INE, "
            "saisissez 0000 : votre inscription sera vérifiée par l'ARS."
        ),
        validators=[DataRequired(_l("Indiquez votre N° INE (ou 0000).")), checked(v.ine)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    family_name = name_field(_l("Nom"), "family-name")
    given_name = name_field(_l("Prénom"), "given-name")


class EmailForm(FlaskForm):
    email = email_field()
    email_confirm = email_confirm_field()


class FinaliseForm(FlaskForm):
    password, password_confirm = new_password_fields(
        _l("Mot de passe"), _l("Confirmation du mot de passe")
    )
    birthdate = birthdate_field()
    phone = phone_field(_l("Téléphone"), mobile=False, needed=True)
    street_address = StringField(
        _l("Adresse"),
        validators=[DataRequired(_l("Indiquez votre adresse.")), Length(max=300)],
        render_kw={"autocomplete": "street-address"},
    )
    postal_code = StringField(
        _l("Code postal"),
        validators=[DataRequired(_l("Indiquez votre code postal.")), checked(v.postcode)],
        render_kw={"autocomplete": "postal-code", "inputmode": "numeric"},
    )
    locality = StringField(
        _l("Ville"),
        validators=[DataRequired(_l("Indiquez votre ville.")), Length(max=150)],
        render_kw={"autocomplete": "address-level2"},
    )
    secret_question = SelectField(
        _l("Question secrète"),
        choices=SECRET_QUESTIONS,
        validators=[DataRequired(_l("Choisissez une question secrète."))],
        render_kw={"autocomplete": "off"},
    )
    secret_answer = StringField(
        _l("Réponse secrète"),
        description=_l(
            "L'ARS pourra vous la demander au téléphone pour s'assurer de votre identité."
        ),
        validators=[
            DataRequired(_l("Indiquez la réponse à votre question.")),
            Length(min=2, max=100),
        ],
        render_kw={"autocomplete": "off"},
    )
    cgu, rgpd = consent_fields()


def save_account(enrolment: Enrolment, form: AccountForm) -> None:
    remember(
        enrolment,
        ine=value(form.ine),
        family_name=value(form.family_name),
        given_name=value(form.given_name),
    )


def load_account(enrolment: Enrolment, form: AccountForm) -> None:
    for name in ("ine", "family_name", "given_name"):
        if enrolment.data.get(name):
            form[name].data = enrolment.data[name]


def save_email(enrolment: Enrolment, form: EmailForm) -> None:
    remember(enrolment, email=value(form.email))


def load_email(enrolment: Enrolment, form: EmailForm) -> None:
    if enrolment.data.get("email"):
        form.email.data = form.email_confirm.data = enrolment.data["email"]


def finish(enrolment: Enrolment, origin: Any) -> services.Created:
    """Create the pending account (the email is the login); the link follows."""
    data = enrolment.data
    created = services.create_pending_account(
        enrolment,
        {
            "email": data["email"],
            "family_name": data["family_name"],
            "given_name": data["given_name"],
        },
        origin,
    )
    if created.account is not None:
        if data["ine"] == v.INE_MISSING:
            created.account.review_status = "pending"
        else:
            services.add_identifier(created.account, "ine", data["ine"])
    return created


def finalise(enrolment: Enrolment, form: FinaliseForm, account: Account) -> None:
    """Store what the link's page asked for; the caller activates the account."""
    account.password_hash = hash_password(form.password.data)
    account.birthdate = value(form.birthdate)
    account.phone = value(form.phone)
    account.street_address = form.street_address.data.strip()
    account.postal_code = value(form.postal_code)
    account.locality = form.locality.data.strip().upper()
    account.country = "FR"
    # The key is stored; the helpdesk shows the question in its own language.
    account.secret_question = form.secret_question.data
    account.secret_answer_hash = services.hash_answer(form.secret_answer.data)
    services.record_consents(account, {})


ARS_INTERNE = register(
    Journey(
        name="ars-interne",
        title=_l("Inscription des internes"),
        steps=(
            Step(
                "compte",
                _l("Création de compte"),
                AccountForm,
                "enrolment/ars/account.html",
                save_account,
                load_account,
            ),
            Step(
                "email",
                _l("Votre adresse électronique"),
                EmailForm,
                "enrolment/ars/email.html",
                save_email,
                load_email,
            ),
        ),  # fmt: skip
        policy="ars-interne",
        channels=("email",),
        identifier="email",
        finish=finish,
        finalise=Step(
            "finalisation",
            _l("Finalisation"),
            FinaliseForm,
            "enrolment/ars/finalise.html",
            lambda enrolment, form: None,
        ),  # fmt: skip
        extra={"finalise": finalise},
    )
)
