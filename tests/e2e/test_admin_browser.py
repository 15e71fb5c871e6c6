"""An administrator registers a portal in the console; a person then logs into it."""

from __future__ import annotations

import secrets

import pytest

from demo.portals import create_portals_app
from idp.accounts import create_account
from idp.admin.services import grant_role
from idp.auth import session as sso
from idp.extensions import db
from idp.security import audit
from tests.conftest import free_port
from tests.e2e.conftest import HOST
from tests.e2e.conftest import ServerThread
from tests.e2e.conftest import _wait_for_backchannel_threads
from tests.e2e.conftest import playwright_sync

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect

SLUG = "portail-console"
NAME = "Portail créé en console"


def _admin_cookie(e2e_app) -> str:
    """An administrator's SSO session opened with a second factor (as after the OTP page)."""
    with e2e_app.app_context():
        admin = create_account(
            email="admin@ars.example.fr",
            password="Admin-Password-42",
            given_name="Alice",
            family_name="ADMIN",
            active=True,
        )
        db.session.flush()
        grant_role(admin, "admin")
        secret = sso.open_session(admin, ["pwd", "otp"], "eidas2", audit.Origin())[1]
        db.session.commit()
        return secret


def test_admin_creates_a_portal_then_a_person_logs_into_it(browser, e2e_app, idp_server):
    port = free_port()
    base = f"http://{HOST}:{port}"
    with e2e_app.app_context():
        create_account(
            email="marie.curie@example.fr",
            password="Correct-Horse-42",
            given_name="Marie",
            family_name="CURIE",
            active=True,
        )
        db.session.commit()

    admin_context = browser.new_context(locale="fr-FR")
    admin_context.set_default_timeout(5_000)
    admin_context.add_cookies(
        [{"name": sso.COOKIE, "value": _admin_cookie(e2e_app), "url": idp_server}]
    )
    page = admin_context.new_page()
    page.goto(f"{idp_server}/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    page.get_by_role("link", name="Portails").click()
    page.get_by_role("link", name="Enregistrer un portail").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enregistrer un portail")

    page.get_by_label("Nom du portail").fill(NAME)
    page.get_by_label("Identifiant du client").fill("portail-console")
    # A plain-http redirect URI off loopback is refused, in French, nothing is saved.
    page.get_by_label("URI de redirection").fill("http://portail.example/callback")
    page.get_by_role("button", name="Enregistrer le portail").click()
    expect(page.get_by_role("alert")).to_contain_text("https obligatoire")
    expect(page.get_by_label("Nom du portail")).to_have_value(NAME)

    page.get_by_label("URI de redirection").fill(f"{base}/{SLUG}/callback")
    page.get_by_label("URI de retour après déconnexion").fill(f"{base}/{SLUG}/logged-out")
    page.get_by_label("URI de déconnexion back-channel").fill(f"{base}/{SLUG}/backchannel-logout")
    for scope in ("phone", "address"):
        # DSFR draws the box over the input: click its label, as a person does.
        page.locator(
            f"label[for={page.get_by_label(scope, exact=True).get_attribute('id')}]"
        ).click()
        expect(page.get_by_label(scope, exact=True)).to_be_checked()
    page.get_by_role("button", name="Enregistrer le portail").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Portail enregistré")
    client_id = page.locator("[data-client-id]").inner_text()
    client_secret = page.locator("[data-client-secret]").inner_text()
    assert client_id == "portail-console" and len(client_secret) >= 32
    page.get_by_role("link", name="J'ai copié le secret").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(NAME)
    assert client_secret not in page.content()
    admin_context.close()

    portals_app = create_portals_app(
        {
            "issuer": idp_server,
            "base_url": base,
            "secret_key": secrets.token_urlsafe(32),
            "portals": [
                {
                    "slug": SLUG,
                    "name": NAME,
                    "client_id": client_id,
                    "client_secret": client_secret,
                }
            ],
        }
    )
    person_context = browser.new_context(locale="fr-FR")
    person_context.set_default_timeout(5_000)
    try:
        with ServerThread(portals_app, port):
            page = person_context.new_page()
            page.goto(f"{base}/{SLUG}/")
            page.get_by_role("link", name="Se connecter").click()
            page.wait_for_url(f"{idp_server}/connexion?*")
            expect(page.locator("p.fr-text--lead")).to_have_text(f"pour accéder à {NAME}")
            page.get_by_label("Identifiant").fill("marie.curie@example.fr")
            page.get_by_label("Mot de passe", exact=True).fill("Correct-Horse-42")
            page.get_by_role("button", name="Se connecter").click()
            page.wait_for_url(f"{base}/{SLUG}/")
            expect(page.get_by_text(f"Vous êtes connecté à {NAME}.")).to_be_visible()
            expect(page.get_by_text("Bonjour Marie")).to_be_visible()
            _wait_for_backchannel_threads()
    finally:
        person_context.close()
        with e2e_app.app_context():
            db.session.remove()
