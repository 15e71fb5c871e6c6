"""Progressive delays and temporary locks on login failures, per typed identifier.

The state is kept in the database, keyed by an HMAC of the normalised identifier, for
identifiers that match no account exactly as for those that do: the answers (message,
HTTP status, timing) are therefore the same whether or not an account exists. Nothing
here sleeps: an attempt that comes too early is refused at once.

    after LOGIN_DELAY_AFTER failures: wait 1, 2, 4, 8 … s (at most LOGIN_DELAY_MAX) between tries
    after LOGIN_LOCK_THRESHOLD failures within LOGIN_LOCK_WINDOW s: locked LOGIN_LOCK_DURATION s

A success resets the counter; a password reset or `unlock()` (helpdesk) lifts the lock.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.extensions import db
from idp.models import Account
from idp.models import Base
from idp.models import utcnow
from idp.security import audit
from idp.security import tokens

KEY_PURPOSE = "login-throttle"


class LoginThrottle(Base):
    """Failed logins of one typed identifier (stored as a keyed hash, never in clear)."""

    __tablename__ = "login_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The account the identifier designated when it last failed (None: no account).
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[dt.datetime]
    last_failure_at: Mapped[dt.datetime] = mapped_column(index=True)
    locked_until: Mapped[dt.datetime | None]


class Throttled(Exception):
    """Too many failures: the attempt is refused before the password is even checked."""


@dataclass
class Locked:
    """An account that has just been locked (its owner gets a mail)."""

    account: Account
    until: dt.datetime
    ip_range: str | None


def key_of(identifier: str) -> str:
    """The keyed hash of what was typed, without blanks or case (like the rate limits)."""
    return tokens.keyed_hash("".join(identifier.split()).lower(), KEY_PURPOSE)


def _setting(name: str) -> int:
    return int(current_app.config[name])


def _row(key: str) -> LoginThrottle | None:
    return db.session.scalar(select(LoginThrottle).where(LoginThrottle.key_hash == key))


def wait_seconds(failures: int) -> int:
    """Seconds to wait after `failures` failures before the next attempt (0: none)."""
    over = failures - _setting("LOGIN_DELAY_AFTER")
    if over < 0:
        return 0
    return min(2 ** min(over, 30), _setting("LOGIN_DELAY_MAX"))


def _refused_now(row: LoginThrottle, now: dt.datetime) -> bool:
    if row.locked_until is not None and row.locked_until > now:
        return True
    delay = wait_seconds(row.failures)
    return delay > 0 and row.last_failure_at + dt.timedelta(seconds=delay) > now


def _expire(row: LoginThrottle, now: dt.datetime, origin: audit.Origin | None) -> bool:
    """Forget a lock that has run out, or failures older than the window (True if so)."""
    if row.locked_until is not None and row.locked_until <= now:
        if row.account_id is not None:
            audit.record(
                "login.unlocked", account_id=row.account_id, origin=origin, reason="expired"
            )
        row.failures, row.locked_until, row.first_failure_at = 0, None, now
        return True
    if row.locked_until is None and row.first_failure_at < now - dt.timedelta(
        seconds=_setting("LOGIN_LOCK_WINDOW")
    ):
        row.failures, row.first_failure_at = 0, now
        return True
    return False


def check(identifier: str, account: Account | None, origin: audit.Origin | None) -> None:
    """Raise Throttled if this identifier (or the account it names) may not try now."""
    now = utcnow()
    row = _row(key_of(identifier))
    if row is not None:
        if _expire(row, now, origin):
            db.session.flush()  # record_failure then counts from the reset value
        if _refused_now(row, now):
            raise Throttled()
    # A lock taken through another identifier of the same account (its username, its NIR…).
    if account is not None and is_locked(account):
        raise Throttled()


def _mask_ip(ip: str | None) -> str | None:
    """The network the address belongs to (/24 or /48): enough to recognise, not to track."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def record_failure(
    identifier: str, account: Account | None, origin: audit.Origin | None
) -> Locked | None:
    """Count a failure; return the account when this failure locks it."""
    now = utcnow()
    key = key_of(identifier)
    row = _row(key)
    if row is None:
        row = LoginThrottle(key_hash=key, failures=0, first_failure_at=now, last_failure_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:  # another instance created it at the same moment
            row = _row(key)
            assert row is not None
    # Incremented in SQL: two instances counting at once both count.
    row.failures = 1 if _expire(row, now, origin) else LoginThrottle.failures + 1
    row.last_failure_at = now
    row.account_id = account.id if account is not None else None
    db.session.flush()  # row.failures is read back below
    if row.locked_until is None and row.failures >= _setting("LOGIN_LOCK_THRESHOLD"):
        row.locked_until = now + dt.timedelta(seconds=_setting("LOGIN_LOCK_DURATION"))
        audit.record(
            "login.locked",
            account_id=account.id if account is not None else None,
            origin=origin,
            failures=row.failures,
            until=row.locked_until.isoformat(),
        )
        if account is not None:
            return Locked(account, row.locked_until, _mask_ip(origin.ip if origin else None))
    return None


def record_success(identifier: str, account: Account) -> None:
    """A right password resets the failures of this identifier."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key_hash == key_of(identifier)))


def is_locked(account: Account) -> bool:
    """Whether the account is locked now, through any of its identifiers."""
    found = db.session.scalar(
        select(LoginThrottle.id)
        .where(LoginThrottle.account_id == account.id, LoginThrottle.locked_until > utcnow())
        .limit(1)
    )
    return found is not None


def unlock(
    account: Account,
    actor: Account | None = None,
    origin: audit.Origin | None = None,
    reason: str = "helpdesk",
) -> bool:
    """Lift the lock and forget the failures of every identifier of the account."""
    was_locked = is_locked(account)
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.account_id == account.id))
    if was_locked:
        audit.record(
            "login.unlocked",
            account_id=account.id,
            origin=origin,
            reason=reason,
            actor_id=actor.id if actor is not None else None,
        )
    return was_locked


def purge(now: dt.datetime) -> int:
    """Delete the state of identifiers that have not failed for a day and are not locked."""
    horizon = now - dt.timedelta(days=1)
    return db.session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < horizon,
            (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now),
        )
    ).rowcount
