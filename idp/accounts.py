"""Creating and disabling accounts (operators' CLI; sign-up journeys build on it)."""

from __future__ import annotations

import datetime as dt

from email_validator import EmailNotValidError
from email_validator import validate_email
from sqlalchemy import select

from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.security import audit
from idp.security.passwords import hash_password


class InvalidAccountData(ValueError):
    """A field that may not be stored as given."""


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidAccountData(f"Adresse électronique invalide : {email}") from exc


def create_account(
    *,
    email: str,
    password: str | None,
    username: str | None = None,
    given_name: str | None = None,
    family_name: str | None = None,
    birthdate: dt.date | None = None,
    active: bool = False,
) -> Account:
    email = normalise_email(email)
    if db.session.scalar(select(Account.id).where(Account.email == email)):
        raise InvalidAccountData("Cette adresse électronique est déjà utilisée.")
    if username and db.session.scalar(
        select(Account.id).where(Account.username == username.lower())
    ):
        raise InvalidAccountData("Cet identifiant est déjà utilisé.")
    now = utcnow()
    account = Account(
        email=email,
        # Stored lower-case so that logins use the unique index (no lower() scan).
        username=username.lower() if username else None,
        given_name=given_name,
        family_name=family_name,
        birthdate=birthdate,
        status="active" if active else "pending",
        email_verified_at=now if active else None,
        password_hash=hash_password(password) if password else None,
        password_set_at=now if password else None,
    )
    db.session.add(account)
    db.session.flush()
    audit.record("account.created", account_id=account.id, by="cli")
    return account


def disable_account(account: Account, reason: str) -> None:
    """Disable an account and end everything it holds: sessions and tokens."""
    from idp.auth.session import end_account_sessions

    account.status = "disabled"
    # Portals that got tokens in its sessions are told (back-channel logout).
    end_account_sessions(account.id, None, reason="account_disabled")
    audit.record("account.disabled", account_id=account.id, reason=reason)
