"""The RGPD export: the account's personal data as JSON, never a secret."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from idp.account import services
from idp.enrolment.models import AccountConsent
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.security import audit

PROFILE_FIELDS = (
    "sub",
    "email",
    "email_verified_at",
    "username",
    "civility",
    "given_name",
    "family_name",
    "usage_name",
    "birthdate",
    "gender",
    "phone",
    "phone_verified_at",
    "landline",
    "profile_kind",
    "journey",
    "street_address",
    "postal_code",
    "locality",
    "country",
    "status",
    "password_set_at",
    "created_at",
    "updated_at",
)


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def export_data(account: Account, origin: audit.Origin) -> dict[str, Any]:
    """The person's data (profile, identifiers, consents, sessions, events) and an audit event.

    Left out on purpose: password and secret-answer hashes, token hashes, the NIR in clear.
    """
    account_id = account.id
    consents = db.session.scalars(
        select(AccountConsent)
        .where(AccountConsent.account_id == account_id)
        .order_by(AccountConsent.at, AccountConsent.id)
    )
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.account_id == account_id)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    data = {
        "exported_at": utcnow().isoformat(),
        "profile": {name: _value(getattr(account, name)) for name in PROFILE_FIELDS},
        "identifiers": [
            {"kind": i.kind, "value": i.display, "on_file": True}
            for i in services.identifiers(account_id)
        ],
        "consents": [
            {"kind": c.kind, "version": c.version, "granted": c.granted, "at": _value(c.at)}
            for c in consents
        ],
        "portals": [
            {
                "client_id": p.client_id,
                "name": p.portal_name,
                "scopes": p.scopes,
                "granted_at": _value(p.granted_at),
            }
            for p in services.portal_consents(account_id)
        ],
        "sessions": [
            {
                "started_at": _value(s.created_at),
                "expires_at": _value(s.expires_at),
                "ip": s.ip,
                "user_agent": s.user_agent,
                "amr": s.amr,
            }
            for s in services.live_sessions(account_id)
        ],
        "events": [
            {
                "at": _value(e.created_at),
                "event": e.event,
                "client_id": e.client_id,
                "ip": e.ip,
                "user_agent": e.user_agent,
            }
            for e in events
        ],
    }
    audit.record("account.exported", account_id=account_id, origin=origin)
    return data
