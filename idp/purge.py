"""Deleting rows that can no longer be used (run `idp purge` from cron)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import or_

from idp.extensions import db
from idp.models import utcnow
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import BackchannelDelivery
from idp.oidc.models import BrowserSession
from idp.oidc.models import Token

# Used codes stay a little while so that a replay is still recognised and revokes.
GRACE = dt.timedelta(hours=1)


def purge(now: dt.datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    horizon = now - GRACE
    counts = {}
    counts["codes"] = db.session.execute(
        delete(AuthorizationCode).where(AuthorizationCode.expires_at < horizon)
    ).rowcount
    counts["tokens"] = db.session.execute(
        delete(Token).where(
            Token.access_expires_at < horizon,
            or_(
                Token.refresh_expires_at.is_(None),
                Token.refresh_expires_at < horizon,
                and_(Token.revoked_at.is_not(None), Token.revoked_at < horizon),
            ),
        )
    ).rowcount
    counts["sessions"] = db.session.execute(
        delete(BrowserSession).where(
            or_(BrowserSession.expires_at < horizon, BrowserSession.ended_at < horizon)
        )
    ).rowcount
    counts["backchannel"] = db.session.execute(
        delete(BackchannelDelivery).where(
            BackchannelDelivery.created_at < now - dt.timedelta(days=7)
        )
    ).rowcount
    from idp.federation.flows import purge_expired

    counts["federation_flows"] = purge_expired(now)
    return counts
