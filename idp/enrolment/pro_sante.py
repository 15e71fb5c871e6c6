"""`pro-sante` journey (seed 004): the professionals' space, one "INSCRIPTION" step.

The N° tiers (FINESS) is proved with the old site's password (sent by post, checked once
then forgotten) or with the confidential number sent by post; the person chooses a new
password on the same page. Then the email link, which activates and logs in (engine).
Professionals without either ask for a confidential number: pro_sante_request.py.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from limits import parse as parse_limit
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from idp.auth.limits import client_network
from idp.enrolment import services
from idp.enrolment import validators as v
from idp.enrolment.engine import CGU_VERSION
from idp.enrolment.engine import Journey
from idp.enrolment.engine import Step
from idp.enrolment.engine import register
from idp.enrolment.engine import remember
from idp.enrolment.fields import checked
from idp.enrolment.fields import same_as
from idp.enrolment.fields import value
from idp.enrolment.models import Enrolment
from idp.extensions import db
from idp.extensions import limiter
from idp.models import Account
from idp.registry import services as registry
from idp.registry.models import ProfessionalRecord
from idp.security import audit
from idp.security.password_policy import PersonalInfo
from idp.security.password_policy import PolicyValidator
from idp.security.password_policy import check_password
from idp.security.password_policy import get_policy
from idp.security.passwords import hash_password

NAME = "pro-sante"
POLICY = "pro-sante"
# Wrong proofs allowed per N° tiers from one client network (IPv4 /24, IPv6 /48, as for the
# login: idp.auth.limits), and over all networks a ceiling. A FINESS is public: counted alone,
# anyone typing ten wrong proofs an hour kept its professional from ever signing up; now they
# spend their own network's budget, and blocking everyone takes ten networks busy all hour.
# The registry secrets are long: 100 guesses an hour keep an online guess out of reach.
PROOF_FAILURES = parse_limit("10 per hour")
PROOF_FAILURES_ANYWHERE = parse_limit("100 per hour")

NO_MATCH = _l(
    "Les informations saisies ne permettent pas de vous identifier. Vérifiez votre numéro "
    "tiers et votre mot de passe actuel ou votre numéro confidentiel."
)
NEITHER = _l(
    "Saisissez votre mot de passe actuel (si vous utilisiez déjà l'ancien site) ou votre "
    "numéro confidentiel (reçu par courrier)."
)
BOTH = _l(
    "Saisissez soit votre mot de passe actuel, soit votre numéro confidentiel, mais pas les deux."
)
TOO_MANY = _l("Trop d'essais pour ce numéro tiers. Réessayez dans une heure.")
EXISTS = _l("Un compte existe déjà pour ce numéro tiers : connectez-vous.")


def _typed_personal(form: Any) -> PersonalInfo:
    """What the password must not contain, from what is typed on the page."""
    identifiers = [value(form.finess) if not form.finess.errors else None]
    email = value(form.email) if not form.email.errors else None
    identifiers.append(email.split("@")[0] if email else None)
    return PersonalInfo(identifiers=[i for i in identifiers if i])


def _same_password(form: Any, field: Any) -> None:
    # Exact comparison: a password's case matters (fields.same_as ignores it, for emails).
    if field.data != form.password.data:
        raise ValidationError(_l("Les deux mots de passe ne sont pas identiques."))


class InscriptionForm(FlaskForm):
    finess = StringField(
        _l("Mon numéro tiers"),
        description=_l("N° FINESS (votre N° de professionnel de santé), 9 chiffres."),
        validators=[
            DataRequired(_l("Indiquez votre numéro tiers (N° FINESS).")),
            checked(v.finess),
        ],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    legacy_password = PasswordField(
        _l("Mon mot de passe actuel"),
        description=_l("Le mot de passe habituel, de 10 caractères, reçu par courrier."),
        validators=[Optional(), Length(max=128)],
        render_kw={"autocomplete": "current-password"},
    )
    confidential_code = StringField(
        _l("Mon numéro confidentiel"),
        description=_l("Reçu par courrier si vous n'avez jamais eu de compte."),
        validators=[Optional(), Length(max=64)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    email = EmailField(
        _l("Mon adresse mail"),
        description=_l(
            "Elle servira à vous renvoyer automatiquement le mot de passe en cas de besoin. "
            "Format attendu : nom@domaine.fr"
        ),
        validators=[DataRequired(_l("Indiquez votre adresse mail.")), checked(v.email)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    email_confirm = EmailField(
        _l("Confirmation de mon adresse mail"),
        validators=[
            DataRequired(_l("Saisissez une seconde fois votre adresse mail.")),
            same_as(
                "email", _l("Les deux adresses mail ne sont pas identiques."), ignore_case=True
            ),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Mon mot de passe personnalisé"),
        description=_l("Mot de passe de votre choix."),
        validators=[
            DataRequired(_l("Choisissez votre mot de passe.")),
            PolicyValidator(lambda form: POLICY, _typed_personal),
        ],
    )
    password_confirm = PasswordField(
        _l("Confirmation du mot de passe"),
        validators=[
            DataRequired(_l("Saisissez une seconde fois votre mot de passe.")),
            _same_password,
        ],
    )
    cgu = BooleanField(
        _l("Valider les conditions générales d'utilisation"),
        validators=[DataRequired(_l("Vous devez valider les conditions générales d'utilisation."))],
    )

    proof_error: Any = None
    account_exists = False

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        legacy = self.legacy_password.data or ""
        code = (self.confidential_code.data or "").strip()
        if bool(legacy) == bool(code):
            self.proof_error = BOTH if legacy else NEITHER
            self.form_errors.append(self.proof_error)
            return False
        if not valid:
            return False
        finess = value(self.finess)
        if _proofs_exhausted(finess):
            self.form_errors.append(TOO_MANY)
            return False
        record = registry.find_professional(finess)
        if legacy:
            proven = record is not None and registry.check_legacy_password(record, legacy)
        else:
            proven = record is not None and registry.check_confidential_code(record, code)
        if not proven:
            # One message whatever failed: the FINESS, the old password or the number.
            _count_failed_proof(finess)
            self.form_errors.append(NO_MATCH)
            return False
        existing = account_for(finess)
        if existing is not None and existing.status != "pending":
            self.account_exists = True
            self.form_errors.append(EXISTS)
            return False
        if not self._password_fits(record, legacy):
            return False
        self.record = record
        self.proof = "legacy" if legacy else "code"
        return True

    def _password_fits(self, record: ProfessionalRecord, legacy: str) -> bool:
        """Checks that need the proved record: names, and not the password sent by post."""
        personal = _typed_personal(self)
        personal.names = [record.given_names, record.birth_family_name]
        errors = check_password(get_policy(POLICY), self.password.data, personal)
        if legacy and self.password.data == legacy:
            errors.append(_l("Choisissez un mot de passe différent de celui reçu par courrier."))
        self.password.errors = [*self.password.errors, *errors]
        return not errors


def _proof_limits(finess: str) -> tuple[tuple[Any, str, str], ...]:
    return (
        (PROOF_FAILURES, f"pro-sante-proof:{client_network()}", finess),
        (PROOF_FAILURES_ANYWHERE, "pro-sante-proof:*", finess),
    )


def _proofs_exhausted(finess: str) -> bool:
    if not limiter.enabled:
        return False
    return any(not limiter.limiter.test(*limit) for limit in _proof_limits(finess))


def _count_failed_proof(finess: str) -> None:
    if limiter.enabled:
        for limit in _proof_limits(finess):
            limiter.limiter.hit(*limit)


def account_for(finess: str) -> Account | None:
    """The account that holds this N° tiers, if any."""
    return services.holder_of("finess", finess)


def save_inscription(enrolment: Enrolment, form: InscriptionForm) -> None:
    record = form.record
    enrolment.password_hash = hash_password(form.password.data)
    remember(
        enrolment,
        professional_id=record.id,
        proof=form.proof,
        finess=record.finess,
        email=value(form.email),
        given_name=record.given_names,
        family_name=record.birth_family_name,
        street_address=record.address,
        postcode=record.postcode,
        locality=record.city,
    )


def inscription_context(enrolment: Enrolment, form: InscriptionForm) -> dict[str, Any]:
    return_to = enrolment.return_to
    return {
        "typed_inputs": _typed_personal(form).identifiers if form.is_submitted() else [],
        "login_url": url_for("auth.login", next=return_to) if return_to else url_for("auth.login"),
    }


def finish(enrolment: Enrolment, origin: audit.Origin) -> services.Created:
    """The pending account, with the registry's names and address; the old password goes."""
    data = enrolment.data
    # A never-activated account on this N° tiers gives way (services.gives_way).
    services.replace_pending("finess", data["finess"], NAME, origin)
    created = services.create_pending_account(
        enrolment,
        {
            "email": data["email"],
            "family_name": data["family_name"],
            "given_name": data["given_name"],
            "street_address": data["street_address"],
            "postal_code": data["postcode"],
            "locality": data["locality"],
            "country": "FR",
        },
        origin,
    )
    if created.account is not None:
        services.add_identifier(created.account, "finess", data["finess"], shown=True)
        services.record_consent(created.account, "cgu", granted=True, version=CGU_VERSION)
        record = db.session.get(ProfessionalRecord, data["professional_id"])
        if record is not None and record.legacy_password_hash:
            # Verified once (or made useless by the account): from now on only the new
            # argon2id password opens the account.
            registry.forget_legacy_password(record)
            audit.record("registry.legacy_password_forgotten", account_id=created.account.id,
                         origin=origin, finess=data["finess"], used=data["proof"] == "legacy")  # fmt: skip
    return created


PRO_SANTE = register(
    Journey(
        name=NAME,
        title=_l("Espace tiers professionnels de santé"),
        steps=(
            Step(
                "inscription",
                _l("Inscription"),
                InscriptionForm,
                "enrolment/pro_sante/inscription.html",
                save_inscription,
                context=inscription_context,
            ),
        ),
        policy=POLICY,
        channels=("email",),
        identifier="finess",
        finish=finish,
        login_kind="finess",
    )
)
