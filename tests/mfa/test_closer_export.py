"""The RGPD export ("Télécharger mes données") lists second factors, remembered devices,
roles and the deletion date; never a secret, a code or a hash."""

from __future__ import annotations

import json

from sqlalchemy import select

from idp.account import deletion
from idp.account import export
from idp.admin import services as admin
from idp.extensions import db
from idp.mfa.models import RecoveryCode
from idp.mfa.models import RememberedDevice
from idp.mfa.models import TotpCredential
from idp.models import Account
from tests.factories import csrf_of
from tests.mfa.conftest import ask_code
from tests.mfa.conftest import code_in
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import post_password
from tests.mfa.conftest import recovery_codes
from tests.mfa.conftest import set_phone
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify


def download(client):
    token = csrf_of(client.get("/mon-compte").text)
    response = client.post("/mon-compte/mes-donnees", data={"csrf_token": token})
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.text


def test_export_lists_factors_devices_and_roles_without_secrets(mfa_app, factories, smtp_server):
    person = factories.account()
    set_phone(mfa_app, person.id)
    secret = enable_totp(mfa_app, person.id)
    codes = recovery_codes(mfa_app, person.id)
    with mfa_app.app_context():
        admin.grant_role(db.session.get(Account, person.id), "helpdesk")
        db.session.commit()
    # One browser logs in with the app and is remembered; another one with an SMS code.
    first = mfa_app.test_client()
    post_password(first, person)
    assert verify(first, totp_now(secret), remember=True).status_code == 302
    device_cookie = first.get_cookie("idp_device").value
    second = mfa_app.test_client()
    post_password(second, person)
    url = ask_code(second, "sms")
    sms = smtp_server.wait(1)[0].message.get_content()
    assert verify(second, code_in(sms), url=url).status_code == 302

    body = download(first)
    data = json.loads(body)
    factors = {f["kind"]: f for f in data["second_factors"]}
    assert set(factors) == {"totp", "recovery_codes", "sms", "mail"}
    assert factors["totp"]["enabled_at"] and factors["totp"]["last_used_at"]
    assert factors["recovery_codes"]["codes_left"] == 10
    assert factors["sms"]["phone"] == "+33612345678" and factors["sms"]["last_used_at"]
    assert factors["mail"]["last_used_at"] is None
    [device] = data["remembered_devices"]
    assert device["label"] and device["remembered_at"] and device["expires_at"]
    assert data["roles"] == ["helpdesk"]
    assert data["deletion_scheduled_at"] is None
    # Nothing that would let someone else pass the second factor.
    with mfa_app.app_context():
        hidden = [
            secret,
            device_cookie,
            *codes,
            *(c.replace("-", "") for c in codes),
            *db.session.scalars(select(RecoveryCode.code_hash)),
            *db.session.scalars(select(RememberedDevice.token_hash)),
            *db.session.scalars(select(TotpCredential.secret_encrypted)),
        ]
    assert not [h for h in hidden if h in body]
    assert "secret" not in body and "code_hash" not in body and "token_hash" not in body


def test_export_of_an_account_without_factors_has_empty_lists(mfa_app, factories):
    person = factories.account()
    first = mfa_app.test_client()
    post_password(first, person)
    data = json.loads(download(first))
    assert [f["kind"] for f in data["second_factors"]] == ["mail"]
    assert data["remembered_devices"] == [] and data["roles"] == []


def test_export_gives_the_deletion_date_once_scheduled(mfa_app, factories):
    person = factories.account()
    with mfa_app.app_context():
        account = db.session.get(Account, person.id)
        when = deletion.schedule(account, 30, None)
        data = export.export_data(account, None)
        assert data["deletion_scheduled_at"] == when.isoformat()
        json.dumps(data)  # serialisable as sent
