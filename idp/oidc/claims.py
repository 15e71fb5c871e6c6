"""Claims released to a portal: by scope, by the `claims` request parameter, per client.

Scope `mes` (Mon espace santé portals, seed 002):

- `mes_status`: the status of the person's Mon espace santé, found by their NIR: "active",
  "opposed" (they refused its creation; no account needed to oppose) or "closed". Absent when
  the person never activated nor opposed (or lifted an opposition).
- `mes_managed`: the profiles this account manages (a parent's children), each
  `{"sub", "given_name", "family_name", "birthdate", "mes_status"}`; `sub` follows this
  portal's subject type (pairwise subjects stay pairwise). Absent when there is none.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.util import scope_to_list

from idp.models import Account
from idp.oidc.models import Client
from idp.security import tokens

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "given_name",
        "family_name",
        "preferred_username",
        "birthdate",
        "gender",
        "updated_at",
        "locale",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "mes": ("mes_status", "mes_managed"),
}
# Identifiers a portal may receive as claims of the same name, if its registration lists
# them (Client.identifier_claims, set in the admin console). A NIR is stored only as a keyed
# hash, so `nir` is never released in clear, even when allowed.
IDENTIFIER_CLAIMS = ("nir", "ine", "finess", "siret", "rna")
# Claims that need a look-up beyond the account row: computed only when released.
MES_CLAIMS = frozenset(SCOPE_CLAIMS["mes"])
SUPPORTED_CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid"]
SUPPORTED_CLAIMS += [c for names in SCOPE_CLAIMS.values() for c in names]


def sector_of(client: Client) -> str:
    """Pairwise sector (OIDC Core 8.1): stored at registration, else the first host."""
    if client.sector_identifier:
        return client.sector_identifier
    hosts = [urlsplit(uri).hostname for uri in client.redirect_uris if urlsplit(uri).hostname]
    return hosts[0] if hosts else client.client_id


def subject_for(account: Account, client: Client | None) -> str:
    if client is not None and client.subject_type == "pairwise":
        return tokens.keyed_hash(f"{sector_of(client)}|{account.sub}", "pairwise-sub")
    return account.sub


def _all_claims(account: Account) -> dict[str, Any]:
    address = {
        "street_address": account.street_address,
        "postal_code": account.postal_code,
        "locality": account.locality,
        "country": account.country,
    }
    address = {k: v for k, v in address.items() if v}
    if address:
        address["formatted"] = "\n".join(
            part
            for part in (
                account.street_address,
                " ".join(p for p in (account.postal_code, account.locality) if p),
            )
            if part
        )
    family = account.usage_name or account.family_name
    values = {
        "name": " ".join(n for n in (account.given_name, family) if n) or None,
        "given_name": account.given_name,
        "family_name": account.family_name,
        "preferred_username": account.username,
        "birthdate": account.birthdate.isoformat() if account.birthdate else None,
        "gender": account.gender,
        "updated_at": int(account.updated_at.timestamp()) if account.updated_at else None,
        "locale": "fr-FR",
        "email": account.email,
        "email_verified": account.email_verified_at is not None if account.email else None,
        "phone_number": account.phone,
        "phone_number_verified": account.phone_verified_at is not None if account.phone else None,
        "address": address or None,
    }
    return {k: v for k, v in values.items() if v is not None}


def _mes_claims(account: Account, client: Client) -> dict[str, Any]:
    # Imported here: the enrolment package imports the OIDC server, which imports this module.
    from idp.enrolment import mon_espace_sante_services as mes

    managed = [
        {
            "sub": subject_for(child, client),
            "given_name": child.given_name,
            "family_name": child.family_name,
            "birthdate": child.birthdate.isoformat() if child.birthdate else None,
            "mes_status": mes.status_of(child),
        }
        for child in mes.managed_accounts(account)
    ]
    values = {
        "mes_status": mes.status_of(account),
        "mes_managed": [{k: v for k, v in m.items() if v is not None} for m in managed] or None,
    }
    return {k: v for k, v in values.items() if v is not None}


def user_claims(
    account: Account, scope: str, client: Client, requested: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The claims for this scope, plus those asked by name that the client may receive."""
    granted = scope_to_list(scope) or []
    allowed_scopes = scope_to_list(client.scope) or []
    names = {c for s in granted for c in SCOPE_CLAIMS.get(s, ())}
    # OIDC Core 5.5: individual claims requested with the `claims` parameter are
    # returned when available, within what this portal is allowed to receive.
    allowed_names = {c for s in allowed_scopes for c in SCOPE_CLAIMS.get(s, ())}
    names |= {name for name in (requested or {}) if name in allowed_names}
    available = _all_claims(account)
    if names & MES_CLAIMS:
        available.update(_mes_claims(account, client))
    result: dict[str, Any] = {"sub": subject_for(account, client)}
    result.update({name: available[name] for name in sorted(names) if name in available})
    if client.identifier_claims and "openid" in granted:
        result.update(_identifier_claims(account, client.identifier_claims))
    return result


def _identifier_claims(account: Account, allowed: list[str]) -> dict[str, str]:
    """The identifiers this portal is registered to receive, when shown in clear."""
    from sqlalchemy import select

    from idp.enrolment.models import AccountIdentifier
    from idp.extensions import db

    rows = db.session.execute(
        select(AccountIdentifier.kind, AccountIdentifier.display).where(
            AccountIdentifier.account_id == account.id,
            AccountIdentifier.kind.in_(allowed),
            AccountIdentifier.display.is_not(None),
        )
    ).all()
    return {kind: display for kind, display in rows}
