"""Helpdesk actions on people: search, activation, unlock, disable, reset, review, answer."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from idp import notify
from idp.admin.shared import Actor
from idp.admin.shared import actor_details
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.security import audit

# Identifier kinds an agent may search by: each is normalised by its validator, then found by
# its keyed hash, so a NIR is only ever found by its exact value.
SEARCHABLE_IDENTIFIERS = ("nir", "ine", "finess", "siret", "rna")


class ActionRefused(Exception):
    """The action does not apply to this person; `reason` says why (the page words it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _identifier_matches(query: str) -> set[int]:
    from idp.enrolment import validators
    from idp.enrolment.models import AccountIdentifier
    from idp.enrolment.services import identifier_hash

    ids: set[int] = set()
    for kind in SEARCHABLE_IDENTIFIERS:
        try:
            value = getattr(validators, kind)(query)
        except (ValueError, TypeError):
            continue
        if kind == "ine" and value == validators.INE_MISSING:
            continue
        ids.update(
            db.session.scalars(
                select(AccountIdentifier.account_id).where(
                    AccountIdentifier.kind == kind,
                    AccountIdentifier.lookup_hash == identifier_hash(kind, value),
                )
            )
        )
    return ids


def search_people(query: str, limit: int = 50) -> list[Account]:
    """Accounts matching a name, email or username fragment, or an identifier exactly."""
    query = " ".join((query or "").split())[:200]
    if len(query) < 2:
        return []
    ids = _identifier_matches(query)
    pattern = f"%{_escape_like(query.lower())}%"
    words = [f"%{_escape_like(w.lower())}%" for w in query.split()]
    names = [
        or_(
            func.lower(Account.given_name).like(w, escape="\\"),
            func.lower(Account.family_name).like(w, escape="\\"),
            func.lower(Account.usage_name).like(w, escape="\\"),
        )
        for w in words
    ]
    conditions = [
        func.lower(Account.email).like(pattern, escape="\\"),
        func.lower(Account.username).like(pattern, escape="\\"),
        Account.sub == query,
    ]
    if names:
        from sqlalchemy import and_

        conditions.append(and_(*names))
    if ids:
        conditions.append(Account.id.in_(ids))
    return list(
        db.session.scalars(
            select(Account)
            .where(or_(*conditions))
            .order_by(Account.family_name, Account.given_name, Account.id)
            .limit(max(1, min(int(limit), 200)))
        )
    )


def resend_activation(account: Account, actor: Actor, origin: audit.Origin | None) -> str:
    """Mail a new activation link to a pending account; the older links stop working.

    Returns the address the link was sent to."""
    from idp.enrolment import engine
    from idp.enrolment.models import Enrolment
    from idp.oidc.clients import get_client
    from idp.security import verification

    if account.status != "pending" or not account.email:
        raise ActionRefused("not_pending")
    enrolment = db.session.scalar(
        select(Enrolment)
        .where(Enrolment.account_id == account.id)
        .order_by(Enrolment.id.desc())
        .limit(1)
    )
    if enrolment is None or enrolment.status != "awaiting_activation":
        # Without its sign-up (purged), a link could not finish it.
        raise ActionRefused("no_enrolment")
    issued = verification.issue_link(
        "activation",
        account.email,
        engine.LINK_VALIDITY,
        account_id=account.id,
        enrolment_id=enrolment.id,
    )
    portal = get_client(enrolment.client_id) if enrolment.client_id else None
    notify.send_mail(
        "activation",
        to=account.email,
        portal_name=portal.name if portal else None,
        link=url_for("enrolment.link", secret=issued.secret, _external=True),
        journey=enrolment.journey,
        given_name=account.given_name,
        valid_days=engine.LINK_VALIDITY.days,
    )
    audit.record(
        "admin.activation_resent", account_id=account.id, origin=origin, **actor_details(actor)
    )
    return account.email


def unlock(account: Account, actor: Actor, origin: audit.Origin | None) -> None:
    """Lift a lockout after too many failed logins."""
    from idp.auth import lockout

    lockout.unlock(account, actor=actor if isinstance(actor, Account) else None, origin=origin)
    if account.status == "locked":
        account.status = "active"
    audit.record("admin.unlocked", account_id=account.id, origin=origin, **actor_details(actor))


def set_disabled(
    account: Account, disabled: bool, actor: Actor, origin: audit.Origin | None
) -> None:
    """Disable an account (its sessions end, its tokens die) or enable it again."""
    from idp.auth import session as sso

    if disabled:
        if account.status == "disabled":
            raise ActionRefused("already_disabled")
        account.status = "disabled"
        sso.end_account_sessions(account.id, origin, "disabled")
    else:
        if account.status != "disabled":
            raise ActionRefused("not_disabled")
        account.status = (
            "active" if account.email_verified_at or account.phone_verified_at else "pending"
        )
    audit.record(
        "admin.account_disabled" if disabled else "admin.account_enabled",
        account_id=account.id,
        origin=origin,
        **actor_details(actor),
    )


def force_password_reset(account: Account, actor: Actor, origin: audit.Origin | None) -> bool:
    """Make the password unusable, end every session, mail a reset link (if an email is on
    record, which the return value tells)."""
    from idp.auth import recovery_services as recovery
    from idp.auth import session as sso
    from idp.security import verification

    if not recovery.recoverable(account):
        raise ActionRefused("not_active")
    account.password_hash = None
    sso.end_account_sessions(account.id, origin, "forced_password_reset")
    sent = False
    if account.email:
        issued = verification.issue_link(
            recovery.LINK_PURPOSE, account.email, recovery.LINK_LIFETIME, account_id=account.id
        )
        notify.send_mail(
            "password_reset",
            to=account.email,
            link=url_for("auth.reset_by_link", token=issued.secret, _external=True),
            given_name=account.given_name,
            portal_name=None,
            minutes=int(recovery.LINK_LIFETIME.total_seconds() // 60),
        )
        sent = True
    audit.record(
        "admin.password_reset_forced",
        account_id=account.id,
        origin=origin,
        mailed=sent,
        **actor_details(actor),
    )
    return sent


def revoke_sessions(account: Account, actor: Actor, origin: audit.Origin | None) -> int:
    """End every SSO session of the person and revoke their tokens; portals are told."""
    from idp.auth import session as sso

    ended = sso.end_account_sessions(account.id, origin, "revoked_by_helpdesk")
    audit.record(
        "admin.sessions_revoked",
        account_id=account.id,
        origin=origin,
        sessions_ended=ended,
        **actor_details(actor),
    )
    return ended


def history(account: Account, limit: int = 50) -> list[AuditEvent]:
    """The person's latest audit events, newest first."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.account_id == account.id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )
