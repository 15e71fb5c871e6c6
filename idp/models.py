"""Shared kernel of the data model: Base, UTC datetimes, Account, AuditEvent."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import TypeDecorator
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use timezone-aware UTC values")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON},
    )


class Account(Base):
    """One person; local password and upstream identities are ways into it."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    email_verified_at: Mapped[dt.datetime | None]
    username: Mapped[str | None] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_set_at: Mapped[dt.datetime | None]
    civility: Mapped[str | None] = mapped_column(String(16))
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    usage_name: Mapped[str | None] = mapped_column(String(200))
    birthdate: Mapped[dt.date | None]
    gender: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32))
    phone_verified_at: Mapped[dt.datetime | None]
    landline: Mapped[str | None] = mapped_column(String(32))
    # Citoyen / entreprise / association (portail citoyen), or None.
    profile_kind: Mapped[str | None] = mapped_column(String(16))
    # Set when an operator must review the sign-up (ARS "INE 0000"): pending/accepted/rejected.
    review_status: Mapped[str | None] = mapped_column(String(16), index=True)
    # The helpdesk checks the answer by phone; it is stored hashed (normalised first).
    secret_question: Mapped[str | None] = mapped_column(String(200))
    secret_answer_hash: Mapped[str | None] = mapped_column(String(255))
    # The journey the account was created with (its password policy applies).
    journey: Mapped[str | None] = mapped_column(String(64))
    # An account handled by another one: a child's Mon espace santé, activated by its parent,
    # has no password of its own and is reached through the parent's account.
    managed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    street_address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    locality: Mapped[str | None] = mapped_column(String(150))
    country: Mapped[str | None] = mapped_column(String(2))
    # "Supprimer mon compte": status "deleting" until then, when `idp purge` erases the
    # personal data (status "deleted"; the row and its sub stay so the audit keeps its meaning).
    deletion_scheduled_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def display_name(self) -> str:
        names = " ".join(n for n in (self.given_name, self.usage_name or self.family_name) if n)
        return names or self.username or self.email or self.sub


class AuditEvent(Base):
    """Who did what, when, from where, for which portal; never a secret."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_account_created", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
