"""The contact email of an account created through FranceConnect, confirmed by a link.

FranceConnect's email is only a suggestion (often shared within a family): the address
is stored on the account once its owner opens the link, never before, and an address
another account already uses only earns that account's owner a notice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.security import audit
from idp.security import verification
from idp.security.verification import Verification

PURPOSE = "fc_email"
LINK_VALIDITY = dt.timedelta(days=7)


def email_in_use(email: str, but: int | None = None) -> bool:
    owner = db.session.scalar(select(Account.id).where(Account.email == email))
    return owner is not None and owner != but


def offer(account: Account, email: str, origin: audit.Origin) -> str | None:
    """A confirmation link secret for `email`, or None when another account uses it."""
    if email_in_use(email, but=account.id):
        audit.record("federation.email_taken", account_id=account.id, origin=origin)
        return None
    issued = verification.issue_link(PURPOSE, email, LINK_VALIDITY, account_id=account.id)
    audit.record("federation.email_link_sent", account_id=account.id, origin=origin)
    return issued.secret


def link_state(row: Verification | None) -> str:
    """valid | used | superseded | expired | gone."""
    if row is None:
        return "gone"
    if row.used_at is not None:
        return "used"
    if row.superseded_at is not None:
        return "superseded"
    if row.expires_at <= utcnow():
        return "expired"
    return "valid"


def find(secret: str) -> Verification | None:
    return verification.find_link(secret, PURPOSE)


def confirm(row: Verification, origin: audit.Origin) -> str:
    """Store the confirmed address: "confirmed", or "taken" if another account got it since."""
    account = db.session.get(Account, row.account_id)
    if account is None:
        return "gone"
    row.used_at = utcnow()
    if email_in_use(row.destination, but=account.id):
        audit.record("federation.email_taken", account_id=account.id, origin=origin)
        return "taken"
    account.email = row.destination
    account.email_verified_at = utcnow()
    audit.record("federation.email_confirmed", account_id=account.id, origin=origin)
    return "confirmed"
