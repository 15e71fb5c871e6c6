"""Authenticating a person with identifier + password."""

from __future__ import annotations

import functools

from sqlalchemy import bindparam
from sqlalchemy import select

from idp.auth import lockout
from idp.auth.known_devices import Device
from idp.errors import AccountUnavailable
from idp.errors import InvalidCredentials
from idp.extensions import db
from idp.models import Account
from idp.security import audit
from idp.security.passwords import verify_password


def normalise_email(email: str) -> str:
    return email.strip().lower()


@functools.cache
def _by_email_or_username() -> tuple:
    """The two lookups of find_account, built once: building and hashing a statement
    costs about as much as running it."""
    return (
        select(Account).where(Account.email == bindparam("value")),
        select(Account).where(Account.username == bindparam("value")),
    )


# Login identifiers other than email/username, with the validator that normalises them.
IDENTIFIER_KINDS = ("nir", "finess", "ine")


def find_account(identifier: str, kind: str = "any") -> Account | None:
    """An account by email (case-insensitive) or username, or by a registered identifier."""
    ident = identifier.strip()
    if not ident:
        return None
    if kind in IDENTIFIER_KINDS:
        return _by_identifier(kind, ident)
    # Two lookups on unique indexes (an OR would scan the table on SQLite and PostgreSQL).
    by_email, by_username = _by_email_or_username()
    found = db.session.scalar(by_email, {"value": normalise_email(ident)})
    if found is None:
        found = db.session.scalar(by_username, {"value": ident.lower()})
    return found


def _by_identifier(kind: str, raw: str) -> Account | None:
    from idp.enrolment import validators
    from idp.enrolment.services import holder_of

    try:
        value = getattr(validators, kind)(raw)
    except ValueError:
        return None
    return holder_of(kind, value)


def authenticate(
    identifier: str,
    password: str,
    origin: audit.Origin,
    kind: str = "any",
    devices: list[Device] | None = None,
) -> Account:
    """Return the account, or raise one generic error whatever failed.

    A missing account still costs one argon2 verification (timing says nothing). Too many
    failures for what was typed raise `lockout.Throttled` before the password is checked;
    an account locked through another of its identifiers fails like a wrong password (the
    same answer as for an identifier of nobody); the failure that locks a real account is
    reported in `InvalidCredentials.locked`.
    `devices`: the device cookie of the browser; one for this account skips those limits.
    """
    account = find_account(identifier, kind)
    device = lockout.trusted_device(account, devices or [])
    try:
        locked_elsewhere = lockout.check(identifier, account, origin, kind, device)
    except lockout.Throttled:
        audit.record("login.throttled", account_id=account.id if account else None, origin=origin)
        raise
    ok, new_hash = verify_password(account.password_hash if account else None, password)
    if account is None or not ok or locked_elsewhere:
        reason = "unknown_identifier" if account is None else "bad_password"
        audit.record(
            "login.failed",
            account_id=account.id if account else None,
            origin=origin,
            reason="account_locked" if locked_elsewhere else reason,
        )
        locked = lockout.record_failure(identifier, account, origin, kind, device)
        # Its owner was told when the account was locked.
        raise InvalidCredentials(locked=None if locked_elsewhere else locked)
    lockout.record_success(identifier, account, kind, device)
    if not account.is_active:
        audit.record("login.refused", account_id=account.id, origin=origin, status=account.status)
        raise AccountUnavailable(account.status, account=account)
    if new_hash:
        account.password_hash = new_hash
        audit.record("password.rehashed", account_id=account.id, origin=origin)
    audit.record(
        "login.succeeded",
        account_id=account.id,
        origin=origin,
        method="pwd",
        known_device=device is not None,
    )
    return account
