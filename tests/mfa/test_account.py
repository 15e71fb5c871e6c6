"""Mon compte: enabling the authenticator app, recovery codes, disabling, remembered devices."""

from __future__ import annotations

import re

from tests.factories import csrf_of
from tests.factories import mark_second_factor_passed
from tests.mfa.conftest import SETUP
from tests.mfa.conftest import VERIFY
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import post_password
from tests.mfa.conftest import recovery_codes
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify

CODES = "/mon-compte/double-authentification/codes-de-secours"
DISABLE = "/mon-compte/double-authentification/application/desactiver"


def secret_on(page) -> str:
    match = re.search(r"<code data-totp-secret>([A-Z2-7 ]+)</code>", page.text)
    assert match, page.text[:2000]
    return match.group(1).replace(" ", "")


def codes_on(page) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page.text)


def test_enrolment_refuses_a_wrong_code_then_enables_with_the_right_one(
    browser, person, smtp_server
):
    post_password(browser, person)
    overview = browser.get("/mon-compte")
    assert 'id="double-authentification"' in overview.text
    assert 'data-totp="disabled"' in overview.text
    page = browser.get(SETUP)
    assert "<svg" in page.text and "<title>QR code" in page.text
    assert 'autocomplete="one-time-code"' in page.text
    secret = secret_on(page)

    assert 'autocomplete="current-password"' in page.text  # a one-factor session: asked
    wrong = browser.post(
        SETUP,
        data={"code": "000000", "password": person.password, "csrf_token": csrf_of(page.text)},
    )
    assert wrong.status_code == 200
    assert "Ce code est incorrect." in wrong.text
    assert 'data-totp="disabled"' in browser.get("/mon-compte").text
    assert secret_on(wrong) == secret  # the same secret until it is enabled

    done = browser.post(
        SETUP,
        data={
            "code": totp_now(secret),
            "password": person.password,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert done.status_code == 200
    codes = codes_on(done)
    assert len(codes) == 10
    assert "Ils ne seront plus jamais affichés" in done.text
    overview = browser.get("/mon-compte").text
    assert 'data-totp="enabled"' in overview
    assert "Il vous reste 10 codes de secours." in overview
    assert codes[0] not in overview  # shown once

    [mail] = smtp_server.wait(1)
    assert mail.rcpt_tos == [person.email]
    assert mail.message["Subject"] == "Double authentification activée"
    assert "http://localhost/mon-compte#double-authentification" in mail.part("plain")

    # The next login asks the app.
    other = browser.application.test_client()
    assert post_password(other, person).headers["Location"] == VERIFY
    assert verify(other, totp_now(secret, steps=1)).status_code == 302


def test_enrolment_needs_a_session_and_csrf(client, browser, person):
    assert client.get(SETUP).headers["Location"].startswith("/connexion?next=")
    post_password(browser, person)
    browser.get(SETUP)
    assert browser.post(SETUP, data={"code": "123456"}).status_code == 400  # no CSRF token
    assert 'data-totp="disabled"' in browser.get("/mon-compte").text


def test_new_recovery_codes_need_the_password_and_replace_the_old_ones(
    mfa_app, browser, person, smtp_server
):
    secret = enable_totp(mfa_app, person.id)
    old = recovery_codes(mfa_app, person.id)
    post_password(browser, person)
    verify(browser, totp_now(secret))
    page = browser.get(CODES)
    assert 'autocomplete="current-password"' in page.text
    refused = browser.post(CODES, data={"password": "nope", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 200
    assert codes_on(refused) == []
    shown = browser.post(
        CODES, data={"password": person.password, "csrf_token": csrf_of(page.text)}
    )
    new = codes_on(shown)
    assert len(new) == 10 and not set(new) & set(old)

    other = mfa_app.test_client()
    post_password(other, person)
    assert verify(other, old[0], method="recovery").status_code == 200  # refused
    assert verify(other, new[0], method="recovery").status_code == 302
    assert smtp_server.wait(1)[0].message["Subject"] == "Nouveaux codes de secours"


def test_disabling_the_app_needs_a_proof_and_stops_the_prompt(
    mfa_app, browser, person, smtp_server
):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    verify(browser, totp_now(secret))
    page = browser.get(DISABLE)
    nothing = browser.post(DISABLE, data={"csrf_token": csrf_of(page.text)})
    assert "Saisissez votre mot de passe ou un code" in nothing.text
    replayed = browser.post(
        DISABLE, data={"code": totp_now(secret), "csrf_token": csrf_of(page.text)}
    )
    assert "Le mot de passe ou le code est incorrect." in replayed.text  # already used
    done = browser.post(
        DISABLE, data={"code": totp_now(secret, steps=1), "csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 302
    overview = browser.get("/mon-compte").text
    assert "authentification a été désactivée." in overview
    assert 'data-totp="disabled"' in overview
    assert smtp_server.wait(1)[0].message["Subject"] == "Double authentification désactivée"

    other = mfa_app.test_client()
    assert post_password(other, person).headers["Location"] != VERIFY


def test_forget_all_devices(mfa_app, browser, person):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    verify(browser, totp_now(secret), remember=True)
    page = browser.get("/mon-compte")
    assert "Oublier cet appareil" in page.text
    response = browser.post(
        "/mon-compte/double-authentification/appareils/oublier",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 302
    page = browser.get("/mon-compte")
    assert "Tous vos appareils ont été oubliés." in page.text
    assert "Aucun appareil n'est mémorisé." in page.text
    browser.delete_cookie("idp_session")
    assert post_password(browser, person).headers["Location"] == VERIFY


def test_another_accounts_device_cannot_be_forgotten(mfa_app, browser, person, factories):
    intruder = factories.account(email="other@example.fr")
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    verify(browser, totp_now(secret), remember=True)
    page = browser.get("/mon-compte")
    device_id = re.search(r'data-device="(\d+)"', page.text)[1]
    thief = mfa_app.test_client()
    post_password(thief, intruder)
    token = csrf_of(thief.get("/mon-compte").text)
    response = thief.post(
        f"/mon-compte/double-authentification/appareils/{device_id}/oublier",
        data={"csrf_token": token},
    )
    assert response.status_code == 404
    assert f'data-device="{device_id}"' in browser.get("/mon-compte").text


def test_a_password_change_forgets_the_remembered_devices(mfa_app, browser, person):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    verify(browser, totp_now(secret), remember=True)
    page = browser.get("/mon-compte/mot-de-passe")
    new = "Tulipe-Orange-93"
    changed = browser.post(
        "/mon-compte/mot-de-passe",
        data={
            "current_password": person.password,
            "password": new,
            "password_confirm": new,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert changed.status_code == 302
    assert "Aucun appareil n'est mémorisé." in browser.get("/mon-compte").text
    browser.delete_cookie("idp_session")
    person.password = new
    assert post_password(browser, person).headers["Location"] == VERIFY


def test_enrolment_from_a_one_factor_session_needs_the_current_password(
    mfa_app, browser, person, smtp_server
):
    # A stolen session alone must not enrol its holder's app on the account.
    post_password(browser, person)
    page = browser.get(SETUP)
    secret = secret_on(page)
    for password in ("", "not-the-password"):
        refused = browser.post(
            SETUP,
            data={"code": totp_now(secret), "password": password, "csrf_token": csrf_of(page.text)},
        )
        assert refused.status_code == 200
        assert "Le mot de passe actuel est incorrect." in refused.text
    assert 'data-totp="disabled"' in browser.get("/mon-compte").text
    assert smtp_server.messages == []


def test_a_session_that_passed_a_second_factor_is_not_asked_the_password(
    mfa_app, browser, person, smtp_server
):
    post_password(browser, person)
    mark_second_factor_passed(mfa_app, person.id)
    page = browser.get(SETUP)
    assert 'autocomplete="current-password"' not in page.text
    done = browser.post(
        SETUP, data={"code": totp_now(secret_on(page)), "csrf_token": csrf_of(page.text)}
    )
    assert len(codes_on(done)) == 10
