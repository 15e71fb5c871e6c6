"""`citoyen` journey (seed 001): profile, identity, identifier + password, SMS or email."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
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
from idp.enrolment.engine import register
from idp.enrolment.engine import remember
from idp.enrolment.fields import birthdate_field
from idp.enrolment.fields import checked
from idp.enrolment.fields import civility_field
from idp.enrolment.fields import consent_fields
from idp.enrolment.fields import email_confirm_field
from idp.enrolment.fields import email_field
from idp.enrolment.fields import name_field
from idp.enrolment.fields import new_password_fields
from idp.enrolment.fields import phone_field
from idp.enrolment.fields import username_field
from idp.enrolment.fields import value
from idp.enrolment.models import Enrolment
from idp.security.passwords import hash_password

PROFILES = [
    SelectChoice("citoyen", _l("Citoyen")),
    SelectChoice("entreprise", _l("Entreprise")),
    SelectChoice("association", _l("Association")),
]


class ProfileForm(FlaskForm):
    profile = RadioField(
        _l("Je crée mon compte en tant que"),
        choices=PROFILES,
        validators=[DataRequired(_l("Choisissez le profil qui correspond à votre démarche."))],
    )


class IdentityForm(FlaskForm):
    siret = StringField(
        _l("Numéro SIRET"),
        description=_l("14 chiffres, par exemple 732 829 320 00074."),
        validators=[Optional(), checked(v.siret)],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    rna = StringField(
        _l("Numéro RNA"),
        description=_l("La lettre W suivie de 9 chiffres, par exemple W751234567."),
        validators=[Optional(), checked(v.rna)],
        render_kw={"autocomplete": "off"},
    )
    organisation = StringField(
        _l("Raison sociale ou nom de l'association"),
        validators=[Optional(), Length(max=200)],
        render_kw={"autocomplete": "organization"},
    )
    civility = civility_field()
    family_name = name_field(_l("Nom de naissance"), "family-name")
    usage_name = name_field(_l("Nom d'usage"), "family-name", needed=False)
    given_name = name_field(_l("Prénom"), "given-name")
    birthdate = birthdate_field()
    email = email_field()
    email_confirm = email_confirm_field()
    landline = phone_field(_l("Téléphone fixe"), mobile=False)
    mobile = phone_field(_l("Téléphone mobile"), mobile=True)
    marketing_email = BooleanField(_l("J'accepte d'être sur les listes de diffusion par email"))
    marketing_sms = BooleanField(_l("J'accepte d'être sur les listes de diffusion par SMS"))

    def validate_siret(self, field: Any) -> None:
        if self.profile == "entreprise" and not field.data:
            raise ValidationError(_l("Indiquez le numéro SIRET de l'entreprise."))

    def validate_rna(self, field: Any) -> None:
        if self.profile == "association" and not field.data:
            raise ValidationError(_l("Indiquez le numéro RNA de l'association."))

    def validate_organisation(self, field: Any) -> None:
        if self.profile in ("entreprise", "association") and not (field.data or "").strip():
            raise ValidationError(_l("Indiquez la raison sociale ou le nom de l'association."))

    @property
    def profile(self) -> str:
        return getattr(self, "enrolment", None) and self.enrolment.data.get("profile") or "citoyen"


class CredentialsForm(FlaskForm):
    username = username_field(
        _l("Votre identifiant de connexion"),
        _l("Un identifiant vous est proposé ; vous pouvez le modifier."),
    )
    password, password_confirm = new_password_fields(
        _l("Mot de passe"), _l("Répéter votre mot de passe")
    )
    cgu, rgpd = consent_fields()

    def validate_username(self, field: Any) -> None:
        if services.username_in_use(value(field) or field.data):
            raise ValidationError(
                _l("Cet identifiant n'est pas disponible, choisissez-en un autre.")
            )


def save_profile(enrolment: Enrolment, form: ProfileForm) -> None:
    remember(enrolment, profile=form.profile.data)


def load_profile(enrolment: Enrolment, form: ProfileForm) -> None:
    form.profile.data = enrolment.data.get("profile")


IDENTITY_FIELDS = (
    "siret", "rna", "organisation", "civility", "family_name", "usage_name", "given_name",
    "birthdate", "email", "landline", "mobile", "marketing_email", "marketing_sms",
)  # fmt: skip


def save_identity(enrolment: Enrolment, form: IdentityForm) -> None:
    values = {}
    for name in IDENTITY_FIELDS:
        raw = value(form[name])
        values[name] = raw.isoformat() if hasattr(raw, "isoformat") else raw
    if enrolment.data.get("profile") != "entreprise":
        values["siret"] = None
    if enrolment.data.get("profile") != "association":
        values["rna"] = None
    remember(enrolment, **values)


def load_identity(enrolment: Enrolment, form: IdentityForm) -> None:
    data = enrolment.data
    for name in IDENTITY_FIELDS:
        if data.get(name) is not None:
            form[name].data = data[name]
    if data.get("birthdate"):
        form.birthdate.data = v.format_date(data["birthdate"])
    for phone in ("landline", "mobile"):
        if data.get(phone):
            form[phone].data = v.format_phone(data[phone])
    if data.get("email"):
        form.email_confirm.data = data["email"]


def identity_context(enrolment: Enrolment, form: IdentityForm) -> dict[str, Any]:
    return {"profile": enrolment.data.get("profile", "citoyen")}


def save_credentials(enrolment: Enrolment, form: CredentialsForm) -> None:
    remember(enrolment, username=value(form.username), consents=True)
    enrolment.password_hash = hash_password(form.password.data)


def load_credentials(enrolment: Enrolment, form: CredentialsForm) -> None:
    data = enrolment.data
    form.username.data = data.get("username") or v.suggest_username(
        data.get("given_name") or "",
        data.get("usage_name") or data.get("family_name") or "",
        services.username_in_use,
    )


def finish(enrolment: Enrolment, origin: Any) -> services.Created:
    """Create the pending account; activation by SMS or email follows."""
    data = enrolment.data
    fields = {
        "email": data["email"],
        "username": data["username"],
        "civility": data["civility"],
        "family_name": data["family_name"],
        "usage_name": data.get("usage_name"),
        "given_name": data["given_name"],
        "birthdate": v.parse_iso_date(data["birthdate"]),
        "phone": data.get("mobile"),
        "landline": data.get("landline"),
        "profile_kind": data.get("profile", "citoyen"),
    }
    # Login by username: an address taken by another account still gives the pending
    # account (without it), so that the sign-up goes on exactly as with a free address.
    created = services.create_pending_account(enrolment, fields, origin, keep_without_email=True)
    if created.account is not None:
        account = created.account
        services.record_consents(
            account,
            {"email": bool(data.get("marketing_email")), "sms": bool(data.get("marketing_sms"))},
        )
        if data.get("siret"):
            services.add_identifier(account, "siret", data["siret"])
        if data.get("rna"):
            services.add_identifier(account, "rna", data["rna"])
    return created


CITOYEN = register(
    Journey(
        name="citoyen",
        title=_l("Création de compte"),
        steps=(
            Step(
                "profil",
                _l("Votre profil"),
                ProfileForm,
                "enrolment/citoyen/profile.html",
                save_profile,
                load_profile,
            ),
            Step(
                "identite",
                _l("Votre identité"),
                IdentityForm,
                "enrolment/citoyen/identity.html",
                save_identity,
                load_identity,
                identity_context,
            ),
            Step(
                "identifiant",
                _l("Identifiant et mot de passe"),
                CredentialsForm,
                "enrolment/citoyen/credentials.html",
                save_credentials,
                load_credentials,
            ),
        ),  # fmt: skip
        policy="citoyen",
        channels=("sms", "email"),
        identifier="username",
        finish=finish,
        offers_franceconnect=True,
    )
)
