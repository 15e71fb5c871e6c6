"""Single-use secrets sent to a person: email links and SMS codes.

Links carry 256 bits and are stored as SHA-256; codes are short, so they are stored
as a keyed HMAC and limited in attempts. Issuing a new one supersedes the older ones
of the same purpose, and an old one says so.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.extensions import db
from idp.models import Base
from idp.models import utcnow
from idp.security import tokens

DIGITS = "0123456789"
# Letters and digits that cannot be mistaken for one another (no 0/O/o, 1/I/l).
ALPHANUMERIC = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


class Verification(Base):
    __tablename__ = "verification"
    __table_args__ = (
        Index("ix_verification_account_purpose", "account_id", "purpose"),
        # Codes sent to one address lately (a limit on how often a person can be sent one).
        Index("ix_verification_destination_created", "destination", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(8))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    enrolment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrolment.id", ondelete="CASCADE"), index=True
    )
    destination: Mapped[str] = mapped_column(String(254))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    used_at: Mapped[dt.datetime | None]
    superseded_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)


@dataclass
class Issued:
    verification: Verification
    secret: str


def _supersede(purpose: str, account_id: int | None, enrolment_id: int | None) -> None:
    owner = (
        Verification.account_id == account_id
        if account_id is not None
        else Verification.enrolment_id == enrolment_id
    )
    db.session.execute(
        update(Verification)
        .where(
            owner,
            Verification.purpose == purpose,
            Verification.used_at.is_(None),
            Verification.superseded_at.is_(None),
        )
        .values(superseded_at=utcnow())
    )


def issue_link(
    purpose: str,
    destination: str,
    lifetime: dt.timedelta,
    *,
    account_id: int | None = None,
    enrolment_id: int | None = None,
) -> Issued:
    """A new email link (256 bits); older links of this purpose stop working."""
    _supersede(purpose, account_id, enrolment_id)
    secret = tokens.new_token(32)
    row = Verification(
        purpose=purpose,
        channel="email",
        account_id=account_id,
        enrolment_id=enrolment_id,
        destination=destination,
        secret_hash=tokens.sha256(secret),
        expires_at=utcnow() + lifetime,
    )
    db.session.add(row)
    return Issued(row, secret)


def find_link(secret: str, purpose: str) -> Verification | None:
    return db.session.scalar(
        select(Verification).where(
            Verification.secret_hash == tokens.sha256(secret), Verification.purpose == purpose
        )
    )


def issue_code(
    purpose: str,
    destination: str,
    lifetime: dt.timedelta,
    *,
    account_id: int | None = None,
    enrolment_id: int | None = None,
    digits: int = 6,
    max_attempts: int = 5,
    alphabet: str = DIGITS,
    channel: str = "sms",
) -> Issued:
    """A new code of `digits` characters drawn from `alphabet` (numeric by default), sent by
    `channel`; stored as a keyed hash, attempt-limited; older codes stop working."""
    _supersede(purpose, account_id, enrolment_id)
    code = "".join(secrets.choice(alphabet) for _ in range(digits))
    row = Verification(
        purpose=purpose,
        channel=channel,
        account_id=account_id,
        enrolment_id=enrolment_id,
        destination=destination,
        # Unique per row even for equal codes: the row id is unknown yet, so salt randomly.
        secret_hash=tokens.keyed_hash(f"{tokens.new_token(8)}", "code-row"),
        expires_at=utcnow() + lifetime,
        max_attempts=max_attempts,
    )
    db.session.add(row)
    db.session.flush()
    row.secret_hash = tokens.keyed_hash(f"{row.id}:{code}", "verification-code")
    return Issued(row, code)


class CodeRejected(Exception):
    """Wrong, expired, superseded, used, or out of attempts; `reason` says which."""

    def __init__(self, reason: str, remaining: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.remaining = remaining


def current_code(
    purpose: str, *, enrolment_id: int, channel: str | None = "sms"
) -> Verification | None:
    """The latest code of this purpose for a sign-up (channel None: whichever channel)."""
    query = select(Verification).where(
        Verification.enrolment_id == enrolment_id, Verification.purpose == purpose
    )
    if channel is not None:
        query = query.where(Verification.channel == channel)
    return db.session.scalar(query.order_by(Verification.id.desc()).limit(1))


def codes_issued_since(
    purpose: str,
    since: dt.datetime,
    *,
    enrolment_id: int | None = None,
    destination: str | None = None,
) -> int:
    """How many codes of this purpose were issued since then, for a sign-up or an address."""
    query = select(func.count(Verification.id)).where(
        Verification.purpose == purpose, Verification.created_at >= since
    )
    if enrolment_id is not None:
        query = query.where(Verification.enrolment_id == enrolment_id)
    if destination is not None:
        query = query.where(Verification.destination == destination)
    return db.session.scalar(query) or 0


def check_code(row: Verification | None, code: str) -> Verification:
    """Consume the code if right; count the attempt either way."""
    if row is None:
        raise CodeRejected("missing")
    if row.used_at is not None:
        raise CodeRejected("used")
    if row.superseded_at is not None:
        raise CodeRejected("superseded")
    if row.expires_at <= utcnow():
        raise CodeRejected("expired")
    if row.attempts >= row.max_attempts:
        raise CodeRejected("locked")
    row.attempts += 1
    expected = tokens.keyed_hash(f"{row.id}:{code.strip()}", "verification-code")
    if not tokens.same(row.secret_hash, expected):
        remaining = row.max_attempts - row.attempts
        raise CodeRejected("locked" if remaining <= 0 else "wrong", remaining)
    row.used_at = utcnow()
    return row
