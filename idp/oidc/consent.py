"""Consent remembered per portal and scope."""

from __future__ import annotations

from authlib.oauth2.rfc6749.util import list_to_scope
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import select
from sqlalchemy import update

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
    # Write-lock the account row before looking for the consent (a row lock on PostgreSQL,
    # the writer lock on SQLite): the answer sent twice at once then finds the first one's
    # row instead of adding a second.
    db.session.execute(
        update(Account)
        .where(Account.id == account.id)
        .values(id=Account.id, updated_at=Account.updated_at)
        .execution_options(synchronize_session=False)
    )
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
