"""Second-factor fixtures: an app that really mails (SMS too, via the dev backend), helpers
that enrol an authenticator app and log in through the real pages."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy import update

from idp.extensions import db
from idp.mfa import services
from idp.mfa.models import TotpCredential
from idp.models import Account
from idp.models import utcnow
from tests.factories import csrf_of
from tests.smtp import smtp_server  # noqa: F401

VERIFY = "/connexion/verification"
PHONE = "+33612345678"
SMS_TO = "sms+33612345678@sms.localhost"
SETUP = "/mon-compte/double-authentification/application"


@pytest.fixture
def mfa_app(make_app, smtp_server):  # noqa: F811
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)


@pytest.fixture
def browser(mfa_app):
    return mfa_app.test_client()


@pytest.fixture
def person(factories):
    return factories.account()


def totp_now(secret: str, steps: int = 0) -> str:
    """The code an app shows now (or `steps` time steps later)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def enable_totp(app, account_id: int) -> str:
    """An enabled authenticator app for the account (set up directly); return its secret."""
    with app.app_context():
        cred = services.start_totp(account_id)
        cred.enabled_at = utcnow()
        secret = services.totp_secret(cred)
        db.session.commit()
        return secret


def recovery_codes(app, account_id: int) -> list[str]:
    with app.app_context():
        codes = services.regenerate_recovery_codes(account_id, None)
        db.session.commit()
        return codes


def set_phone(app, account_id: int, phone: str = PHONE) -> None:
    with app.app_context():
        db.session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(phone=phone, phone_verified_at=utcnow())
        )
        db.session.commit()


def last_step(app, account_id: int) -> int | None:
    with app.app_context():
        return db.session.scalar(
            select(TotpCredential.last_step).where(TotpCredential.account_id == account_id)
        )


def post_password(client, person, next_url: str | None = None):
    url = "/connexion" + ("?" + urlencode({"next": next_url}) if next_url else "")
    page = client.get(url)
    return client.post(
        url,
        data={
            "identifier": person.email,
            "password": person.password,
            "csrf_token": csrf_of(page.text),
        },
    )


def verify(client, code: str, method: str | None = None, remember: bool = False, url=VERIFY):
    """Type a code on the second-factor page (method: totp, recovery, sms, mail)."""
    if method:
        url += ("&" if "?" in url else "?") + urlencode({"methode": method})
    page = client.get(url)
    assert page.status_code == 200, page.text[:300]
    data = {"code": code, "csrf_token": csrf_of(page.text)}
    if remember:
        data["remember"] = "y"
    return client.post(url, data=data)


def ask_code(client, method: str, url=VERIFY):
    """Press "Recevoir un code" for an SMS or mail code."""
    url += ("&" if "?" in url else "?") + urlencode({"methode": method})
    page = client.get(url)
    assert "Recevoir un code" in page.text
    response = client.post(url, data={"action": "send", "csrf_token": csrf_of(page.text)})
    assert response.status_code == 302, response.text[:300]
    return url


def code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def logged_in(client) -> bool:
    return client.get("/mon-compte").status_code == 200
