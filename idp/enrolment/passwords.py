"""The password policy of a journey, applied to the person being enrolled."""

from __future__ import annotations

from typing import Any

from idp.enrolment import validators as v
from idp.enrolment.models import Enrolment
from idp.security.password_policy import POLICIES
from idp.security.password_policy import PasswordPolicy
from idp.security.password_policy import PersonalInfo
from idp.security.password_policy import PolicyValidator


def policy_for(journey_name: str | None, client_id: str | None = None) -> PasswordPolicy:
    """The portal's own policy when its registration names one, else the journey's."""
    from idp.enrolment.engine import get_journey

    if client_id:
        from idp.oidc.clients import get_client

        client = get_client(client_id)
        if client is not None and client.password_policy in POLICIES:
            return POLICIES[client.password_policy]
    journey = get_journey(journey_name)
    return POLICIES[journey.policy] if journey else POLICIES["default"]


def personal_info(enrolment: Enrolment | None) -> PersonalInfo:
    """What a password must not contain: names, birthdate, identifiers."""
    data = enrolment.data if enrolment is not None else {}
    names = [data.get(k) for k in ("given_name", "family_name", "usage_name")]
    identifiers = [data.get(k) for k in ("username", "ine", "siret", "rna", "nir")]
    email = data.get("email") or ""
    identifiers.append(email.split("@")[0] if email else None)
    if data.get("nir_encrypted"):
        from idp.registry.crypto import decrypt

        identifiers.append(decrypt(data["nir_encrypted"]))
    born = data.get("birthdate")
    return PersonalInfo(
        names=[n for n in names if n],
        birthdate=v.parse_iso_date(born) if born else None,
        identifiers=[i for i in identifiers if i],
    )


def policy_validator() -> PolicyValidator:
    """Checks a new password against the journey's policy and the person's data."""

    def policy(form: Any) -> PasswordPolicy:
        enrolment = getattr(form, "enrolment", None)
        if enrolment is None:
            return policy_for(None)
        return policy_for(enrolment.journey, getattr(enrolment, "client_id", None))

    def personal(form: Any) -> PersonalInfo:
        info = personal_info(getattr(form, "enrolment", None))
        username = form.data.get("username")
        if username:
            info.identifiers.append(username)
        return info

    return PolicyValidator(policy, personal)


def account_as_enrolment(account: Any) -> Any:
    """An existing account seen as the enrolment the policy validator reads (journey and
    personal data), for password changes and resets."""
    from types import SimpleNamespace

    return SimpleNamespace(
        journey=account.journey,
        data={
            "given_name": account.given_name,
            "family_name": account.family_name,
            "usage_name": account.usage_name,
            "birthdate": account.birthdate.isoformat() if account.birthdate else None,
            "username": account.username,
            "email": account.email,
        },
    )
