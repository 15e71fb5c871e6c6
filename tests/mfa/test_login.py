"""Logging in with a second factor: authenticator app, recovery codes, codes by SMS or mail,
remembered devices, and the limit on wrong codes."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.extensions import db
from idp.mfa.models import RememberedDevice
from idp.models import AuditEvent
from tests.factories import Flow
from tests.factories import csrf_of
from tests.mfa.conftest import SMS_TO
from tests.mfa.conftest import VERIFY
from tests.mfa.conftest import ask_code
from tests.mfa.conftest import code_in
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import logged_in
from tests.mfa.conftest import post_password
from tests.mfa.conftest import recovery_codes
from tests.mfa.conftest import set_phone
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify
from tests.oidc.helpers import id_token_claims


def test_account_without_second_factor_logs_in_with_the_password_alone(browser, person):
    response = post_password(browser, person)
    assert response.status_code == 302
    assert not response.headers["Location"].startswith(VERIFY)
    assert logged_in(browser)


def test_password_alone_opens_no_session_when_the_app_is_enabled(mfa_app, browser, person):
    enable_totp(mfa_app, person.id)
    response = post_password(browser, person)
    assert response.status_code == 302
    assert response.headers["Location"] == VERIFY
    assert not logged_in(browser)
    page = browser.get(VERIFY)
    assert "application d'authentification" in page.text
    assert 'autocomplete="one-time-code"' in page.text
    assert "Se souvenir de cet appareil pendant 30 jours" in page.text


def test_login_with_the_app_gives_two_factors_in_the_id_token(mfa_app, browser, person, factories):
    secret = enable_totp(mfa_app, person.id)
    flow = Flow(browser, factories.portal())
    response = flow.login(flow.authorize(), person.email, person.password)
    assert response.headers["Location"] == VERIFY
    query = flow.follow_to_callback(verify(browser, totp_now(secret)))
    claims = id_token_claims(browser, flow.token(query["code"]).get_json())
    assert claims["acr"] == "eidas2"
    assert claims["amr"] == ["pwd", "otp"]
    assert "auth_time" in claims


def test_a_wrong_app_code_is_refused(mfa_app, browser, person):
    enable_totp(mfa_app, person.id)
    post_password(browser, person)
    page = verify(browser, "000000")
    assert page.status_code == 200
    assert "Ce code est incorrect ou n&#39;est plus valable." in page.text
    assert not logged_in(browser)


def test_an_app_code_is_refused_a_second_time_within_its_window(mfa_app, person):
    secret = enable_totp(mfa_app, person.id)
    code = totp_now(secret)
    first = mfa_app.test_client()
    post_password(first, person)
    assert verify(first, code).status_code == 302
    assert logged_in(first)

    second = mfa_app.test_client()  # someone who saw the code, within the same 30 seconds
    post_password(second, person)
    replay = verify(second, code)
    assert replay.status_code == 200
    assert "Ce code est incorrect" in replay.text
    assert not logged_in(second)
    # The next code of the app still works.
    assert verify(second, totp_now(secret, steps=1)).status_code == 302
    assert logged_in(second)


def test_a_recovery_code_works_once(mfa_app, person):
    enable_totp(mfa_app, person.id)
    codes = recovery_codes(mfa_app, person.id)
    assert len(codes) == 10 and len(set(codes)) == 10
    first = mfa_app.test_client()
    post_password(first, person)
    assert verify(first, codes[0].upper(), method="recovery").status_code == 302
    assert logged_in(first)

    second = mfa_app.test_client()
    post_password(second, person)
    reused = verify(second, codes[0], method="recovery")
    assert reused.status_code == 200
    assert "Ce code est incorrect" in reused.text
    assert not logged_in(second)
    assert verify(second, codes[1], method="recovery").status_code == 302


def test_code_by_mail_as_second_factor(mfa_app, browser, person, smtp_server, factories):
    enable_totp(mfa_app, person.id)
    flow = Flow(browser, factories.portal())
    flow.login(flow.authorize(), person.email, person.password)
    page = browser.get(VERIFY + "?methode=mail")
    assert "m***@example.fr" in page.text
    assert not smtp_server.messages  # nothing is sent before the person asks
    url = ask_code(browser, "mail")
    [mail] = smtp_server.wait(1)
    assert mail.rcpt_tos == [person.email]
    assert mail.message["Subject"] == "Votre code de connexion"
    code = code_in(mail.part("plain"))
    assert code in mail.part("html")
    query = flow.follow_to_callback(verify(browser, code, url=url))
    claims = id_token_claims(browser, flow.token(query["code"]).get_json())
    assert (claims["acr"], claims["amr"]) == ("eidas2", ["pwd", "mail"])


def test_code_by_sms_goes_to_the_verified_phone_only(mfa_app, browser, person, smtp_server):
    enable_totp(mfa_app, person.id)
    post_password(browser, person)
    assert "Recevoir un code par SMS" not in browser.get(VERIFY).text  # no verified phone
    set_phone(mfa_app, person.id)
    assert "Recevoir un code par SMS" in browser.get(VERIFY).text
    url = ask_code(browser, "sms")
    assert "+33 6 ** ** ** 78" in browser.get(url).text
    [sms] = smtp_server.wait(1)
    assert sms.rcpt_tos == [SMS_TO]
    code = code_in(sms.part("plain"))
    assert verify(browser, "999999" if code != "999999" else "111111", url=url).status_code == 200
    assert verify(browser, code, url=url).status_code == 302
    assert logged_in(browser)
    # The code was used: it does not open a second session.
    other = mfa_app.test_client()
    post_password(other, person)
    assert verify(other, code, method="sms").status_code == 200


def test_five_wrong_codes_drop_the_pending_login(mfa_app, browser, person):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    for _ in range(4):
        assert verify(browser, "000000").status_code == 200
    last = verify(browser, "000000")
    assert last.status_code == 403
    assert "Trop de codes incorrects" in last.text
    # Even the right code no longer opens a session: the password is asked again.
    assert browser.get(VERIFY).headers["Location"].startswith("/connexion")
    assert not logged_in(browser)
    post_password(browser, person)
    assert verify(browser, totp_now(secret)).status_code == 302


def test_remembered_device_skips_the_prompt_until_forgotten(mfa_app, browser, person):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    response = verify(browser, totp_now(secret), remember=True)
    cookie = response.headers.getlist("Set-Cookie")
    device_cookie = next(c for c in cookie if c.startswith("idp_device="))
    assert "HttpOnly" in device_cookie and "SameSite=Lax" in device_cookie
    assert "Max-Age=2592000" in device_cookie
    with mfa_app.app_context():
        [device] = db.session.scalars(select(RememberedDevice)).all()
        assert device.token_hash not in device_cookie  # only the hash is stored
        device_id = device.id

    browser.delete_cookie("idp_session")  # the SSO session is gone, the device is remembered
    response = post_password(browser, person)
    assert response.headers["Location"] != VERIFY
    assert logged_in(browser)

    page = browser.get("/mon-compte")
    assert f'data-device="{device_id}"' in page.text
    forgotten = browser.post(
        f"/mon-compte/double-authentification/appareils/{device_id}/oublier",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert forgotten.status_code == 302
    assert "Cet appareil a été oublié." in browser.get("/mon-compte").text
    browser.delete_cookie("idp_session")
    assert post_password(browser, person).headers["Location"] == VERIFY


def test_a_tampered_or_unsigned_device_cookie_is_not_recognised(mfa_app, browser, person):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    response = verify(browser, totp_now(secret), remember=True)
    raw = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("idp_device="))
    value = raw.split(";")[0].removeprefix("idp_device=").strip('"')
    token, signature = value.rsplit(".", 1)
    for forged in (token, f"{token}.{signature[::-1]}", f"{token}x.{signature}"):
        browser.delete_cookie("idp_session")
        browser.set_cookie("idp_device", forged)
        assert post_password(browser, person).headers["Location"] == VERIFY, forged
    browser.delete_cookie("idp_session")
    browser.set_cookie("idp_device", value)
    assert post_password(browser, person).headers["Location"] != VERIFY


def test_remembered_device_is_not_enough_for_a_portal_asking_two_factors(
    mfa_app, browser, person, factories
):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    verify(browser, totp_now(secret), remember=True)
    browser.delete_cookie("idp_session")
    flow = Flow(browser, factories.portal(min_acr="eidas2"))
    response = flow.login(flow.authorize(), person.email, person.password)
    assert response.headers["Location"] == VERIFY


def test_remembered_devices_are_forgotten_after_a_password_reset(
    mfa_app, browser, person, smtp_server
):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    verify(browser, totp_now(secret), remember=True)
    browser.delete_cookie("idp_session")

    # Forgotten password, by mail link.
    other = mfa_app.test_client()
    page = other.get("/mot-de-passe-oublie")
    other.post(
        "/mot-de-passe-oublie",
        data={"identifier": person.email, "channel": "email", "csrf_token": csrf_of(page.text)},
    )
    [mail] = smtp_server.wait(1)
    link = re.search(r"http://localhost(/mot-de-passe-oublie/lien/\S+)", mail.part("plain"))[1]
    form = other.get(link)
    new_password = "Tulipe-Orange-93"
    done = other.post(
        link,
        data={
            "password": new_password,
            "password_confirm": new_password,
            "csrf_token": csrf_of(form.text),
        },
    )
    assert done.status_code == 302, done.text[:500]

    person.password = new_password
    assert post_password(browser, person).headers["Location"] == VERIFY
    with mfa_app.app_context():
        assert (
            db.session.scalars(select(AuditEvent.event)).all().count("mfa.devices_forgotten") == 1
        )


def test_the_second_factor_must_be_typed_within_ten_minutes(mfa_app, browser, person, monkeypatch):
    from idp.mfa import services

    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    monkeypatch.setattr(services, "PENDING_LIFETIME", services.dt.timedelta(0))
    late = browser.get(VERIFY)
    assert late.status_code == 403
    assert "Le délai pour saisir le code est dépassé." in late.text
    monkeypatch.undo()
    assert browser.get(VERIFY).headers["Location"].startswith("/connexion")
    post_password(browser, person)
    assert verify(browser, totp_now(secret)).status_code == 302
