"""The audit log, filtered and paginated."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from sqlalchemy import select

from idp.admin import services
from idp.api import bp
from idp.api.auth import require
from idp.api.openapi import MAX_LIMIT
from idp.api.openapi import MAX_OFFSET
from idp.api.openapi import SUB_PATTERN
from idp.api.validation import datetime_arg
from idp.api.validation import int_arg
from idp.api.validation import text_arg
from idp.api.views import timestamp
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent


def serialise_events(events: list[AuditEvent]) -> list[dict[str, Any]]:
    """Events with the person's public sub (never a database id); the user agent left out."""
    ids = {e.account_id for e in events if e.account_id is not None}
    subs = (
        dict(db.session.execute(select(Account.id, Account.sub).where(Account.id.in_(ids))).all())
        if ids
        else {}
    )
    return [
        {
            "id": e.id,
            "created_at": timestamp(e.created_at),
            "event": e.event,
            "sub": subs.get(e.account_id),
            "client_id": e.client_id,
            "ip": e.ip,
            "details": e.details or {},
        }
        for e in events
    ]


@bp.get("/audit-events")
@require("admin:users")
def audit_events():
    """Audit events matching every filter given, newest first."""
    sub = text_arg("sub", 64, SUB_PATTERN)
    limit = int_arg("limit", 50, 1, MAX_LIMIT)
    offset = int_arg("offset", 0, 0, MAX_OFFSET)
    filters: dict[str, Any] = {
        "client_id": text_arg("client_id", 64),
        "event": text_arg("event", 64),
        "since": datetime_arg("since"),
        "until": datetime_arg("until"),
    }
    person = None
    if sub is not None:
        person = db.session.scalar(select(Account).where(Account.sub == sub))
        if person is None:
            return jsonify(items=[], limit=limit, offset=offset)
    events = services.audit_events(person=person, limit=limit, offset=offset, **filters)
    return jsonify(items=serialise_events(events), limit=limit, offset=offset)
