"""Progressive delays and temporary locks on login failures, per typed identifier.

The state is kept in the database, keyed by an HMAC of the normalised identifier, for
identifiers that match no account exactly as for those that do: the answers (message,
HTTP status, timing) are therefore the same whether or not an account exists. Nothing
here sleeps: an attempt that comes too early is refused at once.

    after LOGIN_DELAY_AFTER failures: wait 1, 2, 4, 8 … s (at most LOGIN_DELAY_MAX) between tries
    after LOGIN_LOCK_THRESHOLD failures within LOGIN_LOCK_WINDOW s: locked LOGIN_LOCK_DURATION s

A success resets the counter; a password reset or `unlock()` (helpdesk) lifts the lock.

Those counters are for untrusted clients. A browser holding a device cookie for the account
the identifier names (idp.auth.known_devices) is not refused by them: it has a counter of
its own, keyed by the cookie's nonce, and LOGIN_DEVICE_MAX_FAILURES failures without a
success distrust that cookie (the browser is then an untrusted client again). So a stranger
who locks an identifier does not lock its owner out of their usual browser; and the
owner's success there does not lift the lock the stranger earned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.auth.known_devices import Device
from idp.auth.known_devices import entry_for
from idp.auth.limits import network_of
from idp.extensions import db
from idp.models import Account
from idp.models import Base
from idp.models import utcnow
from idp.security import audit
from idp.security import tokens

KEY_PURPOSE = "login-throttle"
DEVICE_KEY_PURPOSE = "login-throttle-device"


class LoginThrottle(Base):
    """Failed logins of one typed identifier, or of one device cookie (keyed hashes).

    A device cookie's row has no account_id (its lock is not the account's) and, once
    distrusted, a locked_until as far away as the cookie lives.
    """

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


# Identifiers whose validator gives one canonical form (see idp.auth.services).
CANONICAL_KINDS = ("nir", "finess", "ine")


def key_of(identifier: str, kind: str = "any") -> str:
    """The keyed hash of what was typed, without blanks or case (like the rate limits).

    A NIR, FINESS or INE is hashed in the form its validator gives (dots and dashes
    dropped): otherwise each way of writing one number would have its own counter, and
    the lock would never come.
    """
    text = "".join(identifier.split()).lower()
    if kind in CANONICAL_KINDS:
        from idp.enrolment import validators  # the enrolment package imports this one

        with contextlib.suppress(ValueError):  # not a valid number: what was typed
            text = getattr(validators, kind)(identifier).lower()
    return tokens.keyed_hash(text, KEY_PURPOSE)


def _setting(name: str) -> int:
    return int(current_app.config[name])


class _Statements:
    """The statements of every login, built once: building and hashing a statement costs
    about as much as running it."""

    def __init__(self) -> None:
        by_key = LoginThrottle.key_hash == bindparam("key")
        locks_account = and_(
            LoginThrottle.account_id == bindparam("account_id"),
            LoginThrottle.locked_until > bindparam("now"),
        )
        self.row = select(LoginThrottle).where(by_key)
        # check(): the identifier's row and any live lock of the account, in one query.
        self.row_or_account_lock = select(LoginThrottle).where(or_(by_key, locks_account))
        self.account_lock = select(LoginThrottle.id).where(locks_account).limit(1)
        # A Core DELETE: the ORM's would try to find the row among the loaded ones by
        # evaluating the criteria in Python, where a bound parameter has no value. The row
        # check() may have loaded is clean (check flushes what it changes) and not read
        # again before the commit.
        table = LoginThrottle.__table__
        self.delete_row = delete(table).where(table.c.key_hash == bindparam("key"))


@functools.cache
def _stmt() -> _Statements:
    return _Statements()


def _row(key: str) -> LoginThrottle | None:
    return db.session.scalar(_stmt().row, {"key": key})


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


def device_key(device: Device) -> str:
    """The keyed hash of a device cookie's nonce (the nonce is never stored)."""
    return tokens.keyed_hash(device.nonce, DEVICE_KEY_PURPOSE)


def trusted_device(account: Account | None, devices: list[Device]) -> Device | None:
    """The device cookie entry for `account` this browser holds, unless it is distrusted.

    Without an entry for this very account nothing is read: the untrusted way costs the
    same for every identifier, known or not.
    """
    device = entry_for(account, devices)
    if device is None:
        return None
    row = _row(device_key(device))
    if row is not None and row.locked_until is not None and row.locked_until > utcnow():
        return None
    return device


def check(
    identifier: str,
    account: Account | None,
    origin: audit.Origin | None,
    kind: str = "any",
    device: Device | None = None,
) -> bool:
    """Raise Throttled if this identifier may not try now; True if the account it names is
    locked through another of its identifiers.

    That second lock is not a Throttled refusal: an identifier of nobody is never refused
    that way, so "Trop de tentatives" would tell a stranger who locked a (guessable) username
    which addresses are the account's. The caller refuses the attempt as a wrong password.
    A trusted device (see trusted_device) is never refused here: its own counter distrusts
    it instead.
    """
    if device is not None and account is not None:
        return False
    now = utcnow()
    key = key_of(identifier, kind)
    # The identifier's row, and a lock taken through another identifier of the same
    # account (its username, its NIR…): one query, the same for every identifier (without
    # an account, `account_id = NULL` matches nothing).
    found = db.session.scalars(
        _stmt().row_or_account_lock,
        {"key": key, "account_id": account.id if account is not None else None, "now": now},
    ).all()
    row = next((r for r in found if r.key_hash == key), None)
    if row is not None:
        if _expire(row, now, origin):
            db.session.flush()  # record_failure then counts from the reset value
        if _refused_now(row, now):
            raise Throttled()
    return any(r.key_hash != key for r in found)


def _mask_ip(ip: str | None) -> str | None:
    """The network the address belongs to (/24 or /48): enough to recognise, not to track."""
    return network_of(ip)


def _row_for_update(key: str, now: dt.datetime) -> LoginThrottle:
    row = _row(key)
    if row is None:
        row = LoginThrottle(key_hash=key, failures=0, first_failure_at=now, last_failure_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:  # another instance created it at the same moment
            row = _row(key)
            assert row is not None
    return row


def _device_failure(device: Device, account: Account, origin: audit.Origin | None) -> None:
    """Count a failure of a trusted device; distrust it at LOGIN_DEVICE_MAX_FAILURES."""
    now = utcnow()
    row = _row_for_update(device_key(device), now)
    row.failures = LoginThrottle.failures + 1  # in SQL: concurrent failures all count
    row.last_failure_at = now
    db.session.flush()
    if row.locked_until is None and row.failures >= _setting("LOGIN_DEVICE_MAX_FAILURES"):
        days = _setting("LOGIN_DEVICE_COOKIE_DAYS")
        row.locked_until = now + dt.timedelta(days=days)
        # Which cookie is not said: its nonce is a secret, and its hash a lookup key.
        audit.record(
            "login.device_distrusted",
            account_id=account.id,
            origin=origin,
            failures=row.failures,
        )


def record_failure(
    identifier: str,
    account: Account | None,
    origin: audit.Origin | None,
    kind: str = "any",
    device: Device | None = None,
) -> Locked | None:
    """Count a failure; return the account when this failure locks it.

    A trusted device's failure counts on the device alone: it never locks the account.
    """
    if device is not None and account is not None:
        _device_failure(device, account, origin)
        return None
    now = utcnow()
    row = _row_for_update(key_of(identifier, kind), now)
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


def record_success(
    identifier: str, account: Account, kind: str = "any", device: Device | None = None
) -> None:
    """A right password resets the failures of this identifier, or of this trusted device.

    From a trusted device the identifier's failures stay: they were earned by other
    clients, which remain locked out.
    """
    key = device_key(device) if device is not None else key_of(identifier, kind)
    db.session.execute(_stmt().delete_row, {"key": key})


def is_locked(account: Account) -> bool:
    """Whether the account is locked now, through any of its identifiers."""
    found = db.session.scalar(_stmt().account_lock, {"account_id": account.id, "now": utcnow()})
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
