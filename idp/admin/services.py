"""Console and admin API services: roles, portals, people, audit log, dashboard.

Each function makes the change and records an `admin.*` audit event naming the actor (an
operator account, or the client id of an API client) but never commits: the caller does,
then dispatches mail (`notify.dispatch_after_commit()`) and back-channel logouts
(`backchannel.dispatch_after_commit()`).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select

from idp.admin.checks import check_secret_answer
from idp.admin.checks import review
from idp.admin.checks import review_queue
from idp.admin.models import AccountRole
from idp.admin.people import ActionRefused
from idp.admin.people import force_password_reset
from idp.admin.people import resend_activation
from idp.admin.people import revoke_sessions
from idp.admin.people import search_people
from idp.admin.people import set_disabled
from idp.admin.people import unlock
from idp.admin.reports import audit_csv
from idp.admin.reports import audit_events
from idp.admin.reports import dashboard
from idp.admin.shared import Actor
from idp.admin.shared import actor_details
from idp.extensions import db
from idp.models import Account
from idp.oidc import clients
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.models import Consent
from idp.oidc.models import Token
from idp.security import audit

__all__ = [
    "ROLES",
    "ActionRefused",
    "InvalidClientMetadata",
    "audit_csv",
    "audit_events",
    "check_secret_answer",
    "create_portal",
    "dashboard",
    "delete_portal",
    "force_password_reset",
    "get_portal",
    "grant_role",
    "list_portals",
    "resend_activation",
    "review",
    "review_queue",
    "revoke_role",
    "revoke_sessions",
    "roles_of",
    "rotate_portal_secret",
    "search_people",
    "set_disabled",
    "set_portal_disabled",
    "unlock",
    "update_portal",
]

ROLES = ("admin", "helpdesk")


# Roles -----------------------------------------------------------------------------------
def roles_of(account: Account | None) -> set[str]:
    """The console roles of an account (empty for None)."""
    if account is None or account.id is None:
        return set()
    return set(
        db.session.scalars(select(AccountRole.role).where(AccountRole.account_id == account.id))
    )


def grant_role(account: Account, role: str, actor: Actor = None) -> bool:
    """Give a role; False when the account already had it."""
    if role not in ROLES:
        raise ValueError(f"Rôle inconnu : {role} (connus : {', '.join(ROLES)})")
    if role in roles_of(account):
        return False
    db.session.add(
        AccountRole(
            account_id=account.id,
            role=role,
            granted_by=actor.id if isinstance(actor, Account) else None,
        )
    )
    audit.record("admin.role_granted", account_id=account.id, role=role, **actor_details(actor))
    return True


def revoke_role(account: Account, role: str, actor: Actor = None) -> bool:
    """Take a role back; False when the account did not have it."""
    if role not in ROLES:
        raise ValueError(f"Rôle inconnu : {role} (connus : {', '.join(ROLES)})")
    removed = db.session.execute(
        delete(AccountRole).where(AccountRole.account_id == account.id, AccountRole.role == role)
    ).rowcount
    if removed:
        audit.record("admin.role_revoked", account_id=account.id, role=role, **actor_details(actor))
    return bool(removed)


# Portals ---------------------------------------------------------------------------------
CREATE_FIELDS = (
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "scope",
    "public",
    "require_consent",
    "subject_type",
    "grants",
    "backchannel_logout_uri",
    "client_id",
    "journey",
    "min_acr",
)


def list_portals() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.name, Client.id)))


def get_portal(client_id: str) -> Client | None:
    return clients.get_client(client_id) if client_id else None


def _check_name(name: Any) -> str:
    name = (name or "").strip()
    if not name or len(name) > 150:
        raise InvalidClientMetadata("Le nom du portail est obligatoire (150 caractères au plus).")
    # Shown on the login page ("pour accéder à …"): no control or invisible characters, such
    # as a right-to-left override that would make it read as another portal's name.
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise InvalidClientMetadata("Nom du portail : caractère de contrôle ou invisible refusé.")
    return name


def create_portal(
    actor: Actor, origin: audit.Origin | None, **fields: Any
) -> tuple[Client, str | None]:
    """Register a portal; the secret (None for a public client) is shown once."""
    fields["name"] = _check_name(fields.get("name"))
    if "public" not in fields and fields.get("token_endpoint_auth_method") == "none":  # noqa: S105
        fields["public"] = True
    fields.setdefault("redirect_uris", [])
    registered = clients.create_client(**{k: fields[k] for k in CREATE_FIELDS if k in fields})
    client = registered.client
    extra = {k: v for k, v in fields.items() if k not in CREATE_FIELDS}
    clients.apply_settings(client, extra)
    audit.record(
        "admin.portal_created", client_id=client.client_id, origin=origin, **actor_details(actor)
    )
    return client, registered.secret


def update_portal(
    client: Client, actor: Actor, origin: audit.Origin | None, **fields: Any
) -> Client:
    """Change a portal's registration (validated like the command line)."""
    if "name" in fields:
        fields["name"] = _check_name(fields["name"])
    clients.update_client(client, **fields)
    audit.record(
        "admin.portal_updated",
        client_id=client.client_id,
        origin=origin,
        fields=sorted(fields),
        **actor_details(actor),
    )
    return client


def rotate_portal_secret(client: Client, actor: Actor, origin: audit.Origin | None) -> str:
    """A new secret, returned once; the old one stops working at once."""
    secret = clients.rotate_secret(client)
    audit.record(
        "admin.portal_secret_rotated",
        client_id=client.client_id,
        origin=origin,
        **actor_details(actor),
    )
    return secret


def set_portal_disabled(
    client: Client, disabled: bool, actor: Actor, origin: audit.Origin | None
) -> None:
    """A disabled portal can neither start a login nor use its tokens."""
    client.disabled = bool(disabled)
    if disabled:
        _revoke_portal_tokens(client.client_id)
    audit.record(
        "admin.portal_disabled" if disabled else "admin.portal_enabled",
        client_id=client.client_id,
        origin=origin,
        **actor_details(actor),
    )


def _revoke_portal_tokens(client_id: str) -> None:
    from sqlalchemy import update

    from idp.models import utcnow

    db.session.execute(
        update(Token)
        .where(Token.client_id == client_id, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def delete_portal(client: Client, actor: Actor, origin: audit.Origin | None) -> None:
    """Delete a portal, its codes, tokens and consents."""
    client_id = client.client_id
    for model in (Token, AuthorizationCode, Consent):
        db.session.execute(delete(model).where(model.client_id == client_id))
    db.session.delete(client)
    audit.record("admin.portal_deleted", client_id=client_id, origin=origin, **actor_details(actor))
