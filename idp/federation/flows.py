"""Round trips to the upstream provider, kept server-side (any instance can finish one)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete
from sqlalchemy import select

from idp.extensions import db
from idp.federation.models import FederationFlow
from idp.models import utcnow
from idp.security import tokens


def new_secret() -> str:
    """64 hexadecimal characters: FranceConnect's expected state and nonce format."""
    return secrets.token_hex(32)


def purge_expired(now: dt.datetime | None = None) -> int:
    """Forget round trips nobody finished (they may hold an upstream identity)."""
    result = db.session.execute(
        delete(FederationFlow).where(FederationFlow.expires_at < (now or utcnow()))
    )
    return result.rowcount or 0


def open_flow(
    purpose: str,
    provider: str,
    lifetime: int,
    *,
    return_to: str | None = None,
    acr: str | None = None,
    with_nonce: bool = True,
) -> tuple[FederationFlow, str, str | None]:
    """A new round trip; return it, its state and its nonce (both shown once)."""
    state = new_secret()
    nonce = new_secret() if with_nonce else None
    flow = FederationFlow(
        purpose=purpose,
        provider=provider,
        state_hash=tokens.sha256(state),
        nonce_hash=tokens.sha256(nonce) if nonce else None,
        acr_requested=acr,
        return_to=return_to,
        expires_at=utcnow() + dt.timedelta(seconds=lifetime),
    )
    db.session.add(flow)
    return flow, state, nonce


def by_state(state: str | None, purpose: str, provider: str | None = None) -> FederationFlow | None:
    """The live, unused round trip this state belongs to (started with `provider`)."""
    if not state or len(state) > 256:
        return None
    flow = db.session.scalar(
        select(FederationFlow).where(FederationFlow.state_hash == tokens.sha256(state))
    )
    if flow is None or flow.purpose != purpose or flow.used_at is not None:
        return None
    if provider is not None and flow.provider != provider:
        return None
    if flow.expires_at <= utcnow():
        return None
    return flow


def continue_flow(flow: FederationFlow, lifetime: int) -> str:
    """After a verified callback: a random token the browser holds for the next pages."""
    secret = tokens.new_token(32)
    flow.continuation_hash = tokens.sha256(secret)
    flow.stage = "verified"
    flow.expires_at = utcnow() + dt.timedelta(seconds=lifetime)
    return secret


def by_continuation(secret: str | None) -> FederationFlow | None:
    if not secret:
        return None
    flow = db.session.scalar(
        select(FederationFlow).where(FederationFlow.continuation_hash == tokens.sha256(secret))
    )
    if flow is None or flow.stage != "verified" or flow.expires_at <= utcnow():
        return None
    return flow


def close(flow: FederationFlow, stage: str = "done") -> None:
    """End a round trip and wipe the upstream identity it held."""
    flow.stage = stage
    flow.used_at = flow.used_at or utcnow()
    flow.claims = None
    flow.id_token = None
    flow.continuation_hash = None
    flow.candidate_id = None
