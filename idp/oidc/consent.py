"""Consent remembered per portal and scope."""

from __future__ import annotations

from authlib.oauth2.rfc6749.util import list_to_scope
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import select

from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.oidc.models import Client
from idp.oidc.models import Consent

# Keys only: the wording lives in the consent template.
DESCRIBED_SCOPES = ("openid", "profile", "email", "phone", "address")


def _find(account: Account, client: Client) -> Consent | None:
    return db.session.scalar(
        select(Consent).where(
            Consent.account_id == account.id, Consent.client_id == client.client_id
        )
    )


def covers(account: Account, client: Client, scope: str) -> bool:
    found = _find(account, client)
    return found is not None and set(scope_to_list(scope) or []) <= set(
        scope_to_list(found.scope) or []
    )


def grant(account: Account, client: Client, scope: str) -> Consent:
    found = _find(account, client)
    if found is None:
        found = Consent(account_id=account.id, client_id=client.client_id, scope="")
        db.session.add(found)
    found.scope = list_to_scope(
        sorted(set(scope_to_list(found.scope) or []) | set(scope_to_list(scope) or []))
    )
    found.granted_at = utcnow()
    return found


def describe(scope: str) -> list[str]:
    return [s for s in scope_to_list(scope) or [] if s in DESCRIBED_SCOPES]
