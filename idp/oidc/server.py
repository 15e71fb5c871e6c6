"""The Authlib authorization server: grants, endpoints and their storage hooks.

Authlib does the protocol; this module supplies models, claims and policy.
The server is built per app and kept in app.extensions["idp_oauth"].
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import weakref
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from flask import Flask
from flask import current_app
from flask import g
from flask import has_app_context
from flask import has_request_context
from flask import request
from joserfc import jwt
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import DetachedInstanceError
from sqlalchemy.orm.exc import ObjectDeletedError

from idp.direct import Direct
from idp.extensions import MACHINE_ENDPOINTS
from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.oidc import claims
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import BrowserSession
from idp.oidc.models import Client
from idp.oidc.models import SessionClient
from idp.oidc.models import Token
from idp.security import audit
from idp.security import tokens


class _Statements:
    """Statements built once (at first use, once every model is mapped): building and
    hashing a statement costs about as much as running it."""

    def __init__(self) -> None:
        self.client_by_id = select(Client).where(Client.client_id == bindparam("client_id"))
        self.refresh_token = (
            select(Token)
            .where(Token.refresh_token_hash == bindparam("digest"))
            # The grant has the client already (request.client): no join on oauth_client.
            .options(lazyload(Token.client))
        )
        self.access_token = select(Token).where(Token.access_token_hash == bindparam("digest"))
        self.code = select(AuthorizationCode).where(
            AuthorizationCode.code_hash == bindparam("digest")
        )
        sessions, joined = BrowserSession.__table__, SessionClient.__table__
        # The portal joins the SSO session of this sid, once (the pair is the primary key):
        # one INSERT … SELECT … ON CONFLICT DO NOTHING.
        session_of_sid = select(sessions.c.id, bindparam("client_id", type_=String)).where(
            sessions.c.sid == bindparam("sid")
        )
        # The writes of a grant run as Direct statements (idp.direct): they cost less than
        # SQLAlchemy's execution context around them.
        self.join_session = {
            name: Direct(
                insert(joined)
                .from_select(["session_id", "client_id"], session_of_sid)
                .on_conflict_do_nothing()
            )
            for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
        }
        codes = AuthorizationCode.__table__
        self.code_insert = Direct(codes.insert())
        # Mark a code used, only if it was not: of two concurrent redemptions only one wins.
        self.claim_code = Direct(
            update(codes)
            .where(codes.c.id == bindparam("code_id"), codes.c.used_at.is_(None))
            .values(used_at=bindparam("used_at"))
        )
        table = Token.__table__
        self.token_insert = Direct(table.insert())
        # Only a token not rotated yet: of two requests presenting the same token at the
        # same time, the second to write finds no row (RefreshTokenGrant.revoke_old_credential).
        self.rotate = Direct(
            update(table).where(table.c.id == bindparam("token_id"), table.c.rotated_at.is_(None))
        )


@functools.cache
def _stmt() -> _Statements:
    return _Statements()


def keystore():
    return current_app.extensions["idp_keys"]


# On the machine endpoints a grant costs about a millisecond and reading the portal's
# registration was a fifth of it: there the registration is kept in the process for
# CLIENT_CACHE_SECONDS (ClientCache).


class ClientCache:
    """Portals' registrations kept per app and process, as detached ORM instances.

    Only found portals are kept, so unknown client_ids cannot grow it. A commit that
    adds, changes or deletes a portal drops it from the cache of the app that committed
    (`_note_client_changes`); other processes see the change when their copy expires.
    """

    _every: weakref.WeakSet[ClientCache] = weakref.WeakSet()

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Client]] = {}
        ClientCache._every.add(self)

    @classmethod
    def clear_every(cls) -> None:
        """Empty the caches of every app in this process (tests that delete the rows of
        a shared database without the ORM, under several apps)."""
        for cache in list(cls._every):
            cache.clear()

    def get(self, client_id: str) -> Client | None:
        entry = self._entries.get(client_id)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._entries.pop(client_id, None)
            return None
        return entry[1]

    def put(self, client: Client) -> None:
        if self.seconds > 0:
            self._entries[client.client_id] = (time.monotonic() + self.seconds, client)

    def drop(self, client_ids: set[str]) -> None:
        for client_id in client_ids:
            self._entries.pop(client_id, None)

    def clear(self) -> None:
        self._entries.clear()


def client_cache() -> ClientCache:
    return current_app.extensions["idp_client_cache"]


def query_client(client_id: str) -> Client | None:
    """The enabled portal with this client_id, looked up once per request.

    A login calls this up to eight times (the login page, the federation buttons,
    /authorize twice, /token…); the ORM instance is the same each time anyway, so keep it
    in `g`. `disabled` is read on every call (a commit expires the instance, so a change
    committed during the request is seen). The machine endpoints use the process-wide
    ClientCache instead.
    """
    if not client_id or "\x00" in client_id:
        # A NUL cannot be in a client_id (nor in PostgreSQL text, where the lookup would fail).
        return None
    in_request = has_request_context()
    if in_request and request.endpoint in MACHINE_ENDPOINTS:
        return _query_client_cached(client_id)
    cache: dict[str, Client] | None = g.setdefault("idp_clients", {}) if in_request else None
    client = cache.get(client_id) if cache is not None else None
    if client is not None:
        try:
            return None if client.disabled else client
        except (ObjectDeletedError, DetachedInstanceError):
            cache.pop(client_id, None)  # deleted, or the session was removed: look again
    client = db.session.scalar(_stmt().client_by_id, {"client_id": client_id})
    if client is not None and cache is not None:
        cache[client_id] = client
    return None if client is None or client.disabled else client


def _query_client_cached(client_id: str) -> Client | None:
    shared = client_cache()
    client = shared.get(client_id)
    if client is None:
        client = db.session.scalar(_stmt().client_by_id, {"client_id": client_id})
        if client is None:
            return None
        if shared.seconds > 0:
            # Detached, every column loaded: later requests read it without the session.
            db.session.expunge(client)
            shared.put(client)
    return None if client.disabled else client


def _note_client_changes(session: Any, flush_context: Any, instances: Any) -> None:
    changed = session.info.setdefault("idp_changed_clients", set())
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, Client):
            changed.add(instance.client_id)


def _drop_changed_clients(session: Any) -> None:
    changed = session.info.pop("idp_changed_clients", None)
    if changed and has_app_context():
        cache = current_app.extensions.get("idp_client_cache")
        if cache is not None:
            cache.drop(changed)


def _forget_client_changes(session: Any) -> None:
    session.info.pop("idp_changed_clients", None)


event.listen(Session, "before_flush", _note_client_changes)
event.listen(Session, "after_commit", _drop_changed_clients)
event.listen(Session, "after_rollback", _forget_client_changes)


def revoke_family(family_id: str, reason: str, client_id: str | None = None) -> int:
    """Revoke every token descended from one authorization code."""
    result = db.session.execute(
        update(Token)
        .where(Token.family_id == family_id, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    audit.record("token.family_revoked", client_id=client_id, reason=reason, family=family_id)
    return result.rowcount


def save_token(token: dict[str, Any], request: Any) -> None:
    """Store an issued token (hashed) with what it inherits from its code or parent."""
    parent = request.authorization_code or getattr(request, "refresh_token", None)
    now = utcnow()
    client_id = request.client.client_id
    account_id = request.user.id if request.user else None
    refresh = token.get("refresh_token")
    sid = parent.sid if parent else None
    # One Core INSERT (idp.direct): the ORM unit of work would cost more than the rest of a grant.
    _stmt().token_insert.execute(
        {
            "client_id": client_id,
            "account_id": account_id,
            "access_token_hash": tokens.sha256(token["access_token"]),
            "refresh_token_hash": tokens.sha256(refresh) if refresh else None,
            "scope": token.get("scope", ""),
            "family_id": parent.family_id if parent else tokens.new_token(16),
            "sid": sid,
            "auth_time": parent.auth_time if parent else None,
            "acr": parent.acr if parent else None,
            "amr": list(parent.amr) if parent else [],
            "claims_request": parent.claims_request if parent else None,
            "issued_at": now,
            "access_expires_at": now + dt.timedelta(seconds=token["expires_in"]),
            "refresh_expires_at": now
            + dt.timedelta(
                seconds=request.client.refresh_token_lifetime
                or current_app.config["REFRESH_TOKEN_LIFETIME"]
            )
            if refresh
            else None,
            "revoked_at": None,
            "rotated_at": None,
        },
    )
    # The portal joined the SSO session when its code was redeemed; refreshes add nothing.
    if sid and request.authorization_code is not None:
        dialect = db.session.connection().dialect.name
        _stmt().join_session[dialect].execute({"sid": sid, "client_id": client_id})
    audit.record(
        "token.issued",
        account_id=account_id,
        client_id=client_id,
        grant=request.payload.grant_type,
    )


class PKCE(CodeChallenge):
    """S256 only (`plain` refused), and mandatory for public clients."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        request = grant.request
        if request.client.is_public and not request.payload.data.get("code_challenge"):
            raise InvalidRequestError("PKCE (code_challenge, S256) is required for public clients.")
        return super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code: str, request: Any) -> None:
        sso: BrowserSession = request.sso_session
        data = request.payload.data
        # One Core INSERT, like the tokens: nothing reads the row back in this request.
        _stmt().code_insert.execute(
            {
                "code_hash": tokens.sha256(code),
                "client_id": request.client.client_id,
                "account_id": request.user.id,
                "redirect_uri": request.payload.redirect_uri or request.client.redirect_uris[0],
                "scope": request.client.get_allowed_scope(request.payload.scope) or "",
                "nonce": data.get("nonce"),
                "code_challenge": data.get("code_challenge"),
                "code_challenge_method": data.get("code_challenge_method"),
                "claims_request": getattr(request, "claims_request", None),
                "auth_time": int(sso.auth_time.timestamp()),
                "acr": sso.acr,
                "amr": list(sso.amr),
                "sid": sso.sid,
                "family_id": tokens.new_token(16),
                "expires_at": utcnow() + dt.timedelta(seconds=current_app.config["CODE_LIFETIME"]),
                "used_at": None,
            },
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        row = db.session.scalar(_stmt().code, {"digest": tokens.sha256(code)})
        if row is None or row.client_id != client.client_id:
            return None
        now = utcnow()
        claimed = _stmt().claim_code.execute({"code_id": row.id, "used_at": now})
        if not claimed:
            # RFC 6749 §4.1.2: a reused code SHOULD revoke the tokens it issued.
            revoke_family(row.family_id, "code_reuse", client.client_id)
            db.session.commit()
            return None
        set_committed_value(row, "used_at", now)  # what the row says now, without a flush
        if row.expires_at <= now:
            return None
        return row

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Kept (used_at set) until `idp purge`, so that a replay is recognised.
        pass

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Account | None:
        account = authorization_code.account
        return account if account is not None and account.is_active else None


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        row = db.session.scalar(_stmt().refresh_token, {"digest": tokens.sha256(refresh_token)})
        if row is None:
            return None
        if row.rotated_at is not None:
            # A rotated refresh token came back: it leaked. Revoke the whole family.
            revoke_family(row.family_id, "refresh_reuse", row.client_id)
            db.session.commit()
            return None
        return row if row.is_refresh_token_active() else None

    def authenticate_user(self, refresh_token: Token) -> Account | None:
        account = refresh_token.account
        return account if account is not None and account.is_active else None

    def revoke_old_credential(self, refresh_token: Token) -> None:
        now = utcnow()
        rotated = _stmt().rotate.execute({"token_id": refresh_token.id, "rotated_at": now})
        if rotated != 1:
            # Another request rotated this token since we read it: the same token was used
            # twice at once. Nothing of this request is kept (its new token, its audit
            # row), and the family is revoked as for any reuse.
            family_id, client_id = refresh_token.family_id, refresh_token.client_id
            db.session.rollback()
            revoke_family(family_id, "refresh_reuse", client_id)
            db.session.commit()
            raise InvalidGrantError()
        # The row in memory says the same, without a second UPDATE at the flush.
        set_committed_value(refresh_token, "rotated_at", now)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class OpenIDCodeExtension(OpenIDCode):
    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Nonce replay is the RP's check (OIDC Core 15.5.2); codes are single-use here.
        return False

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        stored, key = keystore().signing_key()
        code: AuthorizationCode = request.authorization_code
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": current_app.config["ISSUER"],
            "aud": request.client.client_id,
            "iat": now,
            "exp": now
            + (request.client.id_token_lifetime or current_app.config["ID_TOKEN_LIFETIME"]),
            "auth_time": code.auth_time,
            "amr": list(code.amr),
            "sid": code.sid,
        }
        if code.nonce:
            payload["nonce"] = code.nonce
        if code.acr:
            payload["acr"] = code.acr
        at_hash = create_half_hash(token["access_token"], stored.alg)
        payload["at_hash"] = at_hash.decode()
        section = (code.claims_request or {}).get("id_token")
        payload.update(claims.user_claims(request.user, token["scope"], request.client, section))
        header = {"alg": stored.alg, "kid": stored.kid, "typ": "JWT"}
        return jwt.encode(header, payload, key, [stored.alg])


class IdpUserInfoEndpoint(UserInfoEndpoint):
    def get_issuer(self) -> str:
        return current_app.config["ISSUER"]

    def resolve_private_key(self):
        return keystore().signing_key()[1]

    def __call__(self, request):
        token = self.resource_protector.acquire_token("openid")
        user = token.get_user()
        section = (token.claims_request or {}).get("userinfo")
        body = claims.user_claims(user, token.scope, token.get_client(), section)
        return (
            200,
            dict(body),
            [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
        )


class TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> Token | None:
        row = db.session.scalar(_stmt().access_token, {"digest": tokens.sha256(token_string)})
        # UserInfo is about a person: a client_credentials token has none.
        if row is None or row.account is None or not row.account.is_active:
            return None
        return row


def _query_any_token(token_string: str, hint: str | None) -> Token | None:
    digest = tokens.sha256(token_string)
    order = (
        ["refresh_token", "access_token"]
        if hint == "refresh_token"
        else [
            "access_token",
            "refresh_token",
        ]
    )
    for kind in order:
        column = Token.refresh_token_hash if kind == "refresh_token" else Token.access_token_hash
        row = db.session.scalar(select(Token).where(column == digest))
        if row is not None:
            row.presented_as = kind
            return row
    return None


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _query_any_token(token_string, token_type_hint)

    def revoke_token(self, token: Token, request: Any) -> None:
        if token.presented_as == "refresh_token":
            # RFC 7009 §2.1: revoking a refresh token invalidates its access tokens too.
            revoke_family(token.family_id, "revoked_by_client", token.client_id)
        else:
            token.revoked_at = utcnow()
        audit.record("token.revoked", account_id=token.account_id, client_id=token.client_id)


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _query_any_token(token_string, token_type_hint)

    def check_permission(self, token: Token, client: Client, request: Any) -> bool:
        # A portal introspects the tokens issued to it, never another portal's.
        return token.client_id == client.client_id

    def create_introspection_payload(self, token: Token | None) -> dict[str, Any]:
        if token is None:
            # Unknown, or another portal's: the same answer (RFC 7662 §2.2).
            return {"active": False}
        if token.presented_as == "refresh_token":
            if not token.is_refresh_token_active():
                return {"active": False}
            expires = token.refresh_expires_at
        else:
            if token.is_revoked() or token.is_expired():
                return {"active": False}
            expires = token.access_expires_at
        return self.introspect_token(token) | {"exp": int(expires.timestamp())}

    def introspect_token(self, token: Token) -> dict[str, Any]:
        data: dict[str, Any] = {
            "active": True,
            "client_id": token.client_id,
            "token_type": token.presented_as,
            "scope": token.scope,
            "iat": int(token.issued_at.timestamp()),
            "iss": current_app.config["ISSUER"],
            "aud": token.client_id,
        }
        if token.account is not None:
            data["sub"] = claims.subject_for(token.account, token.get_client())
            data["username"] = token.account.username or token.account.email
        return data


class Issuer(IssuerParameter):
    def get_issuer(self) -> str:
        return current_app.config["ISSUER"]


def jwt_access_token(client: Client, grant_type: str, user: Account | None, scope: str) -> str:
    """An RFC 9068 access token; still stored hashed, so revocation holds the same way."""
    stored, key = keystore().signing_key()
    now = int(time.time())
    payload = {
        "iss": current_app.config["ISSUER"],
        "aud": current_app.config["ISSUER"],
        "sub": claims.subject_for(user, client) if user else client.client_id,
        "client_id": client.client_id,
        "iat": now,
        "exp": now + (client.access_token_lifetime or current_app.config["ACCESS_TOKEN_LIFETIME"]),
        "jti": tokens.new_token(16),
        "scope": scope,
    }
    return jwt.encode({"alg": stored.alg, "kid": stored.kid, "typ": "at+jwt"}, payload, key)


def _make_token_generator(app: Flask) -> BearerTokenGenerator:
    def expires_in(client: Client, grant_type: str) -> int:
        return client.access_token_lifetime or app.config["ACCESS_TOKEN_LIFETIME"]

    def opaque(*args: Any, **kwargs: Any) -> str:
        return tokens.new_token(32)

    jwt_format = app.config["ACCESS_TOKEN_FORMAT"] == "jwt"  # noqa: S105
    return BearerTokenGenerator(
        access_token_generator=jwt_access_token if jwt_format else opaque,
        refresh_token_generator=opaque,
        expires_generator=expires_in,
    )


def build_server(app: Flask) -> AuthorizationServer:
    """Create this app's authorization server (never a module-level singleton)."""
    server = AuthorizationServer()
    app.extensions["idp_client_cache"] = ClientCache(app.config["CLIENT_CACHE_SECONDS"])
    server.init_app(app, query_client=query_client, save_token=save_token)
    server.register_token_generator("default", _make_token_generator(app))
    server.register_grant(AuthorizationCodeGrant, [PKCE(required=True), OpenIDCodeExtension()])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator())
    server.register_endpoint(IdpUserInfoEndpoint(resource_protector=protector))
    server.register_extension(Issuer())
    from idp.oidc.endpoints import EndSession

    server.register_endpoint(EndSession)
    return server
