"""`pro-sante` in Chromium: from the professionals' portal "Créer un compte" to a logged-in
return, and the request for a confidential number with the accessible CAPTCHA.

Reuses the servers of test_journeys_browser.py (idp mailing a real SMTP server synchronously)
with a portal of its own whose journey is pro-sante.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.registry.models import LetterRequest
from idp.registry.services import import_csv
from tests.e2e.conftest import playwright_sync
from tests.e2e.test_journeys_browser import SCREENSHOTS
from tests.e2e.test_journeys_browser import Portals
from tests.e2e.test_journeys_browser import activation_link
from tests.e2e.test_journeys_browser import expect_logged_in
from tests.e2e.test_journeys_browser import inbox  # noqa: F401 (fixture)
from tests.e2e.test_journeys_browser import mail_to
from tests.e2e.test_journeys_browser import serve_portals
from tests.e2e.test_journeys_browser import signup_idp  # noqa: F401 (fixture)
from tests.e2e.test_journeys_browser import smtp  # noqa: F401 (fixture)
from tests.e2e.test_journeys_browser import textbox

pytestmark = pytest.mark.e2e
expect = playwright_sync.expect

PRO = ("espace-pro", "Espace pro", "pro-sante")
FINESS = "010000016"
LEGACY = "Xk7pQ2mWz9"
EMAIL = "pharmacie.dupuis@example.fr"
PASSWORD = "Officine-Lumineuse-58"
CSV = (
    "finess;birth_family_name;given_names;email;confidential_code;legacy_password_hash;"
    "address;postcode;city\n"
    f"{FINESS};DUPUIS;Hélène;;1234 5678 9012;{{SHA256}}{hashlib.sha256(LEGACY.encode()).hexdigest()};"
    "12 rue des Lilas;01000;BOURG-EN-BRESSE\n"
)
NUMBERS = ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf")


@pytest.fixture
def pro_portal(app, signup_idp) -> Iterator[Portals]:  # noqa: F811
    """The registry with one professional, and the demo portal of the professionals' space."""
    with app.app_context():
        assert import_csv("professional", io.StringIO(CSV)).rejected == []
        db.session.commit()
    with serve_portals(app, signup_idp, [PRO]) as served:
        yield served


def test_pro_sante_signs_up_with_the_old_password_and_returns_logged_in(page, pro_portal, inbox):  # noqa: F811
    idp = pro_portal.idp_url
    page.goto(pro_portal.home(PRO))
    page.get_by_role("link", name="Créer un compte").click()

    page.wait_for_url(f"{idp}/inscription/pro-sante/inscription")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Espace tiers professionnels de santé"
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(PRO[1])
    expect(
        page.get_by_role("link", name="Si vous n'avez jamais eu de compte, cliquez ICI")
    ).to_be_visible()
    textbox(page, "Mon numéro tiers").fill("01 000 001 6")
    textbox(page, "Mon mot de passe actuel").fill(LEGACY)
    textbox(page, "Mon adresse mail").fill(EMAIL)
    textbox(page, "Confirmation de mon adresse mail").fill(EMAIL)
    # Nothing is known of the person before the number is proved: the "personal" rule stays
    # neutral in the browser (the server checks the FINESS, email and registry names).
    rules = ["length", "upper", "lower", "digit", "strength"]
    checklist = page.locator("#password-messages [data-rule]")
    assert checklist.evaluate_all("els => els.map(e => e.dataset.rule)") == [
        *rules[:4],
        "personal",
        "strength",
    ]
    page.locator("#password").fill(PASSWORD)
    for rule in rules:
        expect(page.locator(f'#password-messages [data-rule="{rule}"]')).to_have_class(
            re.compile(r"\bfr-message--valid\b")
        )
    expect(page.locator('#password-messages [data-rule="personal"]')).to_have_class(
        re.compile(r"\bfr-message--info\b")
    )
    page.get_by_label("Confirmation du mot de passe").fill(PASSWORD)
    expect(page.locator('[data-confirm-for="password_confirm"]')).to_have_text(
        "Les deux mots de passe sont identiques."
    )
    cgu = "Valider les conditions générales d'utilisation"
    page.locator("label.fr-label").filter(has_text=cgu).click()
    expect(page.get_by_role("checkbox", name=re.compile("^" + re.escape(cgu)))).to_be_checked()
    page.screenshot(path=SCREENSHOTS / "idp-journey-pro-sante.png", full_page=True)
    page.get_by_role("button", name="Valider", exact=True).click()

    page.wait_for_url(f"{idp}/inscription/pro-sante/courriel-envoye")
    expect(page.get_by_role("heading", name="Consultez votre boîte mail")).to_be_visible()
    page.goto(activation_link(mail_to(inbox, EMAIL), idp))
    expect(page.get_by_role("heading", name="Activez votre compte")).to_be_visible()
    page.get_by_role("button", name="Activer mon compte").click()

    expect_logged_in(page, pro_portal, PRO, "Hélène", EMAIL)


def test_pro_sante_asks_for_a_confidential_number_with_the_accessible_question(
    app,
    page,
    pro_portal,
    inbox,  # noqa: F811
):
    idp = pro_portal.idp_url
    page.goto(f"{idp}/inscription/pro-sante")
    page.get_by_role("link", name="Si vous n'avez jamais eu de compte, cliquez ICI").click()

    page.wait_for_url(f"{idp}/professionnels/code-confidentiel")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Pour recevoir votre code confidentiel"
    )
    expect(page.locator('img[src^="data:image/svg+xml"]')).to_be_visible()
    textbox(page, "Saisissez votre N° de tiers (FINESS)").fill(FINESS)
    textbox(page, "Adresse email").fill("cabinet@example.fr")
    textbox(page, "Confirmation email").fill("cabinet@example.fr")
    page.get_by_role("button", name="Version accessible").click()

    question = page.get_by_role("textbox", name=re.compile(r"^Combien font"))
    expect(question).to_be_visible()
    expect(textbox(page, "Adresse email")).to_have_value("cabinet@example.fr")
    asked = re.search(
        r"Combien font (\S+) plus (\S+) \?", page.locator("label[for=answer]").inner_text()
    )
    assert asked, page.locator("label[for=answer]").inner_text()
    question.fill(str(NUMBERS.index(asked.group(1)) + NUMBERS.index(asked.group(2))))
    page.screenshot(path=SCREENSHOTS / "idp-pro-sante-code-request.png", full_page=True)
    question.press("Enter")  # the default button is "Valider", not a text change

    expect(page.get_by_role("heading", name="Votre courrier est en route")).to_be_visible()
    confirmation = mail_to(inbox, "cabinet@example.fr")
    assert "par courrier" in confirmation.part("plain")
    with app.app_context():
        assert len(db.session.scalars(select(LetterRequest)).all()) == 1
