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


def _linked_identities(account_id: int) -> list[dict[str, Any]]:
    """The upstream identities (FranceConnect, Pro Santé Connect…) linked to the account,
    each with its upstream and the identity it last gave."""
    from idp.federation.mon_compte import issuers
    from idp.federation.services import identities_of_account
    from idp.federation.services import upstream_of

    known = issuers()
    return [
        {
            "upstream": upstream_of(i, known),
            "provider": i.provider,
            "issuer": i.issuer,
            "subject": i.subject,
            "acr": i.acr,
            "certified_fields": i.certified_fields,
            "claims": i.claims,
            "linked_at": _value(i.linked_at),
            "last_login_at": _value(i.last_login_at),
        }
        for i in identities_of_account(account_id)
    ]


def _last_code_use(events: list[AuditEvent]) -> dict[str, str]:
    """The last time each second-factor method was accepted, from the audit trail."""
    last = {}
    for e in events:
        if e.event == "mfa.code_accepted" and isinstance(e.details, dict):
            last[str(e.details.get("method"))] = _value(e.created_at)
    return last


def second_factors(account: Account, events: list[AuditEvent]) -> list[dict[str, Any]]:
    """Kind, date enabled, last use of each second factor; never a secret nor a code hash."""
    from idp.mfa import services as mfa

    last = _last_code_use(events)
    found = []
    totp = mfa.enabled_totp(account.id)
    if totp is not None:
        found.append(
            {
                "kind": "totp",
                "enabled_at": _value(totp.enabled_at),
                "last_used_at": _value(totp.last_used_at) or last.get("totp"),
            }
        )
        found.append(
            {
                "kind": "recovery_codes",
                "enabled_at": _value(totp.enabled_at),
                "last_used_at": last.get("recovery"),
                "codes_left": mfa.recovery_codes_left(account.id),
            }
        )
    destinations = mfa.code_destinations(account)
    if "sms" in destinations:
        found.append(
            {
                "kind": "sms",
                "phone": account.phone,
                "enabled_at": _value(account.phone_verified_at),
                "last_used_at": last.get("sms"),
            }
        )
    if "mail" in destinations:
        found.append(
            {
                "kind": "mail",
                "email": account.email,
                "enabled_at": _value(account.email_verified_at),
                "last_used_at": last.get("mail"),
            }
        )
    return found


def export_data(account: Account, origin: audit.Origin) -> dict[str, Any]:
    """The person's data (profile, identifiers, consents, second factors, remembered devices,
    roles, sessions, events, deletion date) and an audit event.

    Left out on purpose: password and secret-answer hashes, token hashes, the NIR in clear,
    TOTP secrets, recovery and one-time code hashes, remembered-device cookies.
    """
    account_id = account.id
    consents = db.session.scalars(
        select(AccountConsent)
        .where(AccountConsent.account_id == account_id)
        .order_by(AccountConsent.at, AccountConsent.id)
    )
    events = list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.account_id == account_id)
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
    )
    from idp.admin.services import roles_of
    from idp.mfa.devices import devices_of

    data = {
        "exported_at": utcnow().isoformat(),
        "profile": {name: _value(getattr(account, name)) for name in PROFILE_FIELDS},
        "deletion_scheduled_at": _value(account.deletion_scheduled_at),
        "roles": sorted(roles_of(account)),
        "second_factors": second_factors(account, events),
        "remembered_devices": [
            {
                "label": d.label,
                "remembered_at": _value(d.created_at),
                "last_used_at": _value(d.last_used_at),
                "expires_at": _value(d.expires_at),
            }
            for d in devices_of(account_id)
        ],
        "identifiers": [
            {"kind": i.kind, "value": i.display, "on_file": True}
            for i in services.identifiers(account_id)
        ],
        "linked_identities": _linked_identities(account_id),
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
