"""What every console service shares: who acts."""

from __future__ import annotations

from typing import Any

from idp.models import Account

# An operator's account, the client id of an API client, or None (command line).
Actor = Account | str | None


def actor_details(actor: Actor) -> dict[str, Any]:
    """Audit details naming the actor."""
    if isinstance(actor, Account):
        return {"actor_id": actor.id}
    if isinstance(actor, str):
        return {"actor_client": actor}
    return {"actor": "cli"}
