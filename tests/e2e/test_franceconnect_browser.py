"""FranceConnect in Chromium: from a demo portal through the stand-in to a new account, then
the logout chain back through the stand-in's /session/end.

The stand-in and an idp configured for it each run on a free port (ServerThread), on the
session database and keys; idp mails a real SMTP server synchronously.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from idp import create_app
from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.federation.standin import create_standin_app
from idp.federation.standin import standin_config
from idp.models import Account
from tests.conftest import free_port
from tests.conftest import make_config
from tests.e2e.conftest import HOST
from tests.e2e.conftest import ServerThread
from tests.e2e.conftest import playwright_sync
from tests.e2e.test_journeys_browser import ID_TOKEN_TABLE
from tests.e2e.test_journeys_browser import USERINFO_TABLE
from tests.e2e.test_journeys_browser import Portals
from tests.e2e.test_journeys_browser import accept_terms
from tests.e2e.test_journeys_browser import claim
from tests.e2e.test_journeys_browser import serve_portals
from tests.smtp import SmtpServer

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect

CLIENT_ID = "idp-e2e"
CLIENT_SECRET = "idp-e2e-secret-0123456789abcdef"
PORTAL = ("portail-fc", "Portail FranceConnect", "citoyen")
ANGELA = "Angela Claire Louise DUBOIS"
ANGELA_GIVEN = "Angela Claire Louise"
ANGELA_EMAIL = "wossewodda-3728@yopmail.com"


@dataclass
class FcPlatform:
    idp_url: str
    issuer: str
    idp: object


@pytest.fixture(scope="session")
def fc_mail() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fc_platform(app, tmp_path_factory, fc_mail) -> Iterator[FcPlatform]:
    """The FranceConnect v2 stand-in and an idp configured for it, both served."""
    idp_port, fc_port = free_port(), free_port()
    idp_url = f"http://{HOST}:{idp_port}"
    config = standin_config(idp_url, fc_port, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    standin = create_standin_app(config)
    idp_app = create_app(
        make_config(
            tmp_path_factory,
            ISSUER=idp_url,
            DATABASE_URL=app.config["DATABASE_URL"],
            KEYS_DIR=app.config["KEYS_DIR"],
            FRANCECONNECT_ISSUER=config["issuer"],
            FRANCECONNECT_CLIENT_ID=CLIENT_ID,
            FRANCECONNECT_CLIENT_SECRET=CLIENT_SECRET,
            FRANCECONNECT_PRESET="franceconnect",
            SMTP_HOST=HOST,
            SMTP_PORT=fc_mail.port,
            NOTIFY_ASYNC=False,
        )
    )
    with ServerThread(standin, fc_port), ServerThread(idp_app, idp_port):
        yield FcPlatform(idp_url, config["issuer"], idp_app)
    with idp_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def fc_portal(app, fc_platform) -> Iterator[Portals]:
    with serve_portals(app, fc_platform.idp_url, [PORTAL]) as served:
        yield served


def test_franceconnect_sign_up_then_logout_through_franceconnect(page, fc_platform, fc_portal):
    idp_url, issuer = fc_platform.idp_url, fc_platform.issuer
    page.goto(fc_portal.home(PORTAL))
    page.get_by_role("link", name="Se connecter").click()
    page.wait_for_url(f"{idp_url}/connexion?*")
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()

    # The stand-in's page: pick the public test identity.
    page.wait_for_url(f"{issuer}/interaction/*")
    expect(page.get_by_role("heading", level=1)).to_have_text("Je choisis une identité de test")
    page.locator("li").filter(has_text=ANGELA).get_by_role(
        "button", name="Continuer avec cette identité"
    ).click()

    # Back on idp: no account matches, create one (the email FranceConnect gave, prefilled).
    page.wait_for_url(f"{idp_url}/federation/franceconnect/creer-mon-compte")
    expect(page.get_by_role("heading", level=1)).to_have_text("Créer mon compte avec FranceConnect")
    expect(page.locator("p.fr-text--lead")).to_have_text(f"pour accéder à {PORTAL[1]}")
    email = page.get_by_role("textbox", name=re.compile("^Adresse électronique"))
    expect(email).to_have_value(ANGELA_EMAIL)
    accept_terms(page)
    page.get_by_role("button", name="Créer mon compte").click()

    page.wait_for_url(f"{idp_url}/federation/franceconnect/compte-cree?**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre compte est créé")
    page.get_by_role("link", name=f"Continuer vers {PORTAL[1]}").click()

    # On the portal, logged in with the certified identity.
    page.wait_for_url(fc_portal.home(PORTAL))
    expect(page.get_by_text(f"Vous êtes connecté à {PORTAL[1]}.")).to_be_visible()
    for caption in (ID_TOKEN_TABLE, USERINFO_TABLE):
        expect(claim(page, caption, "given_name")).to_have_text(ANGELA_GIVEN)
        expect(claim(page, caption, "family_name")).to_have_text("DUBOIS")
    expect(claim(page, ID_TOKEN_TABLE, "iss")).to_have_text(idp_url)
    with fc_platform.idp.app_context():
        account = db.session.query(Account).filter_by(family_name="DUBOIS").one()
        assert account.given_name == ANGELA_GIVEN
        assert db.session.query(FederatedIdentity).filter_by(account_id=account.id).count() == 1

    # Mon compte: linked since today, and no unlinking (no password, FranceConnect only).
    page.goto(f"{idp_url}/mon-compte")
    section = page.locator("section#franceconnect")
    expect(section).to_contain_text("Votre compte est relié à FranceConnect depuis le")
    expect(section).to_contain_text(f"{ANGELA_GIVEN} DUBOIS")
    expect(section).to_contain_text("Vous ne pouvez pas délier FranceConnect")
    expect(section.get_by_role("button", name="Délier FranceConnect")).to_have_count(0)
    page.goto(fc_portal.home(PORTAL))
    expect(claim(page, ID_TOKEN_TABLE, "given_name")).to_have_text(ANGELA_GIVEN)

    # Logout: portal → idp /logout → the stand-in's /session/end → idp → the portal.
    with page.expect_request(lambda r: r.url.startswith(f"{issuer}/session/end?")) as ended:
        page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{fc_portal.home(PORTAL)}logged-out?*")
    assert "id_token_hint=" in ended.value.url
    expect(page.get_by_role("heading", level=1)).to_have_text("Déconnexion")
    expect(page.get_by_text(f"Vous êtes déconnecté de {PORTAL[1]}.")).to_be_visible()
