"""Mon compte services: password change, sessions, portal consents, opt-ins, activity."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from idp.auth import session as sso
from idp.enrolment.models import AccountConsent
from idp.enrolment.models import AccountIdentifier
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.oidc.models import BrowserSession
from idp.oidc.models import Client
from idp.oidc.models import Consent
from idp.oidc.models import Token
from idp.security import audit
from idp.security.passwords import hash_password
from idp.security.passwords import verify_password

MARKETING_KINDS = (
    "marketing_email",
    "marketing_sms",
    "marketing_mobile_phone",
    "marketing_landline_phone",
)
# Shown even when the person never answered (the others only once recorded).
DEFAULT_MARKETING_KINDS = ("marketing_email", "marketing_sms")
# Identifiers never shown, not even partly: only "renseigné".
SENSITIVE_IDENTIFIERS = frozenset({"nir"})
RECENT_EVENTS = 20


class WrongPassword(Exception):
    """The current password given to change it is not the account's."""


class NotYours(Exception):
    """The session or consent does not exist or belongs to another account."""


@dataclass(frozen=True)
class Identifier:
    kind: str
    display: str | None  # None: sensitive, only say it is on file


@dataclass(frozen=True)
class PortalConsent:
    id: int
    client_id: str
    portal_name: str
    scopes: list[str]
    granted_at: dt.datetime


@dataclass(frozen=True)
class Preference:
    kind: str
    granted: bool
    at: dt.datetime | None  # when the latest answer was given


def identifiers(account_id: int) -> list[Identifier]:
    """The account's identifiers, the sensitive ones without any value."""
    rows = db.session.scalars(
        select(AccountIdentifier)
        .where(AccountIdentifier.account_id == account_id)
        .order_by(AccountIdentifier.kind)
    )
    return [
        Identifier(row.kind, None if row.kind in SENSITIVE_IDENTIFIERS else row.display)
        for row in rows
    ]


def change_password(
    account: Account,
    current_password: str,
    new_password: str,
    keep: BrowserSession,
    origin: audit.Origin,
) -> int:
    """Set a new password; end the other SSO sessions and revoke their tokens.

    Return how many sessions were ended. The session `keep` (this browser) stays.
    """
    ok, _rehash = verify_password(account.password_hash, current_password)
    if not ok:
        audit.record("account.password_change_refused", account_id=account.id, origin=origin)
        raise WrongPassword
    now = utcnow()
    account.password_hash = hash_password(new_password)
    account.password_set_at = now
    ended = sso.end_account_sessions(account.id, origin, "password_changed", keep=keep)
    audit.record(
        "account.password_changed", account_id=account.id, origin=origin, sessions_ended=ended
    )
    return ended


def live_sessions(account_id: int) -> list[BrowserSession]:
    """The account's SSO sessions that are neither ended nor expired, newest first."""
    return list(
        db.session.scalars(
            select(BrowserSession)
            .where(
                BrowserSession.account_id == account_id,
                BrowserSession.ended_at.is_(None),
                BrowserSession.expires_at > utcnow(),
            )
            .order_by(BrowserSession.created_at.desc(), BrowserSession.id.desc())
        )
    )


def end_one_session(account_id: int, session_id: int, origin: audit.Origin) -> BrowserSession:
    """End one live session of the account (raises NotYours for anybody else's)."""
    row = db.session.get(BrowserSession, session_id)
    if row is None or row.account_id != account_id or not row.is_live:
        raise NotYours
    sso.end_session(row, origin, reason="account_revoked")
    return row


def end_other_sessions(
    account_id: int, keep: BrowserSession, origin: audit.Origin, reason: str = "account_revoked"
) -> int:
    """End every live session of the account but `keep`; return how many."""
    return sso.end_account_sessions(account_id, origin, reason, keep=keep)


def portal_consents(account_id: int) -> list[PortalConsent]:
    """The portals the person allowed, with the scopes granted."""
    rows = db.session.execute(
        select(Consent, Client.name)
        .outerjoin(Client, Client.client_id == Consent.client_id)
        .where(Consent.account_id == account_id)
        .order_by(Consent.granted_at.desc())
    ).all()
    return [
        PortalConsent(
            consent.id,
            consent.client_id,
            name or consent.client_id,
            consent.scope.split(),
            consent.granted_at,
        )
        for consent, name in rows
    ]


def revoke_consent(account_id: int, consent_id: int, origin: audit.Origin) -> str:
    """Forget a portal's consent and revoke its tokens for this account; return its client_id."""
    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.account_id != account_id:
        raise NotYours
    client_id = consent.client_id
    db.session.execute(delete(Consent).where(Consent.id == consent.id))
    db.session.execute(
        update(Token)
        .where(
            Token.account_id == account_id,
            Token.client_id == client_id,
            Token.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    audit.record("consent.revoked", account_id=account_id, client_id=client_id, origin=origin)
    return client_id


def preferences(account_id: int) -> list[Preference]:
    """The latest answer per marketing opt-in (not answered: refused)."""
    rows = db.session.scalars(
        select(AccountConsent)
        .where(AccountConsent.account_id == account_id, AccountConsent.kind.in_(MARKETING_KINDS))
        .order_by(AccountConsent.at, AccountConsent.id)
    )
    latest = {row.kind: row for row in rows}
    return [
        Preference(kind, latest[kind].granted, latest[kind].at)
        if kind in latest
        else Preference(kind, False, None)
        for kind in MARKETING_KINDS
        if kind in latest or kind in DEFAULT_MARKETING_KINDS
    ]


def set_preferences(account_id: int, wanted: dict[str, bool], origin: audit.Origin) -> list[str]:
    """Record a new AccountConsent row for each opt-in that changed; return their kinds."""
    changed = []
    now = utcnow()
    for pref in preferences(account_id):
        if pref.kind in wanted and wanted[pref.kind] != pref.granted:
            db.session.add(
                AccountConsent(
                    account_id=account_id, kind=pref.kind, granted=wanted[pref.kind], at=now
                )
            )
            changed.append(pref.kind)
    if changed:
        audit.record(
            "account.preferences_changed",
            account_id=account_id,
            origin=origin,
            changed={kind: wanted[kind] for kind in changed},
        )
    return changed


def recent_events(account_id: int, limit: int = RECENT_EVENTS) -> list[AuditEvent]:
    """The account's latest audit events, newest first."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.account_id == account_id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def short_user_agent(user_agent: str | None) -> tuple[str | None, str | None]:
    """(browser, system) read from a User-Agent header; either may be None."""
    ua = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in ua), None)
    system = next((name for mark, name in _SYSTEMS if mark in ua), None)
    if browser is None and system is None and ua:
        browser = re.split(r"[\s/;(]", ua, maxsplit=1)[0][:40] or None
    return browser, system
