"""The two proof pages of Mon compte (disable the app, new recovery codes) behave alike:
no app → back to the section; a wrong proof → the page again, audited, nothing changed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.mfa import services
from idp.models import AuditEvent
from tests.factories import csrf_of
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import post_password
from tests.mfa.conftest import recovery_codes
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify

CODES = "/mon-compte/double-authentification/codes-de-secours"
DISABLE = "/mon-compte/double-authentification/application/desactiver"
PAGES = {
    DISABLE: ("Désactiver l&#39;application d&#39;authentification", "Désactiver"),
    CODES: ("Générer de nouveaux codes de secours", "Générer de nouveaux codes"),
}


def refusals(app, account_id) -> int:
    with app.app_context():
        query = select(AuditEvent).where(
            AuditEvent.event == "mfa.proof_refused", AuditEvent.account_id == account_id
        )
        return len(db.session.scalars(query).all())


@pytest.mark.parametrize("url", [DISABLE, CODES])
def test_without_an_app_the_page_sends_back_to_the_section(browser, person, url):
    post_password(browser, person)
    token = csrf_of(browser.get("/mon-compte").text)
    posted = browser.post(url, data={"password": person.password, "csrf_token": token})
    for response in (browser.get(url), posted):
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/mon-compte#double-authentification")


@pytest.mark.parametrize("url", [DISABLE, CODES])
def test_a_wrong_proof_shows_the_page_again_and_is_audited(
    mfa_app, browser, person, smtp_server, url
):
    secret = enable_totp(mfa_app, person.id)
    recovery_codes(mfa_app, person.id)
    post_password(browser, person)
    verify(browser, totp_now(secret))
    page = browser.get(url)
    title, button = PAGES[url]
    assert page.status_code == 200
    assert title in page.text and button in page.text
    assert f'action="{url}"' in page.text
    refused = browser.post(url, data={"password": "nope", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 200
    assert "Le mot de passe ou le code est incorrect." in refused.text
    assert title in refused.text
    assert refusals(mfa_app, person.id) == 1
    assert 'data-totp="enabled"' in browser.get("/mon-compte").text
    with mfa_app.app_context():
        assert services.recovery_codes_left(person.id) == 10
    assert smtp_server.messages == []
