"""Password and identifier recovery: issuing reset secrets, checking them, setting the password.

Nothing here tells whether an account exists: callers answer the same way either way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy import update

from idp.auth import lockout
from idp.auth import services
from idp.auth import session as sso
from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.security import audit
from idp.security import tokens
from idp.security import verification
from idp.security.passwords import hash_password

LINK_PURPOSE = "password-reset"
CODE_PURPOSE = "password-reset-sms"
LINK_LIFETIME = dt.timedelta(hours=1)
CODE_LIFETIME = dt.timedelta(minutes=10)
CODE_ATTEMPTS = 5
# After a right SMS code, the new password must be chosen within this delay.
CODE_GRACE = dt.timedelta(minutes=15)


class ResetRefused(Exception):
    """The link or code is unknown, used, superseded or expired; `reason` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class ResetRequest:
    """What to send, when an account can be reached on the chosen channel."""

    account: Account
    channel: str
    destination: str
    secret: str


def recoverable(account: Account | None) -> bool:
    """An active account of its own (a managed child account has no password to reset)."""
    return account is not None and account.is_active and account.managed_by_id is None


def request_reset(
    identifier: str, kind: str, channel: str, origin: audit.Origin
) -> ResetRequest | None:
    """Issue a reset link (email) or code (SMS) if the account has that contact on record."""
    account = services.find_account(identifier, kind)
    if not recoverable(account):
        audit.record("password_reset.requested", origin=origin, channel=channel, found=False)
        return None
    assert account is not None
    # Only a verified phone gets a code; only an account with an email gets a link.
    destination = (
        (account.phone if account.phone_verified_at is not None else None)
        if channel == "sms"
        else account.email
    )
    if not destination:
        audit.record(
            "password_reset.requested",
            account_id=account.id,
            origin=origin,
            channel=channel,
            found=True,
            sent=False,
        )
        return None
    if channel == "sms":
        issued = verification.issue_code(
            CODE_PURPOSE,
            destination,
            CODE_LIFETIME,
            account_id=account.id,
            max_attempts=CODE_ATTEMPTS,
        )
    else:
        issued = verification.issue_link(
            LINK_PURPOSE, destination, LINK_LIFETIME, account_id=account.id
        )
    audit.record(
        "password_reset.requested",
        account_id=account.id,
        origin=origin,
        channel=channel,
        found=True,
        sent=True,
    )
    return ResetRequest(account, channel, issued.verification.destination, issued.secret)


def _live(row: verification.Verification | None) -> verification.Verification:
    if row is None or row.account_id is None:
        raise ResetRefused("missing")
    if row.used_at is not None:
        raise ResetRefused("used")
    if row.superseded_at is not None:
        raise ResetRefused("superseded")
    if row.expires_at <= utcnow():
        raise ResetRefused("expired")
    return row


def link_account(secret: str) -> Account:
    """The account a live reset link belongs to (the link is not consumed)."""
    row = _live(verification.find_link(secret, LINK_PURPOSE))
    account = db.session.get(Account, row.account_id)
    if not recoverable(account):
        raise ResetRefused("missing")
    assert account is not None
    return account


def consume_link(secret: str) -> Account:
    """Use the link once; raise ResetRefused if it may not be used."""
    account = link_account(secret)
    # Conditional update: of two simultaneous posts of one link, only one wins.
    used = db.session.execute(
        update(verification.Verification)
        .where(
            verification.Verification.secret_hash == tokens.sha256(secret),
            verification.Verification.purpose == LINK_PURPOSE,
            verification.Verification.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    if used.rowcount != 1:
        raise ResetRefused("used")
    return account


def check_reset_code(identifier: str, kind: str, code: str, origin: audit.Origin) -> Account:
    """The account whose latest reset code this is; counts the attempt either way."""
    account = services.find_account(identifier, kind)
    row = None
    if recoverable(account):
        assert account is not None
        row = db.session.scalar(
            select(verification.Verification)
            .where(
                verification.Verification.account_id == account.id,
                verification.Verification.purpose == CODE_PURPOSE,
            )
            .order_by(verification.Verification.id.desc())
            .limit(1)
        )
    try:
        verification.check_code(row, code)
    except verification.CodeRejected as rejected:
        audit.record(
            "password_reset.code_rejected",
            account_id=account.id if row is not None and account else None,
            origin=origin,
            reason=rejected.reason,
        )
        raise ResetRefused(rejected.reason) from None
    assert account is not None and row is not None
    audit.record("password_reset.code_accepted", account_id=account.id, origin=origin)
    return account


def code_grant_valid(account: Account | None, granted_at: dt.datetime) -> bool:
    """A right code allows one password change, soon after, and none once it is done."""
    if not recoverable(account):
        return False
    assert account is not None
    if utcnow() - granted_at > CODE_GRACE:
        return False
    return account.password_set_at is None or account.password_set_at < granted_at


def reset_password(account: Account, password: str, method: str, origin: audit.Origin) -> None:
    """Set the new password; end every SSO session and revoke every token of the account."""
    now = utcnow()
    account.password_hash = hash_password(password)
    account.password_set_at = now
    # Other reset links and codes of this account stop working.
    db.session.execute(
        update(verification.Verification)
        .where(
            verification.Verification.account_id == account.id,
            verification.Verification.purpose.in_((LINK_PURPOSE, CODE_PURPOSE)),
            verification.Verification.used_at.is_(None),
            verification.Verification.superseded_at.is_(None),
        )
        .values(superseded_at=now)
    )
    ended = sso.end_account_sessions(account.id, origin, "password_reset")
    # Remembered devices no longer skip the second factor (idp.mfa).
    from idp.mfa.devices import forget_all_devices

    forget_all_devices(account.id, origin, reason="password_reset")
    # Whoever could choose a new password owns the account: a lock has no more purpose.
    lockout.unlock(account, origin=origin, reason="password_reset")
    audit.record(
        "password_reset.completed",
        account_id=account.id,
        origin=origin,
        method=method,
        sessions_ended=ended,
    )


def account_for_email(email: str) -> Account | None:
    """The active account registered with this address (identifier reminder)."""
    account = db.session.scalar(
        select(Account).where(Account.email == services.normalise_email(email))
    )
    return account if recoverable(account) else None
