"""Mon espace santé in Chromium: from the demo portal to a logged-in return, and an opposition.

The idp, its SMTP server and the helpers are those of test_journeys_browser.py: the provisional
code arrives by mail or, for an SMS, as a mail to sms+<number>@sms.localhost.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest

from idp.enrolment import mon_espace_sante_services as mes
from idp.extensions import db
from idp.registry.services import import_csv
from tests.e2e.conftest import playwright_sync
from tests.e2e.test_journeys_browser import ID_TOKEN_TABLE
from tests.e2e.test_journeys_browser import SCREENSHOTS
from tests.e2e.test_journeys_browser import Portals
from tests.e2e.test_journeys_browser import check_password_help
from tests.e2e.test_journeys_browser import claim
from tests.e2e.test_journeys_browser import expect_logged_in
from tests.e2e.test_journeys_browser import expect_step
from tests.e2e.test_journeys_browser import inbox  # noqa: F401  (fixture)
from tests.e2e.test_journeys_browser import mail_to
from tests.e2e.test_journeys_browser import serve_portals
from tests.e2e.test_journeys_browser import signup_idp  # noqa: F401  (fixture)
from tests.e2e.test_journeys_browser import smtp  # noqa: F401  (fixture)
from tests.e2e.test_journeys_browser import textbox

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect

MES = ("mon-espace-sante", "Mon espace santé", "mon-espace-sante")
CSV = (
    "nir;card_serial;birth_family_name;usage_family_name;given_names;birthdate;postcode;email;mobile;parent_nir\n"
    "262087510712371;01024576124;DUBOIS;MARTIN;Angela Claire Louise;1962-08-24;75007;angela.dubois@example.fr;+33612345678;\n"
)
NIR = "262087510712371"
BIRTHDATE = "24/08/1962"
SERIAL = "01024576124"
GIVEN_NAME = "Angela Claire Louise"
EMAIL = "angela.dubois@example.fr"
SMS_TO = "sms+33612345678@sms.localhost"
USERNAME = "angela.m"
PASSWORD = "Rivage#Azur-2031"
CODE = re.compile(r" : ([A-Za-z0-9]{12})\b")


@pytest.fixture
def portals(app, signup_idp) -> Iterator[Portals]:  # noqa: F811
    """The demo portals app with the Mon espace santé portal, and the insured registry."""
    with app.app_context():
        assert import_csv("insured", io.StringIO(CSV)).rejected == []
        db.session.commit()
    with serve_portals(
        app, signup_idp, [MES], scope="openid profile email phone address mes"
    ) as served:
        yield served


@pytest.fixture
def csp_errors(page) -> list[str]:
    """Console messages about the Content Security Policy (an inline script would add one)."""
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return errors


def code_in(message) -> str:
    found = CODE.search(message.part("plain"))
    assert found, message.part("plain")
    return found.group(1)


def prove_identity(page, idp: str, inbox, journey: str, channel: str) -> None:  # noqa: F811
    """Birthdate, NIR + serial with their live counters, channel, provisional code."""
    page.wait_for_url(f"{idp}/inscription/{journey}/date-naissance")
    expect(
        page.get_by_text("Si cela concerne mon enfant, j'indique sa date de naissance.")
    ).to_be_visible()
    textbox(page, "La date de naissance").fill(BIRTHDATE)
    page.get_by_role("button", name="Continuer").click()

    page.wait_for_url(f"{idp}/inscription/{journey}/carte-vitale")
    nir, serial = page.locator("#nir"), page.locator("#card_serial")
    expect(page.locator("#nir-counter")).to_have_text("0 / 15")
    expect(page.locator("#card_serial-counter")).to_have_text("0 / 11")
    nir.press_sequentially("2 62 08")
    expect(page.locator("#nir-counter")).to_have_text("5 / 15")
    nir.fill("2 62 08 75 107 123 71")
    expect(page.locator("#nir-counter")).to_have_text("15 / 15")
    serial.fill("0102457612 4")
    expect(page.locator("#card_serial-counter")).to_have_text("11 / 11")
    help_button = page.get_by_role("button", name="Où trouver un numéro de sécurité sociale ?")
    help_button.click()
    expect(page.get_by_text("Il figure sur la carte Vitale", exact=False)).to_be_visible()
    page.screenshot(path=SCREENSHOTS / f"idp-journey-{journey}-carte.png", full_page=True)
    page.get_by_role("button", name="Continuer").click()

    page.wait_for_url(f"{idp}/inscription/{journey}/envoi-code")
    expect(page.get_by_text("Je reçois mon code sur a***@example.fr")).to_be_visible()
    expect(page.get_by_text("Je reçois mon code au 06 ** ** ** 78")).to_be_visible()
    label = "Par SMS" if channel == "sms" else "Par e-mail"
    page.locator("label.fr-label").filter(has_text=label).click()
    page.screenshot(path=SCREENSHOTS / f"idp-journey-{journey}-canal.png", full_page=True)
    page.get_by_role("button", name="Recevoir mon code provisoire").click()

    page.wait_for_url(f"{idp}/inscription/{journey}/code-provisoire")
    code = code_in(mail_to(inbox, SMS_TO if channel == "sms" else EMAIL))
    field = textbox(page, "Saisir le code provisoire à 12 caractères")
    expect(page.locator("#code-counter")).to_have_text("0 / 12")
    field.fill(code)
    expect(page.locator("#code-counter")).to_have_text("12 / 12")
    page.get_by_role("button", name="Continuer").click()


def test_mon_espace_sante_activation_by_sms_returns_to_the_portal_logged_in(
    app,
    page,
    portals,
    inbox,  # noqa: F811
    csp_errors,
):
    idp = portals.idp_url
    page.goto(portals.home(MES))
    page.get_by_role("link", name="Se connecter").click()
    page.wait_for_url(f"{idp}/connexion?*")
    page.get_by_role("link", name="Activer Mon espace santé").click()  # seed 002 wording

    page.wait_for_url(f"{idp}/inscription/mon-espace-sante/commencer")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Activer Mon espace santé")
    expect(page.get_by_text("5 minutes de mon temps")).to_be_visible()
    expect(
        page.get_by_role("link", name="Je peux aussi clôturer ou m'opposer à Mon espace santé")
    ).to_be_visible()
    page.get_by_role("button", name="Commencer").click()
    prove_identity(page, idp, inbox, "mon-espace-sante", "sms")

    page.wait_for_url(f"{idp}/inscription/mon-espace-sante/informations")
    expect(page.get_by_text("Vérifiez bien toutes vos informations personnelles.")).to_be_visible()
    expect(page.get_by_role("cell", name=GIVEN_NAME)).to_be_visible()
    expect(page.get_by_role("cell", name=BIRTHDATE)).to_be_visible()
    page.get_by_role("button", name="Continuer").click()

    page.wait_for_url(f"{idp}/inscription/mon-espace-sante/conditions")
    expect_step(page, "J'active Mon espace santé", 7, total=9)
    page.locator("label.fr-label").filter(has_text="J'accepte les Conditions Générales").click()
    page.get_by_role("button", name="Activer Mon espace santé").click()

    # "Retour" keeps what was chosen.
    page.wait_for_url(f"{idp}/inscription/mon-espace-sante/coordonnees")
    page.get_by_role("link", name="Retour").click()
    page.wait_for_url(f"{idp}/inscription/mon-espace-sante/conditions")
    expect(page.get_by_role("checkbox", name=re.compile("^J'accepte"))).to_be_checked()
    page.get_by_role("button", name="Activer Mon espace santé").click()

    page.wait_for_url(f"{idp}/inscription/mon-espace-sante/coordonnees")
    expect(page.get_by_text("Vérifiez bien toutes vos coordonnées")).to_be_visible()
    expect(page.get_by_text(EMAIL, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Modifier mon adresse e-mail")).to_be_visible()
    expect(textbox(page, "Numéro de téléphone")).to_have_value("06 12 34 56 78")
    page.get_by_role("button", name="Continuer").click()

    page.wait_for_url(f"{idp}/inscription/mon-espace-sante/identifiant")
    username = textbox(page, "Choisir mon identifiant")
    with page.expect_response(lambda r: f"identifiant={USERNAME}&" in r.url + "&"):
        username.fill(USERNAME)
    expect(page.locator("#username-availability")).to_have_text("Identifiant disponible !")
    check_password_help(
        page,
        PASSWORD,
        "Confirmer mon mot de passe",
        ["length", "upper", "lower", "digit", "special", "personal"],
    )
    page.screenshot(path=SCREENSHOTS / "idp-journey-mon-espace-sante.png", full_page=True)
    page.get_by_role("button", name="Continuer").click()

    page.wait_for_url(f"{idp}/inscription/mon-espace-sante/profil-active?**")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Félicitations, votre profil a bien été activé !"
    )
    page.get_by_role("link", name="Continuer vers Mon espace santé").click()

    expect_logged_in(page, portals, MES, GIVEN_NAME, EMAIL)
    expect(claim(page, ID_TOKEN_TABLE, "preferred_username")).to_have_text(USERNAME)
    expect(claim(page, ID_TOKEN_TABLE, "phone_number_verified")).to_have_text("True")
    assert [m.rcpt_tos for m in inbox.messages] == [[SMS_TO]], "no link: the code proved it"
    with app.app_context():
        holder = mes.account_with_nir(NIR)
        assert holder is not None and mes.status_of(holder) == "active"
    assert csp_errors == []


def test_mon_espace_sante_opposition_from_the_intro(app, page, portals, inbox, csp_errors):  # noqa: F811
    idp = portals.idp_url
    page.goto(portals.home(MES))
    page.get_by_role("link", name="Se connecter").click()
    page.get_by_role("link", name="Activer Mon espace santé").click()  # seed 002 wording
    page.get_by_role("link", name="Je peux aussi clôturer ou m'opposer à Mon espace santé").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Clôturer ou m'opposer à Mon espace santé"
    )
    prove_identity(page, idp, inbox, "mon-espace-sante-opposition", "email")

    page.wait_for_url(f"{idp}/inscription/mon-espace-sante-opposition/decision")
    page.locator("label.fr-label").filter(has_text="Je m'oppose à la création").click()
    page.get_by_role("button", name="Confirmer ma décision").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Votre opposition a bien été enregistrée"
    )
    with app.app_context():
        space = mes.space_for_nir(NIR)
        assert space is not None and space.status == "opposed"
        assert mes.account_with_nir(NIR) is None
    assert csp_errors == []
