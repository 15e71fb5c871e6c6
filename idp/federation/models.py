"""Upstream identities linked to accounts, and the round trips through an upstream provider."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.models import Base
from idp.models import utcnow


class FederatedIdentity(Base):
    """An upstream (issuer, sub) that logs in to an account: identity is (provider, subject)."""

    __tablename__ = "federated_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_federated_identity_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Preset name: franceconnect, franceconnect-plus, pro-sante-connect, generic.
    provider: Mapped[str] = mapped_column(String(32))
    # The configured upstream it was linked through (UPSTREAMS name; None before g4).
    upstream: Mapped[str | None] = mapped_column(String(32))
    # FranceConnect's `sub` is pairwise per platform and client: the issuer is part of the key.
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    # The upstream claims of the last login (the pivot identity), as received.
    claims: Mapped[dict[str, Any]] = mapped_column(default=dict)
    acr: Mapped[str | None] = mapped_column(String(32))
    # Account fields the upstream certifies: locked on the account while the link lasts.
    certified_fields: Mapped[list[str]] = mapped_column(default=list)
    linked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]


class FederationFlow(Base):
    """One round trip to the upstream provider (login or logout), kept server-side.

    `state` and `nonce` are stored as SHA-256; after a verified callback the upstream
    identity waits here (claims, raw ID token) while the person links or signs up, then
    it is wiped. The browser holds only a random continuation token.
    """

    __tablename__ = "federation_flow"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # login | link (Mon compte) | logout
    provider: Mapped[str] = mapped_column(String(32))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce_hash: Mapped[str | None] = mapped_column(String(64))
    # acr_values sent upstream (the minimum accepted back).
    acr_requested: Mapped[str | None] = mapped_column(String(32))
    # Local path (login) or validated portal URL with its state (logout) to return to.
    return_to: Mapped[str | None] = mapped_column(Text)
    # started → verified (waiting for link or sign-up) → done | failed
    stage: Mapped[str] = mapped_column(String(16), default="started")
    continuation_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    subject: Mapped[str | None] = mapped_column(String(255))
    claims: Mapped[dict[str, Any] | None]
    id_token: Mapped[str | None] = mapped_column(Text)
    acr: Mapped[str | None] = mapped_column(String(32))
    amr: Mapped[list[str] | None]
    # The local account the person may prove to own (unique pivot-identity match), or the
    # logged-in account a "link" round trip started from.
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    used_at: Mapped[dt.datetime | None]
