"""Deleting an account (RGPD): re-authentication, a grace period, then erasure.

    request → status "deleting", sessions ended, tokens revoked, deletion_scheduled_at set
    grace period: logging in only offers to cancel; portals get no token
    `idp purge` after deletion_scheduled_at → personal data erased, status "deleted"

The account row stays, with its `sub`, so that audit rows keep their meaning; audit rows of
the account keep only event, time and account id. Accounts it managed (a child's Mon espace
santé) are detached, not deleted: the child's health space is the child's, and the other
legal guardian or the child at majority can take it over through the usual activation.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from idp.auth import session as sso
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import Base
from idp.models import utcnow
from idp.security import audit
from idp.security import verification
from idp.security.passwords import verify_password

CODE_PURPOSE = "account-deletion"
CODE_LIFETIME = dt.timedelta(minutes=15)
CODE_LENGTH = 8
# Columns of the account that say nothing about the person and stay after erasure.
KEPT_COLUMNS = {"id", "sub", "status", "created_at", "updated_at", "deletion_scheduled_at"}


class ReauthFailed(Exception):
    """The password or code given to confirm the deletion is wrong."""


def managed_accounts(account: Account) -> list[Account]:
    """Accounts this one manages (children), detached when it is erased."""
    return list(db.session.scalars(select(Account).where(Account.managed_by_id == account.id)))


def send_code(account: Account) -> verification.Issued:
    """A code by mail, for accounts without a password (FranceConnect only)."""
    assert account.email
    return verification.issue_code(
        CODE_PURPOSE,
        account.email,
        CODE_LIFETIME,
        account_id=account.id,
        digits=CODE_LENGTH,
        alphabet=verification.ALPHANUMERIC,
        channel="email",
    )


def reauthenticate(
    account: Account, password: str | None, code: str | None, origin: audit.Origin
) -> None:
    """Raise ReauthFailed unless the password (or, without one, the mailed code) is right."""
    if account.password_hash is not None:
        ok, _rehash = verify_password(account.password_hash, password or "")
    else:
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
            verification.check_code(row, code or "")
            ok = True
        except verification.CodeRejected:
            ok = False
    if not ok:
        audit.record("account.deletion_refused", account_id=account.id, origin=origin)
        raise ReauthFailed


def schedule(account: Account, grace_days: int, origin: audit.Origin) -> dt.datetime | None:
    """Mark the account for deletion; end its sessions (back-channel) and revoke its tokens.
    None when a parallel request (the form sent twice at once) already did."""
    when = utcnow() + dt.timedelta(days=grace_days)
    if not _switch(account, "deleting", when):
        return None
    account.status = "deleting"
    account.deletion_scheduled_at = when
    ended = sso.end_account_sessions(account.id, origin, "account_deletion")
    audit.record(
        "account.deletion_requested",
        account_id=account.id,
        origin=origin,
        scheduled_at=when.isoformat(),
        sessions_ended=ended,
    )
    return when


def cancel(account: Account, origin: audit.Origin) -> bool:
    """Give the account back its active status during the grace period; False if it was not
    being deleted (or a parallel request already gave it back)."""
    if account.status != "deleting" or not _switch(account, "active", None):
        return False
    account.status = "active"
    account.deletion_scheduled_at = None
    audit.record("account.deletion_cancelled", account_id=account.id, origin=origin)
    return True


def _switch(account: Account, status: str, when: dt.datetime | None) -> bool:
    """Change the status in the database unless it already has it: of two requests sent at
    once, only the first one changes it (the other finds the row already changed)."""
    with db.session.no_autoflush:
        changed = db.session.execute(
            update(Account)
            .where(Account.id == account.id, Account.status != status)
            .values(status=status, deletion_scheduled_at=when)
            .execution_options(synchronize_session=False)
        ).rowcount
    return changed == 1


def _account_links() -> list[tuple[object, object, str | None]]:
    """(table, column, ondelete) of every column of another table referring to an account."""
    found = []
    for table in Base.metadata.sorted_tables:
        if table.name in {"account", "audit_event"}:
            continue
        for column in table.columns:
            for fk in column.foreign_keys:
                if fk.column.table.name == "account":
                    found.append((table, column, fk.ondelete))
    return found


def erase(account: Account, now: dt.datetime | None = None) -> None:
    """Erase the personal data of the account; keep the row (status "deleted") and its sub."""
    from idp.notify.models import OutboxMessage

    account_id = account.id
    contacts = {c for c in (account.email, account.phone, account.landline) if c}
    # Addresses and numbers the person gave for a change, a reset or a code (the mails and
    # SMS sent there keep their recipient): collected before those rows go.
    contacts |= set(
        db.session.scalars(
            select(verification.Verification.destination).where(
                verification.Verification.account_id == account_id,
                verification.Verification.destination.is_not(None),
            )
        )
    )
    for child in managed_accounts(account):
        child.managed_by_id = None
        audit.record("account.detached", account_id=child.id, former_manager=account.sub)
    # Rows holding personal data (sessions, tokens, codes, consents, identifiers, federated
    # identities, enrolments, second factors…): found from the foreign keys, so that a table
    # added later is not forgotten.
    for table, column, ondelete in _account_links():
        if (ondelete or "").upper() == "SET NULL":
            db.session.execute(
                update(table).where(column == account_id).values({column.name: None})
            )
        else:
            db.session.execute(delete(table).where(column == account_id))
    if contacts:
        db.session.execute(
            delete(OutboxMessage).where(OutboxMessage.recipient.in_(sorted(contacts)))
        )
    for column in Account.__table__.columns:
        if column.name not in KEPT_COLUMNS and column.nullable:
            setattr(account, column.key, None)
    account.status = "deleted"
    db.session.execute(
        update(AuditEvent)
        .where(AuditEvent.account_id == account_id)
        .values(ip=None, user_agent=None, client_id=None, details={})
    )
    db.session.flush()
    audit.record("account.erased", account_id=account_id)


def purge_due(now: dt.datetime) -> int:
    """Erase every account whose grace period is over; return how many."""
    due = db.session.scalars(
        select(Account).where(Account.status == "deleting", Account.deletion_scheduled_at <= now)
    ).all()
    for account in due:
        erase(account, now)
    return len(due)
