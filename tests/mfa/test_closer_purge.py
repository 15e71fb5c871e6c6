"""`idp purge` removes spent second-factor data and keeps what can still be used."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from idp.account import phone_change
from idp.extensions import db
from idp.mfa import devices
from idp.mfa import services
from idp.mfa.models import RememberedDevice
from idp.mfa.models import TotpCredential
from idp.models import utcnow
from idp.security import verification
from idp.security.verification import Verification
from tests.mfa.conftest import enable_totp

LONG_AGO = dt.timedelta(days=3)


def _devices(app) -> dict[str, int]:
    with app.app_context():
        return {d.label: d.id for d in db.session.scalars(select(RememberedDevice))}


def test_purge_removes_expired_and_forgotten_devices_and_keeps_live_ones(app, runner, factories):
    person = factories.account()
    with app.app_context():
        tokens = {
            label: devices.remember_device(person.id, label, None)
            for label in ("expired", "forgotten", "live", "forgotten-just-now")
        }
        db.session.flush()
        rows = {d.label: d for d in db.session.scalars(select(RememberedDevice))}
        rows["expired"].expires_at = utcnow() - dt.timedelta(minutes=1)
        rows["forgotten"].revoked_at = utcnow() - LONG_AGO
        rows["forgotten-just-now"].revoked_at = utcnow()
        db.session.commit()
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0 and "remembered_devices=2" in result.output
    assert set(_devices(app)) == {"live", "forgotten-just-now"}
    with app.app_context():
        # The live device is still recognised by its cookie.
        assert devices.recognised_device(person.id, tokens["live"]) is not None


def test_purge_removes_stale_unfinished_totp_setups_only(app, runner, factories):
    stale = factories.account(email="stale@example.fr")
    fresh = factories.account(email="fresh@example.fr")
    enabled = factories.account(email="enabled@example.fr")
    enable_totp(app, enabled.id)
    with app.app_context():
        old = services.start_totp(stale.id)
        services.start_totp(fresh.id)
        old.created_at = utcnow() - LONG_AGO
        # An app enabled long ago is never touched.
        cred = services.totp_of(enabled.id)
        cred.created_at = utcnow() - dt.timedelta(days=400)
        db.session.commit()
    result = runner.invoke(args=["purge"])
    assert "totp_setups=1" in result.output
    with app.app_context():
        left = set(db.session.scalars(select(TotpCredential.account_id)))
    assert left == {fresh.id, enabled.id}


def test_purge_removes_used_expired_and_superseded_codes_keeps_waiting_ones(app, runner, factories):
    person = factories.account()
    other = factories.account(email="autre@example.fr")
    with app.app_context():

        def code(account_id, purpose=services.CODE_PURPOSE, destination="marie@example.fr"):
            return verification.issue_code(
                purpose, destination, dt.timedelta(minutes=10), account_id=account_id
            ).verification

        old = utcnow() - LONG_AGO
        expired = code(person.id)  # superseded by `used` below, then expired
        used = code(person.id)
        expired.created_at = expired.expires_at = old
        used.created_at = old
        used.used_at = old + dt.timedelta(minutes=1)
        waiting = code(other.id)  # sent a minute ago, not typed yet
        phone_old = code(person.id, phone_change.PURPOSE, "+33699999999")
        phone_old.created_at = phone_old.expires_at = old
        # Codes of other purposes (sign-up, password reset…) are not this purge's business.
        reset = code(person.id, "password-reset")
        reset.created_at = reset.expires_at = old
        ids = {"waiting": waiting.id, "reset": reset.id}
        db.session.commit()
    result = runner.invoke(args=["purge"])
    assert "one_time_codes=3" in result.output
    with app.app_context():
        assert set(db.session.scalars(select(Verification.id))) == set(ids.values())
