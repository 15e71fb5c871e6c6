"""OpenID Connect Back-Channel Logout 1.0: logout tokens POSTed to portals.

Deliveries are rows (a durable outbox): queued in the transaction that ends the
session, sent by a background thread after the commit so the browser never waits,
retried with backoff, and re-sent by `idp backchannel retry` after a restart.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

import requests
from flask import current_app
from flask import g
from joserfc import jwt
from sqlalchemy import select

from idp.background import in_background
from idp.extensions import db
from idp.models import utcnow
from idp.oidc import claims
from idp.oidc.models import BackchannelDelivery
from idp.oidc.models import BrowserSession
from idp.oidc.models import Client
from idp.oidc.models import SessionClient
from idp.security import audit

log = logging.getLogger(__name__)
EVENT = "http://schemas.openid.net/event/backchannel-logout"


def logout_token(client: Client, session_row: BrowserSession) -> str:
    stored, key = current_app.extensions["idp_keys"].signing_key()
    now = int(time.time())
    payload = {
        "iss": current_app.config["ISSUER"],
        "aud": client.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        "sub": claims.subject_for(session_row.account, client),
        "sid": session_row.sid,
        "events": {EVENT: {}},
    }
    header = {"alg": stored.alg, "kid": stored.kid, "typ": "logout+jwt"}
    return jwt.encode(header, payload, key, [stored.alg])


def queue_logout(session_row: BrowserSession) -> list[BackchannelDelivery]:
    """Queue a logout token for every portal that got tokens in this session."""
    rows = db.session.scalars(
        select(Client)
        .join(SessionClient, SessionClient.client_id == Client.client_id)
        .where(
            SessionClient.session_id == session_row.id, Client.backchannel_logout_uri.is_not(None)
        )
    ).all()
    queued = []
    for client in rows:
        delivery = BackchannelDelivery(
            client_id=client.client_id,
            uri=client.backchannel_logout_uri,
            logout_token=logout_token(client, session_row),
        )
        db.session.add(delivery)
        queued.append(delivery)
    if queued:
        g.setdefault("backchannel_pending", True)
    return queued


def deliver(delivery: BackchannelDelivery) -> bool:
    """POST one logout token; record the outcome and the next attempt on failure."""
    cfg = current_app.config
    delivery.attempts += 1
    try:
        response = requests.post(
            delivery.uri,
            data={"logout_token": delivery.logout_token},
            timeout=cfg["BACKCHANNEL_TIMEOUT"],
            allow_redirects=False,
        )
        ok = response.status_code in (200, 204)
        error = None if ok else f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        ok, error = False, type(exc).__name__
    if ok:
        delivery.delivered_at = utcnow()
        audit.record("backchannel.delivered", client_id=delivery.client_id)
    else:
        delivery.last_error = error
        delivery.next_attempt_at = utcnow() + dt.timedelta(seconds=2**delivery.attempts)
        audit.record("backchannel.failed", client_id=delivery.client_id, error=error)
    return ok


def due() -> list[BackchannelDelivery]:
    return list(
        db.session.scalars(
            select(BackchannelDelivery).where(
                BackchannelDelivery.delivered_at.is_(None),
                BackchannelDelivery.attempts < current_app.config["BACKCHANNEL_MAX_ATTEMPTS"],
                BackchannelDelivery.next_attempt_at <= utcnow(),
            )
        )
    )


def run_pending(rounds: int = 3) -> int:
    """Deliver what is due, a few rounds with backoff; return how many were delivered."""
    delivered = 0
    for attempt in range(rounds):
        batch = due()
        if not batch:
            if attempt and _waiting():
                time.sleep(min(2**attempt, 4))
                continue
            break
        delivered += sum(deliver(d) for d in batch)
        db.session.commit()
    return delivered


def _waiting() -> bool:
    return (
        db.session.scalar(
            select(BackchannelDelivery.id).where(
                BackchannelDelivery.delivered_at.is_(None),
                BackchannelDelivery.attempts < current_app.config["BACKCHANNEL_MAX_ATTEMPTS"],
            )
        )
        is not None
    )


def dispatch_after_commit() -> None:
    """Start a background delivery if this request queued logout tokens."""
    if not g.pop("backchannel_pending", False):
        return
    in_background("idp-backchannel", run_pending)
