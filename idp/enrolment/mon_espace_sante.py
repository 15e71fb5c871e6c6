"""`mon-espace-sante` journey (seed 002): activate Mon espace santé.

The person is proven as on the opposition journey (mon_espace_sante_opposition.py): birthdate,
NIR and Carte Vitale serial number matched in the insured registry, then a 12-character
provisional code sent to the contact on record (a child's: its parent's). Then come the
registry's information, the CGU, the contact details and the identifier + password; the
account is active at once (the code proved the contact), unless the email was changed: that
address is confirmed by a link first. A parent who gives a child's birthdate activates the
child's profile, managed by the parent's account (the parent must be logged in).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask import url_for
from flask_babel import lazy_gettext as _l

from idp.enrolment import engine
from idp.enrolment import mon_espace_sante_services as mes
from idp.enrolment import mon_espace_sante_views as views
from idp.enrolment import services
from idp.enrolment import validators as v
from idp.enrolment.engine import Journey
from idp.enrolment.engine import Step
from idp.enrolment.engine import Stop
from idp.enrolment.engine import register
from idp.enrolment.engine import remember
from idp.enrolment.fields import value
from idp.enrolment.models import Enrolment
from idp.enrolment.mon_espace_sante_forms import BirthdateForm
from idp.enrolment.mon_espace_sante_forms import CardForm
from idp.enrolment.mon_espace_sante_forms import ChannelForm
from idp.enrolment.mon_espace_sante_forms import ConditionsForm
from idp.enrolment.mon_espace_sante_forms import ContactForm
from idp.enrolment.mon_espace_sante_forms import CredentialsForm
from idp.enrolment.mon_espace_sante_forms import IntroForm
from idp.enrolment.mon_espace_sante_forms import ProvisionalCodeForm
from idp.enrolment.mon_espace_sante_forms import ReviewForm
from idp.enrolment.mon_espace_sante_forms import record_of
from idp.registry import crypto
from idp.registry import services as registry
from idp.security import audit
from idp.security.passwords import hash_password

TEMPLATES = "enrolment/mon_espace_sante/"
# What depends on who was identified: forgotten when the identity changes.
IDENTITY_KEYS = (
    "proven_for", "code_channel", "email", "mobile", "conditions", "username",
    "decision_offered", "decision",
)  # fmt: skip


def _rewind(enrolment: Enrolment, step_name: str) -> None:
    journey = engine.get_journey(enrolment.journey)
    assert journey is not None
    engine.rewind(journey, enrolment, journey.step(step_name))


def _forget_identity(enrolment: Enrolment) -> None:
    enrolment.data = {k: v for k, v in enrolment.data.items() if k not in IDENTITY_KEYS}
    enrolment.password_hash = None


def is_child(enrolment: Enrolment) -> bool:
    return bool(enrolment.data.get("child"))


def nir_of(enrolment: Enrolment) -> str:
    return crypto.decrypt(enrolment.data["nir_encrypted"])


def save_nothing(enrolment: Enrolment, form: Any) -> None:
    """A step that only shows something."""


# --- Identity proof (both journeys) ------------------------------------------------------


def save_birthdate(enrolment: Enrolment, form: BirthdateForm) -> None:
    born = value(form.birthdate).isoformat()
    if born != enrolment.data.get("birthdate"):
        _forget_identity(enrolment)
        remember(enrolment, birthdate=born, insured_id=None)
        _rewind(enrolment, "date-naissance")


def load_birthdate(enrolment: Enrolment, form: BirthdateForm) -> None:
    if enrolment.data.get("birthdate"):
        form.birthdate.data = v.format_date(enrolment.data["birthdate"])


def save_card(enrolment: Enrolment, form: CardForm) -> None:
    record = form.record
    if record.id != enrolment.data.get("insured_id"):
        _forget_identity(enrolment)
        _rewind(enrolment, "carte-vitale")
    remember(
        enrolment,
        insured_id=record.id,
        contact_id=record.parent_id or record.id,
        child=bool(record.parent_id),
        parent_account_id=getattr(form, "parent_account_id", None),
        nir_encrypted=crypto.encrypt(record.nir()),
        serial_encrypted=crypto.encrypt(value(form.card_serial)),
        family_name=record.birth_family_name,
        usage_name=record.usage_family_name,
        given_name=record.given_names,
    )


def load_card(enrolment: Enrolment, form: CardForm) -> None:
    data = enrolment.data
    if data.get("insured_id") and data.get("nir_encrypted"):
        form.nir.data = crypto.decrypt(data["nir_encrypted"])
        form.card_serial.data = crypto.decrypt(data["serial_encrypted"])


def card_context(enrolment: Enrolment, form: CardForm) -> dict[str, Any]:
    here = url_for("enrolment.step", journey=enrolment.journey, step="carte-vitale")
    return {
        "parent_login_needed": getattr(form, "parent_login_needed", False),
        "login_url": url_for("auth.login", next=here),
        "birthdate_url": url_for(
            "enrolment.step", journey=enrolment.journey, step="date-naissance"
        ),
    }


def save_channel(enrolment: Enrolment, form: ChannelForm) -> None:
    views.send_code(enrolment, form.channel.data)
    remember(enrolment, code_channel=form.channel.data, proven_for=None)
    _rewind(enrolment, "envoi-code")


def load_channel(enrolment: Enrolment, form: ChannelForm) -> None:
    form.channel.data = enrolment.data.get("code_channel")


def channel_context(enrolment: Enrolment, form: ChannelForm) -> dict[str, Any]:
    to = form.destinations()
    return {
        "masked": {
            "email": v.mask_email(to.email) if to.email else None,
            "sms": v.mask_phone(to.mobile) if to.mobile else None,
        },
        "child": is_child(enrolment),
    }


def code_context(enrolment: Enrolment, form: ProvisionalCodeForm) -> dict[str, Any]:
    channel = enrolment.data.get("code_channel")
    contact = record_of(enrolment, "contact_id")
    to = mes.destinations(contact) if contact else mes.Destinations(None, None)
    masked = None
    if channel == "email" and to.email:
        masked = v.mask_email(to.email)
    elif channel == "sms" and to.mobile:
        masked = v.mask_phone(to.mobile)
    return {
        "channel": channel,
        "masked_destination": masked,
        "rejected": getattr(form, "rejected", None),
        "resent": request.args.get("renvoye") == "1",
        "too_many": request.args.get("trop") == "1",
        "minutes": int(engine.CODE_VALIDITY.total_seconds() // 60),
    }


def proven(enrolment: Enrolment) -> None:
    remember(enrolment, proven_for=enrolment.data["insured_id"])


def save_code_activation(enrolment: Enrolment, form: ProvisionalCodeForm) -> None:
    """The code is right; an opposition or an existing space ends the activation here."""
    proven(enrolment)
    nir = nir_of(enrolment)
    space = mes.space_for_nir(nir)
    back = enrolment.return_to
    if space is not None and space.status == mes.OPPOSED:
        raise Stop(TEMPLATES + "opposed.html", since=space.status_at, next_url=back)
    holder = mes.account_with_nir(nir)
    if holder is not None and holder.status == "pending" and holder.journey == mes.JOURNEY:
        # An activation whose email link was never followed (a mistyped address): the
        # person proved themselves again, so that half-done account gives way.
        mes.drop_pending(holder, audit.origin_of(request))
        holder = None
    if holder is not None:
        raise Stop(TEMPLATES + "already_active.html", child=is_child(enrolment), next_url=back)


# --- Activation --------------------------------------------------------------------------


def review_context(enrolment: Enrolment, form: ReviewForm) -> dict[str, Any]:
    record = record_of(enrolment)
    return {
        "record": record,
        "masked_nir": registry.mask_nir(nir_of(enrolment)),
        "child": is_child(enrolment),
    }


def save_conditions(enrolment: Enrolment, form: ConditionsForm) -> None:
    remember(enrolment, conditions=True)


def load_conditions(enrolment: Enrolment, form: ConditionsForm) -> None:
    form.accept.data = bool(enrolment.data.get("conditions"))


def conditions_context(enrolment: Enrolment, form: ConditionsForm) -> dict[str, Any]:
    return {"cgu_version": engine.CGU_VERSION, "privacy_version": engine.PRIVACY_VERSION}


def save_contact(enrolment: Enrolment, form: ContactForm) -> None:
    remember(enrolment, email=form.email, mobile=value(form.mobile))


def load_contact(enrolment: Enrolment, form: ContactForm) -> None:
    data = enrolment.data
    record = record_of(enrolment)
    mobile = data.get("mobile", record.mobile if record else None)
    form.mobile.data = v.format_phone(mobile) if mobile else None


def contact_context(enrolment: Enrolment, form: ContactForm) -> dict[str, Any]:
    record = record_of(enrolment)
    email = enrolment.data.get("email") or (record.email if record else None)
    return {
        "email": email,
        "email_changed": bool(email and record and email != record.email),
        "edit_url": url_for("enrolment.mes_email"),
    }


def save_credentials(enrolment: Enrolment, form: CredentialsForm) -> None:
    remember(enrolment, username=value(form.username))
    enrolment.password_hash = hash_password(form.password.data)


def load_credentials(enrolment: Enrolment, form: CredentialsForm) -> None:
    form.username.data = enrolment.data.get("username")


def finish(enrolment: Enrolment, origin: Any) -> services.Created:
    """The person's account, pending; the conclusion activates it (or mails a link)."""
    data = enrolment.data
    record = record_of(enrolment)
    assert record is not None
    fields = {
        "email": data["email"],
        "username": data["username"],
        "family_name": record.birth_family_name,
        "usage_name": record.usage_family_name,
        "given_name": record.given_names,
        "birthdate": record.birthdate,
        "phone": data.get("mobile"),
        "postal_code": record.postcode,
        "country": "FR",
    }
    return mes.create_account(enrolment, fields, record.nir(), origin)


INTRO = Step(
    "commencer", _l("Activer Mon espace santé"), IntroForm, TEMPLATES + "intro.html", save_nothing
)
BIRTHDATE = Step(
    "date-naissance", _l("Ma date de naissance"), BirthdateForm, TEMPLATES + "birthdate.html",
    save_birthdate, load_birthdate,
)  # fmt: skip
CARD = Step(
    "carte-vitale", _l("Ma carte Vitale"), CardForm, TEMPLATES + "card.html",
    save_card, load_card, card_context,
)  # fmt: skip
CHANNEL = Step(
    "envoi-code", _l("Mon code provisoire"), ChannelForm, TEMPLATES + "channel.html",
    save_channel, load_channel, channel_context,
)  # fmt: skip


def code_step(save: Any) -> Step:
    return Step(
        "code-provisoire", _l("Saisie du code provisoire"), ProvisionalCodeForm,
        TEMPLATES + "code.html", save, None, code_context, commit_refused=True,
    )  # fmt: skip


MON_ESPACE_SANTE = register(
    Journey(
        name=mes.JOURNEY,
        title=_l("Activer Mon espace santé"),
        steps=(
            INTRO,
            BIRTHDATE,
            CARD,
            CHANNEL,
            code_step(save_code_activation),
            Step(
                "informations",
                _l("Mes informations personnelles"),
                ReviewForm,
                TEMPLATES + "review.html",
                save_nothing,
                None,
                review_context,
            ),
            Step(
                "conditions",
                _l("J'active Mon espace santé"),
                ConditionsForm,
                TEMPLATES + "conditions.html",
                save_conditions,
                load_conditions,
                conditions_context,
            ),
            Step(
                "coordonnees",
                _l("Mes coordonnées"),
                ContactForm,
                TEMPLATES + "contact.html",
                save_contact,
                load_contact,
                contact_context,
                skip=is_child,
            ),
            Step(
                "identifiant",
                _l("Mon identifiant et mon mot de passe"),
                CredentialsForm,
                TEMPLATES + "credentials.html",
                save_credentials,
                load_credentials,
                skip=is_child,
            ),
        ),
        policy="mon-espace-sante",
        channels=("email", "sms"),
        identifier="username",
        finish=finish,
        conclude=views.conclude_activation,
        on_activated=views.on_activated,
    )
)
