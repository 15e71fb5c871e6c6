"""Mon espace santé services: the status of a person's space, accounts, provisional codes.

A space is found by the keyed hash of the NIR, the same as an account's NIR identifier, so
an opposition needs no account and an account shows the status of its person's space.
Services never commit; the caller does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from idp.enrolment import services
from idp.enrolment.engine import CODE_VALIDITY
from idp.enrolment.models import AccountIdentifier
from idp.enrolment.models import Enrolment
from idp.enrolment.models import HealthSpace
from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.registry.models import InsuredRecord
from idp.security import audit
from idp.security import verification

JOURNEY = "mon-espace-sante"
OPPOSITION_JOURNEY = "mon-espace-sante-opposition"
CODE_PURPOSE = "mes-provisional"
CODE_LENGTH = 12
# At most this many provisional codes per sign-up in CODE_VALIDITY, and per address per hour.
CODES_PER_ENROLMENT = 3
CODES_PER_DESTINATION = 5

# Status values shown to portals (the "mes_status" claim); "lifted" is shown as nothing.
ACTIVE, OPPOSED, CLOSED, LIFTED = "active", "opposed", "closed", "lifted"
PUBLIC_STATUSES = (ACTIVE, OPPOSED, CLOSED)
# What the person may decide on the opposition journey, by the current status.
DECISIONS: dict[str | None, str] = {
    None: "opposer",
    LIFTED: "opposer",
    OPPOSED: "lever",
    ACTIVE: "cloturer",
    CLOSED: "reactiver",
}
DECIDED_STATUS = {"opposer": OPPOSED, "lever": LIFTED, "cloturer": CLOSED, "reactiver": ACTIVE}


class TooManyCodes(Exception):
    """Too many provisional codes were asked lately for this sign-up or this address."""


# --- Spaces ------------------------------------------------------------------------------


def nir_hash(nir: str) -> str:
    return services.identifier_hash("nir", nir)


def space_for_nir(nir: str) -> HealthSpace | None:
    return db.session.scalar(select(HealthSpace).where(HealthSpace.nir_hash == nir_hash(nir)))


def set_status(
    nir: str, status: str, origin: audit.Origin | None, account_id: int | None = None
) -> HealthSpace:
    """Record the new status of a person's space (created if needed), with an audit event."""
    space = space_for_nir(nir)
    if space is None:
        space = HealthSpace(nir_hash=nir_hash(nir), status=status)
        db.session.add(space)
    space.status = status
    space.status_at = utcnow()
    audit.record(f"mes.{status}", account_id=account_id, origin=origin)
    return space


def decide(nir: str, decision: str, origin: audit.Origin) -> HealthSpace:
    """Apply a decision of the opposition journey (opposer, lever, cloturer, reactiver)."""
    space = space_for_nir(nir)
    current = space.status if space is not None else None
    if DECISIONS[current] != decision:
        raise ValueError(f"decision {decision!r} does not apply to status {current!r}")
    holder = account_with_nir(nir)
    return set_status(nir, DECIDED_STATUS[decision], origin, holder.id if holder else None)


def account_with_nir(nir: str) -> Account | None:
    return db.session.scalar(
        select(Account)
        .join(AccountIdentifier, AccountIdentifier.account_id == Account.id)
        .where(AccountIdentifier.kind == "nir", AccountIdentifier.lookup_hash == nir_hash(nir))
    )


def status_of(account: Account) -> str | None:
    """The status of the space of this account's person, as portals see it (or None)."""
    status = db.session.scalar(
        select(HealthSpace.status)
        .join(AccountIdentifier, AccountIdentifier.lookup_hash == HealthSpace.nir_hash)
        .where(AccountIdentifier.account_id == account.id, AccountIdentifier.kind == "nir")
    )
    return status if status in PUBLIC_STATUSES else None


def managed_accounts(account: Account) -> list[Account]:
    """The accounts this one manages (children), youngest last."""
    query = (
        select(Account)
        .where(Account.managed_by_id == account.id)
        .order_by(Account.birthdate, Account.id)
    )
    return list(db.session.scalars(query))


# --- Provisional codes -------------------------------------------------------------------


@dataclass(frozen=True)
class Destinations:
    """Where a provisional code may go: the contact on record (a child's: its parent's)."""

    email: str | None
    mobile: str | None

    def of(self, channel: str) -> str | None:
        return self.email if channel == "email" else self.mobile if channel == "sms" else None


def destinations(record: InsuredRecord) -> Destinations:
    return Destinations(record.email, record.mobile)


def may_issue_code(enrolment: Enrolment, destination: str) -> bool:
    """Whether another code may be sent now: a few per sign-up and per address only."""
    now = utcnow()
    recent = verification.codes_issued_since(
        CODE_PURPOSE, now - CODE_VALIDITY, enrolment_id=enrolment.id
    )
    to_address = verification.codes_issued_since(
        CODE_PURPOSE, now - dt.timedelta(hours=1), destination=destination
    )
    return recent < CODES_PER_ENROLMENT and to_address < CODES_PER_DESTINATION


def issue_provisional_code(
    enrolment: Enrolment, channel: str, destination: str
) -> verification.Issued:
    """A new 12-character code (the previous one stops working); raises TooManyCodes."""
    if not may_issue_code(enrolment, destination):
        raise TooManyCodes()
    return verification.issue_code(
        CODE_PURPOSE,
        destination,
        CODE_VALIDITY,
        enrolment_id=enrolment.id,
        digits=CODE_LENGTH,
        alphabet=verification.ALPHANUMERIC,
        channel=channel,
    )


def current_provisional_code(enrolment: Enrolment) -> verification.Verification | None:
    return verification.current_code(CODE_PURPOSE, enrolment_id=enrolment.id, channel=None)


# --- Accounts ----------------------------------------------------------------------------


def create_account(
    enrolment: Enrolment, fields: dict[str, Any], nir: str, origin: audit.Origin
) -> services.Created:
    """The person's account (pending), its NIR identifier and consents. A typed email taken
    by another account still gives it (without that address): the identifier chosen is
    then reserved either way, and the owner of the address gets a notice instead of a link."""
    created = services.create_pending_account(enrolment, fields, origin, keep_without_email=True)
    if created.account is not None:
        services.add_identifier(created.account, "nir", nir, shown=False)
        services.record_consents(created.account, {})
    return created


def drop_pending(account: Account, origin: audit.Origin) -> None:
    """Delete a pending account (never activated); its sign-up and links go with it."""
    audit.record(
        "account.purged", account_id=None, origin=origin, reason="replaced", was=account.id
    )
    db.session.delete(account)
    db.session.flush()


def activate(
    account: Account,
    nir: str,
    origin: audit.Origin,
    *,
    email_proven: bool,
    phone_proven: bool,
) -> HealthSpace:
    """The provisional code proved the contact on record: the account and its space are active.

    Only what the code went to is marked verified (an address typed afterwards is not).
    """
    now = utcnow()
    account.status = "active"
    if email_proven:
        account.email_verified_at = now
    if phone_proven:
        account.phone_verified_at = now
    channel = "email" if email_proven else "sms" if phone_proven else "provisional_code"
    audit.record("account.activated", account_id=account.id, origin=origin, channel=channel)
    return set_status(nir, ACTIVE, origin, account.id)


def create_child_account(
    parent: Account, record: InsuredRecord, enrolment: Enrolment, origin: audit.Origin
) -> Account:
    """A child's account, managed by the parent: no password, no login of its own."""
    child = Account(
        status="active",
        journey=enrolment.journey,
        given_name=record.given_names,
        family_name=record.birth_family_name,
        usage_name=record.usage_family_name,
        birthdate=record.birthdate,
        managed_by_id=parent.id,
    )
    db.session.add(child)
    db.session.flush()
    nir = record.nir()
    services.add_identifier(child, "nir", nir, shown=False)
    services.record_consents(child, {})
    enrolment.account_id = child.id
    audit.record(
        "account.created",
        account_id=child.id,
        origin=origin,
        journey=enrolment.journey,
        managed_by=parent.id,
    )
    set_status(nir, ACTIVE, origin, child.id)
    return child
