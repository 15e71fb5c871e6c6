"""Audit events: every security-relevant action, never a secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from idp.direct import Direct
from idp.models import AuditEvent
from idp.models import utcnow

log = logging.getLogger("idp.audit")
_INSERT = Direct(AuditEvent.__table__.insert())


@dataclass(frozen=True)
class Origin:
    ip: str | None = None
    user_agent: str | None = None


def origin_of(request: Any) -> Origin:
    """The origin of an HTTP request (views call this, services receive it)."""
    return Origin(ip=request.remote_addr, user_agent=(request.user_agent.string or "")[:300])


def record(
    event: str,
    *,
    account_id: int | None = None,
    client_id: str | None = None,
    origin: Origin | None = None,
    **details: Any,
) -> None:
    """Add an audit event to the current transaction.

    A Core INSERT run by idp.direct in the session's transaction (committed or rolled back
    with it): the ORM unit of work, and even SQLAlchemy's execution context, cost more than
    the write on a token grant. Queries find the row as usual.
    """
    _INSERT.execute(
        {
            "created_at": utcnow(),
            "event": event,
            "account_id": account_id,
            "client_id": client_id,
            "ip": origin.ip if origin else None,
            "user_agent": origin.user_agent if origin else None,
            "details": details,
        },
    )
    log.info("%s account=%s client=%s %s", event, account_id, client_id, details)
