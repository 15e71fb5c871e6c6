"""The server-side SSO session: a random cookie, its SHA-256 in browser_session."""

from __future__ import annotations

import datetime as dt
import functools

from flask import current_app
from flask import g
from flask import request
from sqlalchemy import bindparam
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from werkzeug.wrappers import Response

from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import BrowserSession
from idp.oidc.models import Token
from idp.security import audit
from idp.security import tokens

COOKIE = "idp_session"


def open_session(
    account: Account, amr: list[str], acr: str | None, origin: audit.Origin
) -> tuple[BrowserSession, str]:
    """Start an SSO session; return it and the cookie value (shown once)."""
    secret = tokens.new_token(32)
    now = utcnow()
    session_row = BrowserSession(
        token_hash=tokens.sha256(secret),
        sid=tokens.new_token(24),
        account_id=account.id,
        account=account,
        auth_time=now,
        amr=amr,
        acr=acr,
        expires_at=now + dt.timedelta(seconds=current_app.config["SESSION_LIFETIME"]),
        ip=origin.ip,
        user_agent=origin.user_agent,
    )
    db.session.add(session_row)
    audit.record("session.opened", account_id=account.id, origin=origin, amr=amr)
    return session_row, secret


@functools.cache
def _by_token_hash():
    # Built once: building and hashing the statement costs about as much as running it.
    return select(BrowserSession).where(BrowserSession.token_hash == bindparam("digest"))


def current_session() -> BrowserSession | None:
    """The live SSO session of this browser, if any (looked up once per request)."""
    if "sso_session" not in g:
        raw = request.cookies.get(COOKIE)
        found = None
        if raw:
            found = db.session.scalar(_by_token_hash(), {"digest": tokens.sha256(raw)})
            if found is not None and (not found.is_live or not found.account.is_active):
                found = None
        g.sso_session = found
    return g.sso_session


def set_cookie(response: Response, secret: str) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        max_age=current_app.config["SESSION_LIFETIME"],
        httponly=True,
        secure=current_app.config["ISSUER"].startswith("https://"),
        samesite="Lax",
        path="/",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def end_session(session_row: BrowserSession, origin: audit.Origin, reason: str) -> None:
    """End an SSO session, revoke its tokens and queue back-channel logouts."""
    from idp.oidc import backchannel

    session_row.ended_at = utcnow()
    # Codes issued in this session but not yet redeemed die with it.
    db.session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.sid == session_row.sid, AuthorizationCode.used_at.is_(None))
        .values(expires_at=utcnow())
    )
    db.session.execute(
        update(Token)
        .where(Token.sid == session_row.sid, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    backchannel.queue_logout(session_row)
    # The FranceConnect ID token is only kept for the logout: callers chaining it read it first.
    session_row.upstream_id_token = None
    audit.record("session.ended", account_id=session_row.account_id, origin=origin, reason=reason)
    g.sso_session = None


def end_browser_session(
    session_row: BrowserSession, origin: audit.Origin, reason: str, return_to: str | None = None
) -> str | None:
    """End the browser's session; for a FranceConnect one, return FranceConnect's logout URL.

    FranceConnect then comes back to idp, which sends the browser on to `return_to`.
    """
    from idp.federation.logout import upstream_logout_url

    upstream_token = session_row.upstream_id_token
    end_session(session_row, origin, reason)
    if not upstream_token:
        return None
    return upstream_logout_url(upstream_token, return_to, session_row.account_id, origin)


def end_account_sessions(
    account_id: int, origin: audit.Origin | None, reason: str, keep: BrowserSession | None = None
) -> int:
    """End every live SSO session of an account but `keep`, and revoke every token not
    issued in `keep` (tokens of sessions already ended included); return how many ended."""
    now = utcnow()
    live = db.session.scalars(
        select(BrowserSession).where(
            BrowserSession.account_id == account_id,
            BrowserSession.ended_at.is_(None),
            BrowserSession.expires_at > now,
        )
    ).all()
    ended = 0
    for row in live:
        if keep is None or row.id != keep.id:
            end_session(row, origin or audit.Origin(), reason=reason)
            ended += 1
    spared = [] if keep is None else [or_(Token.sid.is_(None), Token.sid != keep.sid)]
    db.session.execute(
        update(Token)
        .where(Token.account_id == account_id, Token.revoked_at.is_(None), *spared)
        .values(revoked_at=now)
    )
    return ended
