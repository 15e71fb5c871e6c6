"""The `ameli` journey in Chromium: registry check, CGU, personal code, contact, email link,
then NIR + personal code on the login page."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest

from idp.extensions import db
from idp.registry.services import import_csv
from tests.e2e.conftest import playwright_sync
from tests.e2e.test_journeys_browser import Portals
from tests.e2e.test_journeys_browser import activation_link
from tests.e2e.test_journeys_browser import expect_logged_in
from tests.e2e.test_journeys_browser import expect_step
from tests.e2e.test_journeys_browser import inbox  # noqa: F401
from tests.e2e.test_journeys_browser import mail_to
from tests.e2e.test_journeys_browser import serve_portals
from tests.e2e.test_journeys_browser import signup_idp  # noqa: F401
from tests.e2e.test_journeys_browser import smtp  # noqa: F401
from tests.e2e.test_journeys_browser import textbox
from tests.enrolment.test_ameli import CSV

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect
AMELI = ("ameli", "ameli", "ameli")
CODE = "Tilleul-Vert-48"
EMAIL = "angela.martin@example.fr"


@pytest.fixture
def ameli_portal(app, signup_idp) -> Iterator[Portals]:  # noqa: F811
    with app.app_context():
        assert import_csv("insured", io.StringIO(CSV)).rejected == []
        db.session.commit()
    with serve_portals(app, signup_idp, [AMELI]) as served:
        yield served


def test_ameli_signs_up_confirms_email_then_logs_in_with_nir(page, ameli_portal, inbox):  # noqa: F811
    page.goto(ameli_portal.home(AMELI))
    page.get_by_role("link", name="Créer un compte").click()
    expect_step(page, "Mon identité", 1, 4)
    textbox(page, "Mon nom").fill("Martin")
    textbox(page, "Mon n° de sécurité sociale").fill("2 62 08 75 107 123 71")
    textbox(page, "Date de naissance").fill("24/08/1962")
    textbox(page, "Mon code postal").fill("75007")
    page.get_by_role("button", name="Continuer").click()
    expect_step(page, "J'accepte les conditions d'utilisation", 2, 4)
    page.locator("label", has_text="Oui, j'accepte").click()
    page.get_by_role("button", name="Continuer").click()
    expect_step(page, "Mon code personnel", 3, 4)
    page.locator("#password").fill(CODE)
    page.locator("#password_confirm").fill(CODE)
    expect(page.locator('#password-messages [data-rule="length"]')).to_have_class(
        re.compile("fr-message--valid")
    )
    page.get_by_role("button", name="Continuer").click()
    expect_step(page, "Mes informations personnelles", 4, 4)
    textbox(page, "Adresse électronique").fill(EMAIL)
    textbox(page, "Confirmation de l'adresse électronique").fill(EMAIL)
    textbox(page, "Mon n° de téléphone portable").fill("06 50 56 42 78")
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_text("Consultez votre boîte mail")).to_be_visible()
    message = mail_to(inbox, EMAIL)
    assert message.message["Subject"] == "Votre compte ameli - Confirmation de votre adresse mail"
    page.goto(activation_link(message, ameli_portal.idp_url))
    page.get_by_role("button", name="Activer mon compte").click()
    expect_logged_in(page, ameli_portal, AMELI, "Angela Claire Louise", EMAIL)
    # Log out, then back in with NIR + personal code.
    page.get_by_role("button", name="Se déconnecter").click()
    page.goto(ameli_portal.home(AMELI))
    page.get_by_role("link", name="Se connecter").click()
    textbox(page, "Mon numéro de sécurité sociale").fill("262087510712371")
    page.locator("#password").fill(CODE)
    page.get_by_role("button", name="Se connecter").click()
    expect_logged_in(page, ameli_portal, AMELI, "Angela Claire Louise", EMAIL)
