"""Changing the account's email address: confirmed on the new address, told to the old one.

The requester never learns from the answer whether the new address belongs to another
account (the same "vérifiez votre messagerie" page either way, as at sign-up): when it does,
that address's owner gets a notice instead of a link.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from idp.auth.services import normalise_email
from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.security import audit
from idp.security import tokens
from idp.security import verification
from idp.security.passwords import verify_password

PURPOSE = "email-change"


class WrongPassword(Exception):
    """The current password typed is wrong."""


class ChangeRefused(Exception):
    """The link is unknown, used, superseded or expired, or the address is now taken."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class ChangeRequest:
    """What to send: a link to the new address, or a notice to its current owner."""

    new_email: str
    secret: str | None  # None: the address is taken, its owner gets a notice
    owner: Account | None = None


def check_password(account: Account, password: str | None, origin: audit.Origin) -> None:
    """Raise WrongPassword unless `password` is the account's (accounts without one pass)."""
    if account.password_hash is None:
        return
    ok, _rehash = verify_password(account.password_hash, password or "")
    if not ok:
        audit.record("email_change.refused", account_id=account.id, origin=origin)
        raise WrongPassword


def _owner(email: str) -> Account | None:
    return db.session.scalar(select(Account).where(Account.email == email))


def request_change(
    account: Account, new_email: str, lifetime: dt.timedelta, origin: audit.Origin
) -> ChangeRequest:
    """Issue a confirmation link for `new_email` (or nothing, when another account has it)."""
    email = normalise_email(new_email)
    owner = _owner(email)
    if owner is not None and owner.id != account.id:
        audit.record("email_change.requested", account_id=account.id, origin=origin, taken=True)
        return ChangeRequest(email, None, owner)
    issued = verification.issue_link(PURPOSE, email, lifetime, account_id=account.id)
    audit.record("email_change.requested", account_id=account.id, origin=origin, taken=False)
    return ChangeRequest(email, issued.secret)


def _live(secret: str) -> verification.Verification:
    row = verification.find_link(secret, PURPOSE)
    if row is None or row.account_id is None:
        raise ChangeRefused("missing")
    if row.used_at is not None:
        raise ChangeRefused("used")
    if row.superseded_at is not None:
        raise ChangeRefused("superseded")
    if row.expires_at <= utcnow():
        raise ChangeRefused("expired")
    return row


def pending(secret: str) -> tuple[Account, str]:
    """The account and new address of a live link (the link is not consumed)."""
    row = _live(secret)
    account = db.session.get(Account, row.account_id)
    if account is None or not account.is_active:
        raise ChangeRefused("missing")
    # A password chosen since the request (a reset by the owner, told of the request at the
    # old address) ends it: the request may come from whoever the reset shut out.
    if account.password_set_at is not None and account.password_set_at > row.created_at:
        raise ChangeRefused("superseded")
    return account, row.destination


def confirm(secret: str, origin: audit.Origin) -> tuple[Account, str | None]:
    """Use the link once and change the address; return the account and its old address."""
    account, new_email = pending(secret)
    used = db.session.execute(
        update(verification.Verification)
        .where(
            verification.Verification.secret_hash == tokens.sha256(secret),
            verification.Verification.purpose == PURPOSE,
            verification.Verification.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    if used.rowcount != 1:  # of two simultaneous confirmations, only one wins
        raise ChangeRefused("used")
    owner = _owner(new_email)
    if owner is not None and owner.id != account.id:
        audit.record("email_change.taken", account_id=account.id, origin=origin)
        raise ChangeRefused("taken")
    old_email = account.email
    try:
        with db.session.begin_nested():
            account.email = new_email
            account.email_verified_at = utcnow()
    except IntegrityError:  # taken between the check and the write
        raise ChangeRefused("taken") from None
    if old_email:
        retire_sent_to(account.id, old_email)
    audit.record("email_change.completed", account_id=account.id, origin=origin)
    return account, old_email


def retire_sent_to(account_id: int, destination: str) -> None:
    """Links and codes of the account still waiting at a former address or number stop
    working: whoever still reads it (the reason to change it) could reset the password."""
    now = utcnow()
    db.session.execute(
        update(verification.Verification)
        .where(
            verification.Verification.account_id == account_id,
            verification.Verification.destination == destination,
            verification.Verification.used_at.is_(None),
            verification.Verification.superseded_at.is_(None),
        )
        .values(superseded_at=now)
    )
