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
# An authenticator app whose setup was never confirmed by a first right code.
TOTP_SETUP_LIFETIME = dt.timedelta(days=1)


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
    from idp.account.deletion import purge_due
    from idp.auth.lockout import purge as purge_throttles

    # Accounts whose deletion grace period is over: personal data erased.
    counts["accounts_erased"] = purge_due(now)
    counts["login_throttles"] = purge_throttles(now)
    counts.update(purge_second_factors(now))
    return counts


def purge_second_factors(now: dt.datetime) -> dict[str, int]:
    """Expired or forgotten remembered devices, unfinished TOTP setups, spent one-time codes.

    Codes stay one GRACE after they were spent: the hourly sending limits count them.
    """
    from idp.account.phone_change import PURPOSE as PHONE_CHANGE
    from idp.mfa.models import RememberedDevice
    from idp.mfa.models import TotpCredential
    from idp.mfa.services import CODE_PURPOSE
    from idp.security.verification import Verification

    horizon = now - GRACE
    counts = {}
    counts["remembered_devices"] = db.session.execute(
        delete(RememberedDevice).where(
            or_(RememberedDevice.expires_at < now, RememberedDevice.revoked_at < horizon)
        )
    ).rowcount
    counts["totp_setups"] = db.session.execute(
        delete(TotpCredential).where(
            TotpCredential.enabled_at.is_(None),
            TotpCredential.created_at < now - TOTP_SETUP_LIFETIME,
        )
    ).rowcount
    counts["one_time_codes"] = db.session.execute(
        delete(Verification).where(
            Verification.purpose.in_((CODE_PURPOSE, PHONE_CHANGE)),
            Verification.created_at < horizon,
            or_(
                Verification.expires_at < horizon,
                Verification.used_at < horizon,
                Verification.superseded_at < horizon,
            ),
        )
    ).rowcount
    return counts
