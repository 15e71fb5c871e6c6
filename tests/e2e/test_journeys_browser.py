"""Sign-up journeys in Chromium: from a demo portal to a logged-in return to that portal.

A separate idp instance mails a real SMTP server synchronously (NOTIFY_ASYNC off), so
the activation link and the SMS code (a mail to sms+<number>@sms.localhost) are read
from what that server received. Screenshots of each password step go to the system's
temporary folder, never into the repository.
"""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.portals import create_portals_app
from idp import create_app
from idp.extensions import db
from idp.oidc.clients import create_client
from tests.conftest import free_port
from tests.conftest import make_config
from tests.e2e.conftest import HOST
from tests.e2e.conftest import ServerThread
from tests.e2e.conftest import playwright_sync
from tests.smtp import Received
from tests.smtp import SmtpServer

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect

SCREENSHOTS = Path(tempfile.gettempdir())
ID_TOKEN_TABLE = "Contenu du jeton d'identité"
USERINFO_TABLE = "Réponse du point d'accès userinfo"
SMS_CODE = re.compile(r"\b(\d{6})\b")

# One portal per journey: (slug, name, journey).
CITOYEN = ("portail-citoyen", "Portail citoyen", "citoyen")
ARS = ("ars-internes", "ARS internes", "ars-interne")

# Values the server-side validation accepts (see tests/enrolment/).
CITIZEN = {
    "family_name": "Dubois",
    "given_name": "Angéla",
    "birthdate": "24/08/1962",
    "email": "angela.dubois@example.fr",
    "mobile": "06 12 34 56 78",
}
CITIZEN_USERNAME = "angela.dubois"
CITIZEN_PASSWORD = "Soleil-Levant-2026"
CITIZEN_SMS_TO = "sms+33612345678@sms.localhost"
INTERN = {"ine": "0000", "family_name": "Interne", "given_name": "Dci"}
INTERN_EMAIL = "dci.interne@example.fr"
INTERN_PASSWORD = "Internat-Bordeaux-77"


# --- servers -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def signup_idp(app, tmp_path_factory, smtp) -> Iterator[str]:
    """idp on its own port, mailing `smtp` synchronously; same database and keys as `app`."""
    port = free_port()
    idp_app = create_app(
        make_config(
            tmp_path_factory,
            ISSUER=f"http://{HOST}:{port}",
            DATABASE_URL=app.config["DATABASE_URL"],
            KEYS_DIR=app.config["KEYS_DIR"],
            SMTP_HOST=HOST,
            SMTP_PORT=smtp.port,
            NOTIFY_ASYNC=False,
        )
    )
    with ServerThread(idp_app, port) as server:
        yield server.url
    with idp_app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def inbox(smtp) -> SmtpServer:
    """The session's SMTP server, emptied for this test."""
    smtp.messages.clear()
    return smtp


@dataclass
class Portals:
    idp_url: str
    base_url: str

    def home(self, portal: tuple[str, str, str]) -> str:
        return f"{self.base_url}/{portal[0]}/"


@contextmanager
def serve_portals(app, idp_url: str, portals, scope: str = "openid profile email phone address"):
    """Register one demo portal per (slug, name, journey) and serve the demo portals app."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    configs = []
    with app.app_context():
        for slug, name, journey in portals:
            registered = create_client(
                name=name,
                client_id=f"e2e-{slug}",
                redirect_uris=[f"{base}/{slug}/callback"],
                post_logout_redirect_uris=[f"{base}/{slug}/logged-out"],
                scope=scope,
                journey=journey,
            )
            configs.append(
                {
                    "slug": slug,
                    "name": name,
                    "client_id": registered.client.client_id,
                    "client_secret": registered.secret,
                }
            )
        db.session.commit()
    portals_app = create_portals_app(
        {
            "issuer": idp_url,
            "base_url": base,
            "secret_key": secrets.token_urlsafe(32),
            "portals": configs,
        }
    )
    with ServerThread(portals_app, port):
        yield Portals(idp_url=idp_url, base_url=base)
    with app.app_context():
        db.session.remove()


@pytest.fixture
def portals(app, signup_idp) -> Iterator[Portals]:
    """The demo portals app with one portal per journey, registered for this test."""
    with serve_portals(app, signup_idp, (CITOYEN, ARS)) as served:
        yield served


# --- helpers -------------------------------------------------------------------------------


def mail_to(inbox: SmtpServer, address: str, count: int = 1) -> Received:
    """The latest of at least `count` messages to `address` (sending is synchronous)."""
    found = [m for m in inbox.wait(count) if address in m.rcpt_tos]
    assert len(found) >= count, [m.rcpt_tos for m in inbox.messages]
    return found[-1]


def activation_link(message: Received, idp_url: str) -> str:
    found = re.search(re.escape(idp_url) + r"/activation/[A-Za-z0-9_\-]+", message.part("plain"))
    assert found, message.part("plain")
    return found.group(0)


def textbox(page, label: str):
    """The input whose label starts with `label` (labels carry " *" and hints)."""
    return page.get_by_role("textbox", name=re.compile("^" + re.escape(label)))


def expect_step(page, title: str, n: int, total: int = 3) -> None:
    expect(page.locator(".fr-stepper__title")).to_contain_text(title)
    expect(page.locator(".fr-stepper__state")).to_have_text(f"Étape {n} sur {total}")


def claim(page, caption: str, name: str):
    """The value cell of one claim in one of the portal's tables."""
    table = page.locator("table").filter(has=page.locator("caption", has_text=caption))
    row = table.locator("tr").filter(has=page.locator("code", has_text=re.compile(f"^{name}$")))
    return row.locator("td").nth(1)


def expect_logged_in(page, portals: Portals, portal, given_name: str, email: str | None) -> None:
    """On the portal's home page, logged in, with the new account's claims (`email`
    None: no email claim yet)."""
    page.wait_for_url(portals.home(portal))
    expect(page.get_by_role("heading", level=1)).to_have_text(portal[1])
    expect(page.get_by_text(f"Vous êtes connecté à {portal[1]}.")).to_be_visible()
    expect(page.get_by_text(f"Bonjour {given_name}")).to_be_visible()
    for caption in (ID_TOKEN_TABLE, USERINFO_TABLE):
        expect(claim(page, caption, "given_name")).to_have_text(given_name)
        if email is None:
            expect(claim(page, caption, "email")).to_have_count(0)
        else:
            expect(claim(page, caption, "email")).to_have_text(email)
    expect(claim(page, ID_TOKEN_TABLE, "iss")).to_have_text(portals.idp_url)


def check_password_help(page, password: str, confirm_label: str, rules: list[str]) -> None:
    """Type a new password: the checklist turns valid, the meter shows, the confirmation agrees."""
    field = page.locator("#password")
    checklist = page.locator("#password-messages [data-rule]")
    assert checklist.evaluate_all("els => els.map(e => e.dataset.rule)") == rules
    strength = page.locator('[data-strength-for="password"]')
    expect(strength).to_be_hidden()
    # Half the password: the length rule is not met yet, the capital letter is.
    field.press_sequentially(password[:6])
    expect(page.locator('#password-messages [data-rule="upper"]')).to_have_class(
        re.compile(r"\bfr-message--valid\b")
    )
    expect(page.locator('#password-messages [data-rule="length"]')).not_to_have_class(
        re.compile(r"\bfr-message--valid\b")
    )
    field.fill(password)
    for rule in rules:
        expect(page.locator(f'#password-messages [data-rule="{rule}"]')).to_have_class(
            re.compile(r"\bfr-message--valid\b")
        )
    expect(strength).to_be_visible()
    expect(strength.locator("[data-strength-label]")).to_have_text(
        re.compile(r"^(Moyen|Fort|Très fort)$")
    )
    expect(strength.locator("[data-strength-common]")).to_be_hidden()
    page.get_by_label(confirm_label).fill(password)
    expect(page.locator('[data-confirm-for="password_confirm"]')).to_have_text(
        "Les deux mots de passe sont identiques."
    )


def accept_terms(page) -> None:
    """Tick CGU and RGPD by their labels (DSFR draws the box on the label, over the input)."""
    for label in (
        "J'accepte les conditions générales d'utilisation du service",
        "Je consens à l'utilisation de mes données personnelles",
    ):
        page.locator("label.fr-label").filter(has_text=label).click()
        expect(
            page.get_by_role("checkbox", name=re.compile("^" + re.escape(label)))
        ).to_be_checked()


# --- citoyen -------------------------------------------------------------------------------


def citizen_to_activation(page, portals: Portals, screenshot: Path) -> None:
    """Portal → "Se connecter" → "Créer un compte" → the three steps → activation choice."""
    page.goto(portals.home(CITOYEN))
    page.get_by_role("link", name="Se connecter").click()
    page.wait_for_url(f"{portals.idp_url}/connexion?*")
    expect(page.locator("p.fr-text--lead")).to_have_text(f"pour accéder à {CITOYEN[1]}")
    page.get_by_role("link", name="Créer un compte").click()

    # Step 1: the profile, a DSFR rich radio (the label is what people click).
    page.wait_for_url(f"{portals.idp_url}/inscription/citoyen/profil")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Création de compte")
    expect(page.get_by_role("heading", level=1)).to_contain_text(CITOYEN[1])
    expect_step(page, "Votre profil", 1)
    page.locator("label.fr-label").filter(has_text=re.compile(r"^\s*Citoyen\b")).click()
    expect(page.get_by_role("radio", name=re.compile(r"^Citoyen"))).to_be_checked()
    page.get_by_role("button", name="Continuer").click()

    # Step 2: identity.
    page.wait_for_url(f"{portals.idp_url}/inscription/citoyen/identite")
    expect_step(page, "Votre identité", 2)
    expect(page.locator(".fr-stepper__details")).to_contain_text("Identifiant et mot de passe")
    page.get_by_role("combobox", name=re.compile("^Civilité")).select_option(label="Madame")
    textbox(page, "Nom de naissance").fill(CITIZEN["family_name"])
    textbox(page, "Prénom").fill(CITIZEN["given_name"])
    textbox(page, "Date de naissance").fill(CITIZEN["birthdate"])
    textbox(page, "Adresse électronique").fill(CITIZEN["email"])
    textbox(page, "Confirmation de l'adresse électronique").fill(CITIZEN["email"].upper())
    textbox(page, "Téléphone mobile").fill(CITIZEN["mobile"])
    page.get_by_role("button", name="Continuer").click()

    # Step 3, then "Retour": step 2 comes back with what was typed.
    page.wait_for_url(f"{portals.idp_url}/inscription/citoyen/identifiant")
    expect_step(page, "Identifiant et mot de passe", 3)
    page.get_by_role("link", name="Retour").click()
    page.wait_for_url(f"{portals.idp_url}/inscription/citoyen/identite")
    expect_step(page, "Votre identité", 2)
    expect(page.get_by_role("combobox", name=re.compile("^Civilité"))).to_have_value("madame")
    expect(textbox(page, "Nom de naissance")).to_have_value(CITIZEN["family_name"])
    expect(textbox(page, "Prénom")).to_have_value(CITIZEN["given_name"])
    expect(textbox(page, "Date de naissance")).to_have_value(CITIZEN["birthdate"])
    expect(textbox(page, "Adresse électronique")).to_have_value(CITIZEN["email"])
    expect(textbox(page, "Téléphone mobile")).to_have_value(CITIZEN["mobile"])
    page.get_by_role("button", name="Continuer").click()

    # Step 3: the proposed identifier ("prenom.nom"), checked live.
    page.wait_for_url(f"{portals.idp_url}/inscription/citoyen/identifiant")
    username = textbox(page, "Votre identifiant de connexion")
    availability = page.locator("#username-availability")
    expect(username).to_have_value(CITIZEN_USERNAME)
    expect(availability).to_have_text("Identifiant disponible !")
    expect(availability).to_have_class(re.compile(r"\bfr-message--valid\b"))
    # Typing asks again after a short pause (debounced): wait for that answer, not a sleep.
    with page.expect_response(lambda r: "identifiant=a&" in r.url + "&"):
        username.fill("a")
    expect(availability).to_have_class(re.compile(r"\bfr-message--error\b"))
    expect(availability).not_to_have_text("Identifiant disponible !")
    with page.expect_response(lambda r: f"identifiant={CITIZEN_USERNAME}&" in r.url + "&"):
        username.fill(CITIZEN_USERNAME)
    expect(availability).to_have_text("Identifiant disponible !")
    expect(availability).to_have_class(re.compile(r"\bfr-message--valid\b"))

    check_password_help(
        page,
        CITIZEN_PASSWORD,
        "Répéter votre mot de passe",
        ["length", "upper", "digit", "personal", "strength"],
    )
    accept_terms(page)
    page.screenshot(path=screenshot, full_page=True)
    page.get_by_role("button", name="Valider").click()

    page.wait_for_url(f"{portals.idp_url}/inscription/citoyen/activation")
    expect(page.get_by_role("heading", name="Validation de votre compte")).to_be_visible()
    expect(page.get_by_text("06 ** ** ** 78")).to_be_visible()
    expect(page.get_by_text(CITIZEN["email"], exact=True)).to_be_visible()


def test_citoyen_signs_up_and_activates_by_sms_code(page, portals, inbox):
    citizen_to_activation(page, portals, SCREENSHOTS / "idp-journey-citoyen-sms.png")

    page.get_by_role("button", name="Envoyer le code d'activation").click()
    page.wait_for_url(f"{portals.idp_url}/inscription/citoyen/code")
    expect(page.get_by_role("heading", name="Saisissez le code reçu par SMS")).to_be_visible()
    sms = mail_to(inbox, CITIZEN_SMS_TO)
    code = SMS_CODE.search(sms.part("plain"))
    assert code, sms.part("plain")
    page.get_by_label("Code d'activation").fill(code.group(1))
    page.get_by_role("button", name="Valider mon compte").click()

    # Straight back to the portal, logged in, without typing the password again. The code
    # proved the phone: the address becomes the account's from the link mailed to it (the
    # same pages whether or not another account has it: tests/test_enumeration.py).
    expect_logged_in(page, portals, CITOYEN, CITIZEN["given_name"], None)
    expect(claim(page, ID_TOKEN_TABLE, "preferred_username")).to_have_text(CITIZEN_USERNAME)
    confirm = mail_to(inbox, CITIZEN["email"])
    assert "/mon-compte/adresse-electronique/confirmer/" in confirm.part("plain")
    assert [m.rcpt_tos for m in inbox.messages] == [[CITIZEN_SMS_TO], [CITIZEN["email"]]]


def test_citoyen_signs_up_and_activates_by_email_link(page, portals, inbox):
    citizen_to_activation(page, portals, SCREENSHOTS / "idp-journey-citoyen-email.png")

    page.get_by_role("button", name="Envoyer le lien d'activation").click()
    page.wait_for_url(f"{portals.idp_url}/inscription/citoyen/courriel-envoye")
    expect(page.get_by_role("heading", name="Consultez votre boîte mail")).to_be_visible()
    expect(page.get_by_text(CITIZEN["email"])).to_be_visible()
    link = activation_link(mail_to(inbox, CITIZEN["email"]), portals.idp_url)

    # The link from the mail, in the same browser: one click activates (GET alone does not).
    page.goto(link)
    expect(page.get_by_role("heading", name="Activez votre compte")).to_be_visible()
    page.get_by_role("button", name="Activer mon compte").click()

    expect_logged_in(page, portals, CITOYEN, CITIZEN["given_name"], CITIZEN["email"])
    expect(claim(page, ID_TOKEN_TABLE, "email_verified")).to_have_text("True")


# --- ars-interne ---------------------------------------------------------------------------


def test_ars_interne_signs_up_finalises_by_link_and_returns_logged_in(page, portals, inbox):
    page.goto(portals.home(ARS))
    expect(page.get_by_role("heading", level=1)).to_have_text(ARS[1])
    create = page.get_by_role("link", name="Créer un compte")
    expect(create).to_have_attribute("href", f"/{ARS[0]}/login?prompt=create")
    create.click()

    # Step 1: INE (0000 when the intern has none), names.
    page.wait_for_url(f"{portals.idp_url}/inscription/ars-interne/compte")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Inscription des internes")
    expect_step(page, "Création de compte", 1)
    expect(page.get_by_text("Munissez-vous de votre N° INE")).to_be_visible()
    textbox(page, "N° INE").fill(INTERN["ine"])
    textbox(page, "Nom").fill(INTERN["family_name"])
    textbox(page, "Prénom").fill(INTERN["given_name"])
    page.get_by_role("button", name="Débuter ma création de compte").click()

    # Step 2: the email, twice; it becomes the login.
    page.wait_for_url(f"{portals.idp_url}/inscription/ars-interne/email")
    expect_step(page, "Votre adresse électronique", 2)
    textbox(page, "Adresse électronique").fill(INTERN_EMAIL)
    textbox(page, "Confirmation de l'adresse électronique").fill(INTERN_EMAIL)
    page.get_by_role("button", name="Créer mon compte").click()

    page.wait_for_url(f"{portals.idp_url}/inscription/ars-interne/courriel-envoye")
    expect(page.get_by_role("heading", name="Consultez votre boîte mail")).to_be_visible()
    expect(page.get_by_text(INTERN_EMAIL)).to_be_visible()
    link = activation_link(mail_to(inbox, INTERN_EMAIL), portals.idp_url)

    # Step 3: the link opens the finalisation form.
    page.goto(link)
    expect_step(page, "Finalisation", 3)
    check_password_help(
        page,
        INTERN_PASSWORD,
        "Confirmation du mot de passe",
        ["length", "upper", "lower", "digit", "personal", "strength"],
    )
    textbox(page, "Date de naissance").fill("11/12/1991")
    textbox(page, "Téléphone").fill("07 78 10 41 44")
    textbox(page, "Adresse").fill("4, rue du stade Buffalo")
    textbox(page, "Code postal").fill("92120")
    textbox(page, "Ville").fill("Montrouge")
    page.get_by_role("combobox", name=re.compile("^Question secrète")).select_option(
        label="Quel est le nom de jeune fille de votre mère ?"
    )
    textbox(page, "Réponse secrète").fill("Serres")
    accept_terms(page)
    page.screenshot(path=SCREENSHOTS / "idp-journey-ars-interne.png", full_page=True)
    page.get_by_role("button", name="Finaliser mon inscription").click()

    expect_logged_in(page, portals, ARS, INTERN["given_name"], INTERN_EMAIL)
    confirmed = mail_to(inbox, INTERN_EMAIL, count=2)
    assert "inscription est confirmée" in confirmed.message["Subject"]
