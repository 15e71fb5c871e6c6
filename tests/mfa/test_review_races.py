"""Security review: a second factor cannot be used twice by racing requests, and a pending
login dies with the password it was opened with."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import update

from idp.extensions import db
from idp.mfa import services
from idp.models import Account
from idp.models import utcnow
from idp.security import verification
from tests.factories import csrf_of
from tests.mfa.conftest import VERIFY
from tests.mfa.conftest import ask_code
from tests.mfa.conftest import code_in
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import logged_in
from tests.mfa.conftest import post_password
from tests.mfa.conftest import recovery_codes
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify


def _ready(client, person, method: str | None = None):
    """A browser with a pending login, on the code page: (url, csrf token)."""
    post_password(client, person)
    url = VERIFY + (f"?methode={method}" if method else "")
    page = client.get(url)
    assert page.status_code == 200
    return url, csrf_of(page.text)


def _race(monkeypatch, module, name, mfa_app, person, code, method=None):
    """Two browsers send the same code at once: the second request runs entirely while the
    first one has read the credential but not yet consumed it. Return both responses."""
    first, second = mfa_app.test_client(), mfa_app.test_client()
    url1, token1 = _ready(first, person, method)
    url2, token2 = _ready(second, person, method)
    original = getattr(module, name)
    inner = {}

    def interleaved(*args, **kwargs):
        if "started" not in inner:
            inner["started"] = True
            # Another thread: its own application context, hence its own database session.
            thread = threading.Thread(
                target=lambda: inner.update(
                    response=second.post(url2, data={"code": code, "csrf_token": token2})
                )
            )
            thread.start()
            thread.join(timeout=60)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, interleaved)
    outer = first.post(url1, data={"code": code, "csrf_token": token1})
    monkeypatch.undo()
    return (first, outer), (second, inner["response"])


def _exactly_one_logged_in(pairs) -> None:
    statuses = sorted(response.status_code for _, response in pairs)
    assert statuses == [200, 302], statuses
    assert [logged_in(client) for client, _ in pairs].count(True) == 1


def test_the_same_app_code_sent_twice_at_once_opens_one_session(mfa_app, person, monkeypatch):
    secret = enable_totp(mfa_app, person.id)
    pairs = _race(
        monkeypatch, services, "check_totp", mfa_app, person, totp_now(secret), method="totp"
    )
    _exactly_one_logged_in(pairs)


def test_the_same_recovery_code_sent_twice_at_once_opens_one_session(mfa_app, person, monkeypatch):
    enable_totp(mfa_app, person.id)
    code = recovery_codes(mfa_app, person.id)[0]
    # The clock is read right after the code's row is read, before it is marked used.
    pairs = _race(monkeypatch, services, "utcnow", mfa_app, person, code, method="recovery")
    _exactly_one_logged_in(pairs)
    with mfa_app.app_context():
        assert services.recovery_codes_left(person.id) == 9


def test_the_same_mail_code_sent_twice_at_once_opens_one_session(
    mfa_app, person, monkeypatch, smtp_server
):
    enable_totp(mfa_app, person.id)
    sender = mfa_app.test_client()
    post_password(sender, person)
    ask_code(sender, "mail")
    [mail] = smtp_server.wait(1)
    code = code_in(mail.part("plain"))
    pairs = _race(monkeypatch, verification, "check_code", mfa_app, person, code, method="mail")
    _exactly_one_logged_in(pairs)


def test_a_pending_login_dies_when_the_password_changes(mfa_app, browser, person):
    enable_totp(mfa_app, person.id)
    post_password(browser, person)
    # Meanwhile the owner resets the password (the one typed above is no longer theirs).
    with mfa_app.app_context():
        db.session.execute(
            update(Account)
            .where(Account.id == person.id)
            .values(password_set_at=utcnow() + dt.timedelta(seconds=1))
        )
        db.session.commit()
    page = browser.get(VERIFY)
    assert page.status_code == 403
    assert "Le délai pour saisir le code est dépassé." in page.text
    assert browser.get(VERIFY).headers["Location"].startswith("/connexion")
    assert not logged_in(browser)


def test_a_pending_login_dies_when_an_agent_forces_a_password_reset(mfa_app, browser, person):
    secret = enable_totp(mfa_app, person.id)
    url, token = _ready(browser, person)
    with mfa_app.app_context():
        db.session.execute(
            update(Account).where(Account.id == person.id).values(password_hash=None)
        )
        db.session.commit()
    refused = browser.post(url, data={"code": totp_now(secret), "csrf_token": token})
    assert refused.status_code == 403
    assert not logged_in(browser)


def test_a_pending_login_still_works_with_an_unchanged_password(mfa_app, browser, person):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    assert verify(browser, totp_now(secret)).status_code == 302
    assert logged_in(browser)
