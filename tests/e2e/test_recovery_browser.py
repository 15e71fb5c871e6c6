"""A person who forgot the password gets a link by mail, chooses a new one and logs in."""

from __future__ import annotations

import re

import pytest

from idp.accounts import create_account
from idp.extensions import db
from tests.e2e.conftest import playwright_sync
from tests.e2e.test_journeys_browser import inbox  # noqa: F401 (fixture)
from tests.e2e.test_journeys_browser import signup_idp  # noqa: F401 (fixture)
from tests.e2e.test_journeys_browser import smtp  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect

EMAIL = "louise.michel@example.fr"
OLD = "Ancien-Secret-1871"
NEW = "Cerisier-Rouge-58"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/mot-de-passe-oublie/lien/[A-Za-z0-9_\-]+\S*")


def _login(page, idp_url: str, password: str) -> None:
    page.goto(f"{idp_url}/connexion")
    page.get_by_label("Identifiant").fill(EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()


def test_forgotten_password_from_the_login_page_to_a_new_login(
    app,
    page,
    signup_idp,  # noqa: F811
    inbox,  # noqa: F811
):
    with app.app_context():
        create_account(
            email=EMAIL, password=OLD, given_name="Louise", family_name="MICHEL", active=True
        )
        db.session.commit()

    page.goto(f"{signup_idp}/connexion")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    page.wait_for_url(f"{signup_idp}/mot-de-passe-oublie*")
    expect(page.get_by_text("Vous n'avez plus accès à votre adresse e-mail")).to_be_visible()
    page.get_by_label("Identifiant").fill(EMAIL)
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consultez votre messagerie")

    mail = inbox.wait(1)[0]
    assert mail.rcpt_tos == [EMAIL]
    link = LINK.search(mail.part("plain")).group(0)
    page.goto(link)
    page.get_by_label("Nouveau mot de passe", exact=False).first.fill(NEW)
    page.get_by_label("Confirmation", exact=False).fill(NEW)
    page.get_by_role("button", name="Modifier mon mot de passe").click()
    page.wait_for_url(f"{signup_idp}/connexion*")
    expect(page.get_by_text("Votre mot de passe a été modifié.")).to_be_visible()

    # The old password no longer works; the new one does.
    _login(page, signup_idp, OLD)
    expect(page.get_by_text("Identifiant ou mot de passe incorrect.")).to_be_visible()
    _login(page, signup_idp, NEW)
    expect(page.get_by_text("Vous êtes connecté en tant que Louise MICHEL")).to_be_visible()
    # The link was used: opening it again says so.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Ce lien n'est plus valable")
