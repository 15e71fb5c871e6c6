"""Changing the mobile phone from Mon compte: proved by a code sent by SMS to the new number.

    request (new number + current password) → a 6-digit code to the NEW number
    confirm (the code) → phone changed, phone_verified_at set, the email on record told

The pending change lives in the code's row (its destination is the new number): nothing is
kept in the browser, and a new request supersedes the older code.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.security import audit
from idp.security import verification
from idp.security.passwords import verify_password

PURPOSE = "phone-change"
CODE_LIFETIME = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
# Sending limits over one hour: to one number (anyone's phone must not be flooded) and
# for one account.
CODES_PER_NUMBER = 3
CODES_PER_ACCOUNT = 5
WINDOW = dt.timedelta(hours=1)


class WrongPassword(Exception):
    """The current password typed is wrong."""


class SameNumber(Exception):
    """The new number is already the account's verified mobile."""


class TooManyCodes(Exception):
    """Too many codes were sent lately, to this number or for this account."""


class CodeRefused(Exception):
    """No pending change, or a wrong, expired, used or exhausted code; `reason` says which."""

    def __init__(self, reason: str, remaining: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.remaining = remaining


def check_password(account: Account, password: str | None, origin: audit.Origin) -> None:
    """Raise WrongPassword unless `password` is the account's (audited)."""
    if account.password_hash is None:
        return
    ok, new_hash = verify_password(account.password_hash, password or "")
    if not ok:
        audit.record("phone_change.refused", account_id=account.id, origin=origin)
        raise WrongPassword
    if new_hash:
        account.password_hash = new_hash


def _sent_for_account(account_id: int, since: dt.datetime) -> int:
    return (
        db.session.scalar(
            select(func.count(verification.Verification.id)).where(
                verification.Verification.account_id == account_id,
                verification.Verification.purpose == PURPOSE,
                verification.Verification.created_at >= since,
            )
        )
        or 0
    )


def request_change(account: Account, new_phone: str, origin: audit.Origin) -> verification.Issued:
    """A code for `new_phone` (E.164), valid CODE_LIFETIME; older codes stop working."""
    if account.phone == new_phone and account.phone_verified_at is not None:
        raise SameNumber
    since = utcnow() - WINDOW
    if (
        verification.codes_issued_since(PURPOSE, since, destination=new_phone) >= CODES_PER_NUMBER
        or _sent_for_account(account.id, since) >= CODES_PER_ACCOUNT
    ):
        audit.record("phone_change.throttled", account_id=account.id, origin=origin)
        raise TooManyCodes
    issued = verification.issue_code(
        PURPOSE,
        new_phone,
        CODE_LIFETIME,
        account_id=account.id,
        max_attempts=MAX_ATTEMPTS,
        channel="sms",
    )
    audit.record("phone_change.requested", account_id=account.id, origin=origin)
    return issued


def pending(account_id: int) -> verification.Verification | None:
    """The code waiting to be typed, if any (not used, not superseded, not expired)."""
    row = db.session.scalar(
        select(verification.Verification)
        .where(
            verification.Verification.account_id == account_id,
            verification.Verification.purpose == PURPOSE,
        )
        .order_by(verification.Verification.id.desc())
        .limit(1)
    )
    if (
        row is None
        or row.used_at is not None
        or row.superseded_at is not None
        or row.expires_at <= utcnow()
        or row.attempts >= row.max_attempts
    ):
        return None
    return row


def confirm(account: Account, code: str, origin: audit.Origin) -> str | None:
    """Change the number if the code is right; return the former number (None: none)."""
    row = pending(account.id)
    if row is None:
        raise CodeRefused("missing")
    try:
        verification.check_code(row, "".join((code or "").split()))
    except verification.CodeRejected as rejected:
        audit.record(
            "phone_change.code_rejected",
            account_id=account.id,
            origin=origin,
            reason=rejected.reason,
        )
        raise CodeRefused(rejected.reason, rejected.remaining) from None
    # The same code sent twice at once: only the request that marks it used changes the number.
    with db.session.no_autoflush:
        claimed = db.session.execute(
            update(verification.Verification)
            .where(
                verification.Verification.id == row.id, verification.Verification.used_at.is_(None)
            )
            .values(used_at=row.used_at)
            .execution_options(synchronize_session=False)
        ).rowcount
    if claimed != 1:
        raise CodeRefused("used")
    former = account.phone
    account.phone = row.destination
    account.phone_verified_at = utcnow()
    if former and former != row.destination:
        from idp.account.email_change import retire_sent_to

        retire_sent_to(account.id, former)  # reset codes sent to the former number
    audit.record("phone_change.completed", account_id=account.id, origin=origin)
    return former
