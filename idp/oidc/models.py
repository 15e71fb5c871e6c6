"""OAuth / OpenID Connect data: clients, codes, tokens, consents, SSO sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import Boolean
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from idp.models import Account
from idp.models import Base
from idp.models import utcnow
from idp.security import tokens

CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class Client(Base, ClientMixin):
    """A portal registered with the provider."""

    __tablename__ = "oauth_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(150))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    secret_rotated_at: Mapped[dt.datetime | None]
    redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid")
    grant_types: Mapped[list[str]] = mapped_column(default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(32), default="client_secret_basic"
    )
    subject_type: Mapped[str] = mapped_column(String(16), default="public")
    # Pairwise subjects are computed for this sector (OIDC Core 8.1), fixed at
    # registration so that adding a redirect URI never changes a person's `sub`.
    sector_identifier: Mapped[str | None] = mapped_column(String(255))
    require_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    journey: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The lowest acr this portal accepts (g1_mfa): "eidas2" forces a second factor.
    min_acr: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set from the admin console (g3_admin): the portal's logo (recorded for its branding),
    # identifier claims it may receive (claims.IDENTIFIER_CLAIMS), its own password policy
    # (else the journey's), token lifetimes in seconds (None: the server's default).
    logo_uri: Mapped[str | None] = mapped_column(String(500))
    identifier_claims: Mapped[list[str]] = mapped_column(default=list)
    password_policy: Mapped[str | None] = mapped_column(String(32))
    access_token_lifetime: Mapped[int | None]
    refresh_token_lifetime: Mapped[int | None]
    id_token_lifetime: Mapped[int | None]

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris}

    def set_secret(self, secret: str) -> None:
        self.secret_hash = tokens.keyed_hash(secret, "client-secret")
        self.secret_rotated_at = utcnow()

    # authlib ClientMixin -----------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC Core 3.1.2.1: redirect_uri is required; only a lone URI may be implied.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        allowed = set(scope_to_list(self.scope))
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (OIDC Core 3.1.2.1, RFC 9700 §4.1.3).
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return tokens.same(self.secret_hash, tokens.keyed_hash(client_secret, "client-secret"))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in CONFIDENTIAL_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class AuthorizationCode(Base, AuthorizationCodeMixin):
    """A single-use code; `used_at` stays set so a replay can be detected."""

    __tablename__ = "oauth_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    claims_request: Mapped[dict[str, Any] | None]
    auth_time: Mapped[int] = mapped_column()
    acr: Mapped[str | None] = mapped_column(String(32))
    amr: Mapped[list[str]] = mapped_column(default=list)
    sid: Mapped[str | None] = mapped_column(String(64))
    family_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    used_at: Mapped[dt.datetime | None]

    account: Mapped[Account] = relationship(lazy="joined")

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return self.amr


class Token(Base, TokenMixin):
    """An access token and, optionally, its refresh token; both stored as SHA-256."""

    __tablename__ = "oauth_token"
    __table_args__ = (Index("ix_oauth_token_family", "family_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    family_id: Mapped[str] = mapped_column(String(64))
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    auth_time: Mapped[int | None]
    acr: Mapped[str | None] = mapped_column(String(32))
    amr: Mapped[list[str]] = mapped_column(default=list)
    claims_request: Mapped[dict[str, Any] | None]
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    access_expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    refresh_expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    revoked_at: Mapped[dt.datetime | None]
    rotated_at: Mapped[dt.datetime | None]

    account: Mapped[Account | None] = relationship(lazy="joined")
    client: Mapped[Client] = relationship(
        primaryjoin="foreign(Token.client_id) == Client.client_id", lazy="joined", viewonly=True
    )

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.access_expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.access_expires_at <= utcnow()

    def is_refresh_token_active(self) -> bool:
        return (
            self.revoked_at is None
            and self.rotated_at is None
            and self.refresh_expires_at is not None
            and self.refresh_expires_at > utcnow()
        )

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def get_user(self) -> Account | None:
        return self.account

    def get_client(self) -> Client:
        return self.client


class Consent(Base):
    """Scopes a person granted to a portal, remembered until revoked."""

    __tablename__ = "oauth_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text, default="")
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    # One row per person and portal (the database refuses a second one).
    __table_args__ = (
        Index("ix_oauth_consent_account_client", "account_id", "client_id", unique=True),
    )


class BrowserSession(Base):
    """Server-side SSO session; the cookie holds a random token stored here as SHA-256."""

    __tablename__ = "browser_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    auth_time: Mapped[dt.datetime]
    acr: Mapped[str | None] = mapped_column(String(32))
    amr: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    ended_at: Mapped[dt.datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    upstream_id_token: Mapped[str | None] = mapped_column(Text)

    account: Mapped[Account] = relationship(lazy="joined")

    @property
    def is_live(self) -> bool:
        return self.ended_at is None and self.expires_at > utcnow()


class SessionClient(Base):
    """A portal that received tokens within an SSO session (for back-channel logout)."""

    __tablename__ = "session_client"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("browser_session.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class BackchannelDelivery(Base):
    """A logout token waiting to be POSTed to a portal; retried until delivered."""

    __tablename__ = "backchannel_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    uri: Mapped[str] = mapped_column(String(500))
    logout_token: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
