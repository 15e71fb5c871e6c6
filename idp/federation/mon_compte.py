"""Mon compte's section on upstream providers: one row per upstream, linked or not.

The upstreams listed are those offered on the account's journey (all configured ones for
an account without a journey), plus any upstream the account is still linked to, so that
a link can always be undone.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from idp.federation import upstreams
from idp.federation.models import FederatedIdentity
from idp.federation.presets import PRESETS
from idp.federation.services import can_unlink
from idp.federation.services import identities_of_account
from idp.federation.services import upstream_of
from idp.federation.upstreams import offered
from idp.models import Account


@dataclass(frozen=True)
class UpstreamRow:
    name: str
    brand: str
    # The account's identity at this upstream (the latest linked), or None.
    identity: FederatedIdentity | None
    # "Relier" is offered (configured, not linked yet).
    can_link: bool
    # "Délier" is offered (linked, and the account can still log in another way).
    can_unlink: bool


def issuers() -> dict[str, str]:
    """Each configured upstream's issuer → its name."""
    return {client.settings.issuer: name for name, client in upstreams().items()}


def _brand(name: str, preset: str | None) -> str:
    client = upstreams().get(name)
    if client is not None:
        return client.preset.brand or name
    found = PRESETS.get(preset or "")
    return (found.brand if found else "") or name


def account_upstreams(account: Account) -> list[UpstreamRow]:
    """The rows of Mon compte's section, offered upstreams first (configuration order)."""
    configs = current_app.extensions.get("idp_upstream_configs", [])
    chosen = offered(configs, None, account.journey) if account.journey else list(configs)
    known = issuers()
    linked: dict[str, FederatedIdentity] = {}
    for identity in identities_of_account(account.id):
        linked[upstream_of(identity, known)] = identity  # the latest one wins
    names = [u.name for u in chosen]
    names += [name for name in linked if name not in names]
    rows = []
    for name in names:
        identity = linked.get(name)
        rows.append(
            UpstreamRow(
                name=name,
                brand=_brand(name, identity.provider if identity else None),
                identity=identity,
                can_link=identity is None and name in upstreams(),
                can_unlink=identity is not None and can_unlink(account, name, known),
            )
        )
    return rows
