"""Second factors: TOTP credentials, recovery codes, remembered devices."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.models import Base
from idp.models import utcnow


class TotpCredential(Base):
    """An authenticator app (RFC 6238); the secret is encrypted at rest (Fernet).

    `enabled_at` stays empty until a first right code proves the app was set up;
    `last_step` is the last time step accepted, so a code is never accepted twice.
    """

    __tablename__ = "mfa_totp"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), unique=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    enabled_at: Mapped[dt.datetime | None]
    last_step: Mapped[int | None]
    last_used_at: Mapped[dt.datetime | None]


class RecoveryCode(Base):
    """A single-use recovery code, stored as a keyed hash."""

    __tablename__ = "mfa_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    used_at: Mapped[dt.datetime | None]


class RememberedDevice(Base):
    """A browser that skips the account's own second-factor prompt for 30 days.

    The cookie holds a random token; only its SHA-256 is stored.
    """

    __tablename__ = "mfa_remembered_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()
