"""Forms of the Mon espace santé journeys (seed 002): identity proof, code, contacts, login."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import RadioField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Regexp
from wtforms.validators import ValidationError

from idp.auth import session as sso
from idp.auth.services import find_account
from idp.enrolment import mon_espace_sante_services as mes
from idp.enrolment import services
from idp.enrolment import validators as v
from idp.enrolment.fields import checked
from idp.enrolment.fields import email_confirm_field
from idp.enrolment.fields import email_field
from idp.enrolment.fields import new_password_fields
from idp.enrolment.fields import phone_field
from idp.enrolment.fields import username_field
from idp.enrolment.fields import value
from idp.extensions import db
from idp.registry import services as registry
from idp.registry.models import InsuredRecord
from idp.security import verification

NO_MATCH = _l(
    "Les informations saisies ne permettent pas de vous identifier. Vérifiez la date de "
    "naissance, le numéro de sécurité sociale et le numéro de série de la carte Vitale."
)
CODE_MESSAGES = {
    "wrong": _l("Code provisoire incorrect. Vérifiez le code reçu."),
    "expired": _l("Ce code provisoire a expiré. Demandez un nouveau code."),
    "superseded": _l("Ce code a été remplacé par un code plus récent : utilisez le dernier reçu."),
    "used": _l("Ce code provisoire a déjà été utilisé."),
    "locked": _l("Trop d'essais avec ce code provisoire. Demandez un nouveau code."),
    "missing": _l("Aucun code provisoire n'a été envoyé. Choisissez comment le recevoir."),
}


def counted(max_chars: int, **render_kw: Any) -> dict[str, Any]:
    """Attributes of a field with a live "n / max" counter (static/counter.js)."""
    return {"data-counter-max": str(max_chars), "autocomplete": "off", **render_kw}


def record_of(enrolment: Any, key: str = "insured_id") -> InsuredRecord | None:
    """The insured person of the sign-up, or (contact_id) whose contact gets the code."""
    record_id = enrolment.data.get(key) if enrolment is not None else None
    return db.session.get(InsuredRecord, record_id) if record_id else None


class IntroForm(FlaskForm):
    """ "Commencer": nothing to type."""


class BirthdateForm(FlaskForm):
    birthdate = StringField(
        _l("La date de naissance (JJ/MM/AAAA)"),
        description=_l("Si cela concerne mon enfant, j'indique sa date de naissance."),
        validators=[DataRequired(_l("Indiquez la date de naissance.")), checked(v.birthdate)],
        render_kw={"autocomplete": "bday", "inputmode": "numeric", "placeholder": "JJ/MM/AAAA"},
    )


class CardForm(FlaskForm):
    nir = StringField(
        _l("Mon numéro de sécurité sociale"),
        description=_l("Ex : 1 55 12 55 555 555 55"),
        validators=[
            DataRequired(_l("Indiquez votre numéro de sécurité sociale.")),
            checked(v.nir),
        ],
        render_kw=counted(15, inputmode="numeric", spellcheck="false"),
    )
    card_serial = StringField(
        _l("Mon numéro de série"),
        description=_l("Ex : 0102457612 4"),
        validators=[
            DataRequired(_l("Indiquez le numéro de série de votre carte Vitale.")),
            checked(v.vitale_serial),
        ],
        render_kw=counted(11, inputmode="numeric", spellcheck="false"),
    )

    def validate(self, extra_validators: Any = None) -> bool:
        self.parent_login_needed = False
        if not super().validate(extra_validators):
            return False
        enrolment = self.enrolment
        record = registry.match_insured_card(
            nir=value(self.nir),
            card_serial=value(self.card_serial),
            birthdate=v.parse_iso_date(enrolment.data["birthdate"]),
        )
        if record is None:
            # Never say which of the three differed: that would help guess the others.
            self.form_errors.append(NO_MATCH)
            return False
        contact = record.parent if record.parent_id else record
        if contact is None or not (contact.email or contact.mobile):
            self.form_errors.append(
                _l(
                    "Aucune adresse e-mail ni aucun numéro de téléphone portable n'est connu "
                    "pour vous envoyer un code provisoire. Contactez votre caisse d'assurance "
                    "maladie pour les faire enregistrer."
                )
            )
            return False
        if record.parent_id and enrolment.journey == mes.JOURNEY:
            parent = find_account(contact.nir(), "nir")
            current = sso.current_session()
            if parent is None or current is None or current.account_id != parent.id:
                self.parent_login_needed = True
                self.form_errors.append(
                    _l(
                        "Cette date de naissance est celle d'un enfant rattaché à votre carte "
                        "Vitale. Pour activer son profil, connectez-vous d'abord à votre propre "
                        "compte, ou activez d'abord votre propre profil Mon espace santé."
                    )
                )
                return False
            self.parent_account_id = parent.id
        self.record = record
        return True


class ChannelForm(FlaskForm):
    channel = RadioField(
        _l("Choisissez la façon dont vous voulez recevoir votre code provisoire"),
        choices=[SelectChoice("email", _l("Par e-mail")), SelectChoice("sms", _l("Par SMS"))],
        validators=[DataRequired(_l("Choisissez comment recevoir votre code provisoire."))],
    )

    def destinations(self) -> mes.Destinations:
        contact = record_of(self.enrolment, "contact_id")
        return mes.destinations(contact) if contact else mes.Destinations(None, None)

    def validate_channel(self, field: Any) -> None:
        destination = self.destinations().of(field.data)
        if not destination:
            raise ValidationError(_l("Choisissez comment recevoir votre code provisoire."))
        if not mes.may_issue_code(self.enrolment, destination):
            raise ValidationError(
                _l(
                    "Vous avez demandé trop de codes provisoires. Patientez quelques minutes "
                    "avant d'en demander un nouveau."
                )
            )


class ProvisionalCodeForm(FlaskForm):
    code = StringField(
        _l("Saisir le code provisoire à 12 caractères"),
        description=_l("Ex : HuqZF3KXCz8k"),
        validators=[
            DataRequired(_l("Saisissez le code provisoire reçu.")),
            Regexp(
                r"^\s*[A-Za-z0-9]{12}\s*$",
                message=_l("Le code provisoire comporte 12 lettres et chiffres."),
            ),
        ],
        render_kw=counted(
            12,
            autocomplete="one-time-code",
            spellcheck="false",
            autocapitalize="off",
            autocorrect="off",
            maxlength="20",
        ),
    )

    def validate_code(self, field: Any) -> None:
        if field.errors:  # a typo in the format costs no attempt
            return
        row = mes.current_provisional_code(self.enrolment)
        try:
            verification.check_code(row, field.data)
        except verification.CodeRejected as rejected:
            self.rejected = rejected
            raise ValidationError(CODE_MESSAGES[rejected.reason]) from None


class ReviewForm(FlaskForm):
    """Read-only personal information from the registry: "Continuer"."""


class ConditionsForm(FlaskForm):
    accept = BooleanField(
        _l(
            "J'accepte les Conditions Générales d'Utilisation et la Politique de protection "
            "des données personnelles."
        ),
        validators=[
            DataRequired(
                _l(
                    "Pour activer Mon espace santé, acceptez les Conditions Générales "
                    "d'Utilisation et la Politique de protection des données personnelles."
                )
            )
        ],
    )


class ContactForm(FlaskForm):
    mobile = phone_field(_l("Numéro de téléphone"), mobile=True)

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        data = self.enrolment.data
        record = record_of(self.enrolment)
        email = data.get("email") or (record.email if record else None)
        if not email:
            self.form_errors.append(
                _l("L'adresse e-mail est obligatoire : ajoutez votre adresse e-mail.")
            )
            return False
        if record is not None and email == record.email and services.email_in_use(email):
            # The address on record is the person's own: saying it is used tells them nothing
            # about anyone else. A typed address is checked by the link instead.
            self.form_errors.append(
                _l(
                    "Un compte utilise déjà cette adresse e-mail : connectez-vous avec ce "
                    "compte, ou modifiez l'adresse e-mail."
                )
            )
            return False
        self.email = email
        return True


class EmailForm(FlaskForm):
    email = email_field()
    email_confirm = email_confirm_field()


class CredentialsForm(FlaskForm):
    username = username_field(_l("Choisir mon identifiant"), _l("Ex : prenom.nom, pseudo, etc"))
    password, password_confirm = new_password_fields(
        _l("Choisir mon mot de passe"), _l("Confirmer mon mot de passe")
    )

    def validate_username(self, field: Any) -> None:
        if services.username_in_use(value(field) or field.data):
            raise ValidationError(
                _l("Cet identifiant n'est pas disponible, choisissez-en un autre.")
            )


DECISION_LABELS = {
    "opposer": _l("Je m'oppose à la création de Mon espace santé"),
    "lever": _l("Je lève mon opposition à Mon espace santé"),
    "cloturer": _l("Je clôture Mon espace santé"),
    "reactiver": _l("Je réactive Mon espace santé"),
}


class DecisionForm(FlaskForm):
    decision = RadioField(
        _l("Ma décision"),
        choices=[SelectChoice(k, label) for k, label in DECISION_LABELS.items()],
        validators=[DataRequired(_l("Confirmez votre décision."))],
    )

    def offer(self, decision: str) -> None:
        """Only the decision that applies to the current status may be chosen."""
        self.decision.choices = [SelectChoice(decision, DECISION_LABELS[decision])]

    def validate(self, extra_validators: Any = None) -> bool:
        self.offer(self.enrolment.data.get("decision_offered", "opposer"))
        return super().validate(extra_validators)
