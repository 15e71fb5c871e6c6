"""`ameli` journey (seed 003): identity checked against the insured registry, CGU,
personal code, contact details; then the email must be confirmed before any login."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from idp.enrolment import services
from idp.enrolment import validators as v
from idp.enrolment.engine import Journey
from idp.enrolment.engine import Step
from idp.enrolment.engine import Stop
from idp.enrolment.engine import register
from idp.enrolment.engine import remember
from idp.enrolment.fields import birthdate_field
from idp.enrolment.fields import checked
from idp.enrolment.fields import email_confirm_field
from idp.enrolment.fields import email_field
from idp.enrolment.fields import new_password_fields
from idp.enrolment.fields import phone_field
from idp.enrolment.fields import value
from idp.enrolment.models import Enrolment
from idp.registry import crypto
from idp.registry import services as registry
from idp.security.passwords import hash_password

NAME = "ameli"

YES_NO = [SelectChoice("oui", _l("Oui")), SelectChoice("non", _l("Non"))]


def yes_no(label: Any) -> RadioField:
    return RadioField(label, choices=YES_NO, default="non", validators=[Optional()])


class IdentificationForm(FlaskForm):
    family_name = StringField(
        _l("Mon nom"),
        validators=[
            DataRequired(_l("Indiquez votre nom.")),
            Length(max=100),
            checked(v.person_name),
        ],
        render_kw={"autocomplete": "family-name"},
    )
    nir = StringField(
        _l("Mon n° de sécurité sociale"),
        description=_l("15 caractères, indiqués sur votre carte Vitale ou votre attestation."),
        validators=[DataRequired(_l("Indiquez votre numéro de sécurité sociale.")), checked(v.nir)],
        render_kw={"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"},
    )
    birthdate = birthdate_field()
    postcode = StringField(
        _l("Mon code postal"),
        validators=[DataRequired(_l("Indiquez votre code postal.")), checked(v.postcode)],
        render_kw={"autocomplete": "postal-code", "inputmode": "numeric"},
    )

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        record = registry.match_insured(
            nir=value(self.nir),
            family_name=value(self.family_name),
            birthdate=value(self.birthdate),
            postcode=value(self.postcode),
        )
        if record is None:
            # Never say which field failed: that would help someone guess the others.
            self.form_errors.append(
                _l(
                    "Les informations saisies ne permettent pas de vous identifier. "
                    "Vérifiez-les, ou créez votre compte via FranceConnect."
                )
            )
            return False
        holder = services.holder_of("nir", record.nir())
        # A never-activated sign-up gives way (see finish): whether it kept the address
        # typed then (free) or not (another account's), a new sign-up goes the same way.
        if holder is not None and not services.gives_way(holder, NAME):
            self.form_errors.append(
                _l("Un compte existe déjà pour ce numéro de sécurité sociale : connectez-vous.")
            )
            return False
        self.record = record
        return True


class ConditionsForm(FlaskForm):
    accept = RadioField(
        _l("J'accepte les conditions d'utilisation"),
        choices=[
            SelectChoice("oui", _l("Oui, j'accepte")),
            SelectChoice("non", _l("Non, je refuse")),
        ],
        validators=[DataRequired(_l("Indiquez si vous acceptez les conditions d'utilisation."))],
    )


class CodeForm(FlaskForm):
    password, password_confirm = new_password_fields(
        _l("Mon nouveau code"),
        _l("Confirmer mon nouveau code"),
        missing=_l("Choisissez votre code personnel."),
        missing_confirm=_l("Saisissez une seconde fois votre code personnel."),
        mismatch=_l("Les deux codes ne sont pas identiques."),
    )


class ContactForm(FlaskForm):
    email = email_field()
    email_confirm = email_confirm_field()
    marketing_email = yes_no(
        _l(
            "J'autorise l'Assurance Maladie à m'envoyer par email des informations promotionnelles sur ses services"
        )
    )
    mobile = phone_field(_l("Mon n° de téléphone portable"), mobile=True)
    marketing_mobile_phone = yes_no(_l("Par téléphone"))
    marketing_sms = yes_no(_l("Par SMS"))
    landline = phone_field(_l("Mon n° de téléphone fixe"), mobile=False)
    marketing_landline_phone = yes_no(_l("Par téléphone"))

    def validate_landline(self, field: Any) -> None:
        if field.data and v.phone(field.data) and self._is_mobile(field.data):
            raise ValidationError(_l("Indiquez votre numéro de portable dans le champ prévu."))

    @staticmethod
    def _is_mobile(raw: str) -> bool:
        try:
            v.mobile_phone(raw)
        except ValueError:
            return False
        return True


def save_identification(enrolment: Enrolment, form: IdentificationForm) -> None:
    record = form.record
    remember(
        enrolment,
        insured_id=record.id,
        nir_encrypted=crypto.encrypt(record.nir()),
        family_name=record.birth_family_name,
        usage_name=record.usage_family_name,
        given_name=record.given_names,
        birthdate=record.birthdate.isoformat(),
        postcode=record.postcode,
        typed_name=value(form.family_name),
    )


def load_identification(enrolment: Enrolment, form: IdentificationForm) -> None:
    data = enrolment.data
    if data.get("typed_name"):
        form.family_name.data = data["typed_name"]
        form.postcode.data = data.get("postcode")
        form.birthdate.data = v.format_date(data["birthdate"]) if data.get("birthdate") else None


def save_conditions(enrolment: Enrolment, form: ConditionsForm) -> None:
    if form.accept.data != "oui":
        raise Stop("enrolment/ameli/refused.html")
    remember(enrolment, paperless=True)


def save_code(enrolment: Enrolment, form: CodeForm) -> None:
    enrolment.password_hash = hash_password(form.password.data)


CONTACT_FIELDS = ("email", "mobile", "landline")
OPT_INS = ("marketing_email", "marketing_mobile_phone", "marketing_sms", "marketing_landline_phone")


def save_contact(enrolment: Enrolment, form: ContactForm) -> None:
    remember(
        enrolment,
        **{name: value(form[name]) for name in CONTACT_FIELDS},
        **{name: form[name].data == "oui" for name in OPT_INS},
    )


def load_contact(enrolment: Enrolment, form: ContactForm) -> None:
    data = enrolment.data
    if data.get("email"):
        form.email.data = form.email_confirm.data = data["email"]
    for phone in ("mobile", "landline"):
        if data.get(phone):
            form[phone].data = v.format_phone(data[phone])
    for name in OPT_INS:
        if name in data:
            form[name].data = "oui" if data[name] else "non"


def finish(enrolment: Enrolment, origin: Any) -> services.Created:
    """The pending account; it stays unusable until the email link is followed."""
    data = enrolment.data
    nir = crypto.decrypt(data["nir_encrypted"])
    services.replace_pending("nir", nir, NAME, origin)
    created = services.create_pending_account(
        enrolment,
        {
            "email": data["email"],
            "family_name": data["family_name"],
            "usage_name": data.get("usage_name"),
            "given_name": data["given_name"],
            "birthdate": v.parse_iso_date(data["birthdate"]),
            "postal_code": data.get("postcode"),
            "phone": data.get("mobile"),
            "landline": data.get("landline"),
            "country": "FR",
        },
        origin,
    )
    if created.account is not None:
        account = created.account
        services.add_identifier(account, "nir", nir, shown=False)
        services.record_consents(
            account,
            {
                "email": data.get("marketing_email", False),
                "mobile_phone": data.get("marketing_mobile_phone", False),
                "sms": data.get("marketing_sms", False),
                "landline_phone": data.get("marketing_landline_phone", False),
            },
        )
        services.record_consent(account, "paperless", granted=True)
    return created


AMELI = register(
    Journey(
        name=NAME,
        title=_l("Je crée mon compte ameli"),
        steps=(
            Step(
                "identification",
                _l("Mon identité"),
                IdentificationForm,
                "enrolment/ameli/identification.html",
                save_identification,
                load_identification,
            ),
            Step(
                "conditions",
                _l("J'accepte les conditions d'utilisation"),
                ConditionsForm,
                "enrolment/ameli/conditions.html",
                save_conditions,
            ),
            Step(
                "code-personnel",
                _l("Mon code personnel"),
                CodeForm,
                "enrolment/ameli/code.html",
                save_code,
            ),
            Step(
                "coordonnees",
                _l("Mes informations personnelles"),
                ContactForm,
                "enrolment/ameli/contact.html",
                save_contact,
                load_contact,
            ),
        ),  # fmt: skip
        policy="ameli",
        channels=("email",),
        identifier="nir",
        finish=finish,
        offers_franceconnect=True,
        login_kind="nir",
    )
)
