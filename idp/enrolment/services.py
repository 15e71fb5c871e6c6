"""Sign-up services: pending accounts, activation, consents, identifiers, purge."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select

from idp.enrolment.engine import CGU_VERSION
from idp.enrolment.engine import LINK_VALIDITY
from idp.enrolment.engine import PRIVACY_VERSION
from idp.enrolment.engine import RESEND_WINDOW
from idp.enrolment.models import AccountConsent
from idp.enrolment.models import AccountIdentifier
from idp.enrolment.models import Enrolment
from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.security import audit
from idp.security import tokens
from idp.security.passwords import hash_password
from idp.security.passwords import verify_password
from idp.security.verification import Verification


@dataclass
class Created:
    """The outcome of the last step. `account` is None when the email was already taken
    (unless the journey keeps the account without it): the applicant is told nothing
    different, the owner gets a mail instead."""

    account: Account | None
    email_taken: bool


def email_in_use(email: str) -> bool:
    return db.session.scalar(select(Account.id).where(Account.email == email)) is not None


def username_in_use(username: str) -> bool:
    return (
        db.session.scalar(select(Account.id).where(Account.username == username.lower()))
        is not None
    )


def identifier_hash(kind: str, value: str) -> str:
    return tokens.keyed_hash(f"{kind}:{value}", "account-identifier")


def holder_of(kind: str, value: str) -> Account | None:
    """The account that holds this identifier (a normalised NIR, N° tiers…), if any."""
    return db.session.scalar(
        select(Account)
        .join(AccountIdentifier, AccountIdentifier.account_id == Account.id)
        .where(
            AccountIdentifier.kind == kind,
            AccountIdentifier.lookup_hash == identifier_hash(kind, value),
        )
    )


def gives_way(account: Account, journey: str) -> bool:
    """A sign-up of this journey never activated (a mistyped email?): a new one, proved
    again, may take its identifier."""
    return account.status == "pending" and account.journey == journey


def replace_pending(kind: str, value: str, journey: str, origin: audit.Origin) -> None:
    """Delete the never-activated sign-up holding this identifier, if any (see gives_way);
    an active account was refused by the form."""
    holder = holder_of(kind, value)
    if holder is not None and gives_way(holder, journey):
        audit.record("account.pending_replaced", account_id=None, origin=origin, journey=journey,
                     was=holder.id)  # fmt: skip
        db.session.delete(holder)
        db.session.flush()  # the identifier's unique key is free before the new one


def identifier_in_use(kind: str, value: str) -> bool:
    return (
        db.session.scalar(
            select(AccountIdentifier.id).where(
                AccountIdentifier.kind == kind,
                AccountIdentifier.lookup_hash == identifier_hash(kind, value),
            )
        )
        is not None
    )


def record_consent(
    account: Account, kind: str, *, granted: bool, version: str | None = None
) -> None:
    db.session.add(
        AccountConsent(account_id=account.id, kind=kind, version=version, granted=granted)
    )


def add_identifier(account: Account, kind: str, value: str, *, shown: bool = True) -> None:
    db.session.add(
        AccountIdentifier(
            account_id=account.id,
            kind=kind,
            lookup_hash=identifier_hash(kind, value),
            display=value if shown else None,
        )
    )


def record_consents(account: Account, marketing: dict[str, bool]) -> None:
    """CGU and privacy policy (mandatory, with their versions) and per-channel opt-ins."""
    db.session.add(
        AccountConsent(account_id=account.id, kind="cgu", version=CGU_VERSION, granted=True)
    )
    db.session.add(
        AccountConsent(account_id=account.id, kind="privacy", version=PRIVACY_VERSION, granted=True)
    )
    for channel, granted in marketing.items():
        db.session.add(
            AccountConsent(
                account_id=account.id, kind=f"marketing_{channel}", granted=bool(granted)
            )
        )


def normalise_answer(answer: str) -> str:
    """Case, accents and spacing do not matter when the helpdesk checks an answer."""
    decomposed = unicodedata.normalize("NFKD", answer)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def hash_answer(answer: str) -> str:
    return hash_password(normalise_answer(answer))


def check_answer(account: Account, answer: str) -> bool:
    return verify_password(account.secret_answer_hash, normalise_answer(answer))[0]


def create_pending_account(
    enrolment: Enrolment,
    fields: dict[str, Any],
    origin: audit.Origin,
    *,
    keep_without_email: bool = False,
) -> Created:
    """Create the pending account from the enrolment; nothing is stored if the email is taken.

    `keep_without_email`: a taken email still gives a pending account, without that address,
    for journeys whose login is another identifier (a username): the identifier is then
    taken either way, and its live availability check says nothing about the address.
    """
    email = fields["email"]
    taken = email_in_use(email)
    if taken:
        audit.record("enrolment.email_taken", origin=origin, journey=enrolment.journey)
        if not keep_without_email:
            enrolment.status = "awaiting_activation"
            return Created(None, True)
        fields = {**fields, "email": None}
    account = Account(status="pending", journey=enrolment.journey, **fields)
    if enrolment.password_hash:
        account.password_hash = enrolment.password_hash
        account.password_set_at = utcnow()
    db.session.add(account)
    db.session.flush()
    enrolment.account_id = account.id
    enrolment.status = "awaiting_activation"
    audit.record("account.created", account_id=account.id, origin=origin, journey=enrolment.journey)
    return Created(account, taken)


def activate(account: Account, channel: str, origin: audit.Origin) -> None:
    """The person proved the email or the phone: the account may log in."""
    now = utcnow()
    account.status = "active"
    if channel == "email":
        account.email_verified_at = now
    else:
        account.phone_verified_at = now
    audit.record("account.activated", account_id=account.id, origin=origin, channel=channel)


def link_state(row: Verification | None, now: dt.datetime | None = None) -> str:
    """valid | used | superseded | resendable (7–21 days) | gone."""
    now = now or utcnow()
    if row is None:
        return "gone"
    if row.used_at is not None:
        return "used"
    if row.superseded_at is not None:
        return "superseded"
    if row.expires_at > now:
        return "valid"
    issued = row.expires_at - LINK_VALIDITY
    return "resendable" if now - issued < RESEND_WINDOW else "gone"


def purge_pending(now: dt.datetime | None = None) -> dict[str, int]:
    """Delete pending accounts older than 21 days and abandoned sign-ups."""
    now = now or utcnow()
    old = select(Account.id).where(
        Account.status == "pending",
        Account.journey.is_not(None),
        Account.created_at < now - RESEND_WINDOW,
    )
    ids = list(db.session.scalars(old))
    for account_id in ids:
        audit.record("account.purged", account_id=None, reason="never_activated", was=account_id)
    accounts = db.session.execute(delete(Account).where(Account.id.in_(ids))).rowcount if ids else 0
    enrolments = db.session.execute(
        delete(Enrolment).where(
            Enrolment.expires_at < now,
            Enrolment.status.in_(("in_progress", "cancelled", "completed")),
        )
    ).rowcount
    stale = db.session.execute(
        delete(Enrolment).where(
            Enrolment.status == "awaiting_activation", Enrolment.created_at < now - RESEND_WINDOW
        )
    ).rowcount
    return {"accounts": accounts, "enrolments": enrolments + stale}
