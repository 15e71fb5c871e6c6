"""Sign-up state, identifiers of an account, and recorded consents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.models import Base
from idp.models import utcnow


class Enrolment(Base):
    """A sign-up in progress, kept server-side; the browser holds only a random cookie."""

    __tablename__ = "enrolment"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    journey: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(64))
    return_to: Mapped[str | None] = mapped_column(Text)
    step: Mapped[str] = mapped_column(String(32))
    # Highest step index reached: a post to a later step is refused (tampering).
    reached: Mapped[int] = mapped_column(default=0)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(24), default="in_progress")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class AccountIdentifier(Base):
    """An identifier of an account (INE, SIRET, RNA…), found by a keyed hash."""

    __tablename__ = "account_identifier"
    __table_args__ = (
        UniqueConstraint("kind", "lookup_hash", name="uq_account_identifier_kind_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    lookup_hash: Mapped[str] = mapped_column(String(64))
    # Shown to the person and the helpdesk; sensitive kinds (NIR) leave it empty.
    display: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AccountConsent(Base):
    """A consent given or refused: CGU and privacy (with version) and marketing opt-ins."""

    __tablename__ = "account_consent"
    __table_args__ = (Index("ix_account_consent_account_kind", "account_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[str | None] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HealthSpace(Base):
    """Mon espace santé of one insured person, found by the keyed hash of the NIR.

    A row exists once the person activated, opposed or closed it; no account is needed to
    oppose. `status`: active | opposed | closed | lifted (an opposition withdrawn).
    """

    __tablename__ = "health_space"

    id: Mapped[int] = mapped_column(primary_key=True)
    # services.identifier_hash("nir", nir): the same as the account's NIR identifier.
    nir_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    # When the current status was set.
    status_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
