"""Remembered devices: a browser that skips the account's own second-factor prompt.

The cookie holds a random token signed with the application's secret key (a forged or
tampered cookie is refused before any lookup); only the token's SHA-256 is stored, so a
device stays revocable one by one. A portal that asks for two
factors is never satisfied by a remembered device.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import Signer
from sqlalchemy import select
from sqlalchemy import update

from idp.extensions import db
from idp.mfa.models import RememberedDevice
from idp.models import utcnow
from idp.security import audit
from idp.security import tokens

DEVICE_LIFETIME = dt.timedelta(days=30)


def _signer() -> Signer:
    return Signer(current_app.secret_key, salt="idp.remembered-device")


def remember_device(account_id: int, label: str | None, origin: audit.Origin) -> str:
    """A new remembered device; return the cookie value (shown once)."""
    token = tokens.new_token(32)
    db.session.add(
        RememberedDevice(
            token_hash=tokens.sha256(token),
            account_id=account_id,
            label=(label or "")[:300] or None,
            expires_at=utcnow() + DEVICE_LIFETIME,
        )
    )
    audit.record("mfa.device_remembered", account_id=account_id, origin=origin)
    return _signer().sign(token).decode()


def recognised_device(account_id: int, token: str | None) -> RememberedDevice | None:
    """The live remembered device of this account matching the cookie, if any."""
    if not token:
        return None
    try:
        token = _signer().unsign(token).decode()
    except BadSignature:
        return None
    device = db.session.scalar(
        select(RememberedDevice).where(RememberedDevice.token_hash == tokens.sha256(token))
    )
    if device is None or device.account_id != account_id or not device.is_live:
        return None
    device.last_used_at = utcnow()
    return device


def devices_of(account_id: int) -> list[RememberedDevice]:
    return list(
        db.session.scalars(
            select(RememberedDevice)
            .where(
                RememberedDevice.account_id == account_id,
                RememberedDevice.revoked_at.is_(None),
                RememberedDevice.expires_at > utcnow(),
            )
            .order_by(RememberedDevice.created_at.desc())
        )
    )


def forget_device(account_id: int, device_id: int, origin: audit.Origin) -> bool:
    # An id past an integer column (a typed URL) is no device, not a database error.
    device = db.session.get(RememberedDevice, device_id) if 0 < device_id < 2**31 else None
    if device is None or device.account_id != account_id or device.revoked_at is not None:
        return False
    device.revoked_at = utcnow()
    audit.record("mfa.device_forgotten", account_id=account_id, origin=origin)
    return True


def forget_all_devices(account_id: int, origin: audit.Origin | None, reason: str) -> int:
    """Revoke every remembered device of the account (password reset or change, by choice)."""
    result = db.session.execute(
        update(RememberedDevice)
        .where(RememberedDevice.account_id == account_id, RememberedDevice.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount:
        audit.record(
            "mfa.devices_forgotten",
            account_id=account_id,
            origin=origin,
            reason=reason,
            count=result.rowcount,
        )
    return result.rowcount
