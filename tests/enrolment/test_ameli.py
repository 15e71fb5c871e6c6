"""`ameli` journey (seed 003): registry match, CGU, personal code, contact, email link."""

from __future__ import annotations

import io

from sqlalchemy import select
from sqlalchemy import text

from idp.enrolment.models import AccountConsent
from idp.extensions import db
from idp.models import Account
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import link_in
from tests.factories import Flow

NIR = "262087510712371"
CSV = (
    "nir;card_serial;birth_family_name;usage_family_name;given_names;birthdate;postcode;email;mobile;parent_nir\n"
    f"{NIR};01024576124;DUBOIS;MARTIN;Angela Claire Louise;1962-08-24;75007;;;\n"
)
CODE = "Tilleul-Vert-48"
CONTACT = {
    "email": "angela.martin@example.fr",
    "email_confirm": "angela.martin@example.fr",
    "marketing_email": "non",
    "mobile": "06 50 56 42 78",
    "marketing_mobile_phone": "non",
    "marketing_sms": "oui",
    "landline": "01 45 37 59 45",
    "marketing_landline_phone": "non",
}


def seed_registry(app):
    from idp.registry.services import import_csv

    with app.app_context():
        report = import_csv("insured", io.StringIO(CSV))
        db.session.commit()
    assert report.rejected == []


def identify(walker, **overrides):
    data = {
        "family_name": "Martin",
        "nir": "2 62 08 75 107 123 71",
        "birthdate": "24/08/1962",
        "postcode": "75007",
    }
    data.update(overrides)
    walker.get("/inscription/ameli/identification")
    return walker.post("/inscription/ameli/identification", data)


def test_insured_person_creates_an_account_and_must_confirm_the_email(
    signup_app, browser, factories, smtp_server
):
    seed_registry(signup_app)
    portal = factories.portal(journey="ameli", name="ameli")
    flow = Flow(browser, portal)
    assert (
        browser.get(flow.authorize(prompt="create").headers["Location"]).headers["Location"]
        == "/inscription/ameli/identification"
    )
    walker = Walker(browser)
    assert identify(walker).status_code == 302
    walker.get("/inscription/ameli/conditions")
    assert "ne plus recevoir vos relevés de prestations par courrier" in walker.page.text
    walker.post("/inscription/ameli/conditions", {"accept": "oui"})
    walker.get("/inscription/ameli/code-personnel")
    weak = walker.post(
        "/inscription/ameli/code-personnel",
        {"password": "MotdePasse1", "password_confirm": "MotdePasse1"},
    )
    assert weak.status_code == 200 and 'id="password-error"' in weak.text
    with_nir = walker.post(
        "/inscription/ameli/code-personnel",
        {"password": "Abc-75107123", "password_confirm": "Abc-75107123"},
    )
    assert with_nir.status_code == 200, "a code containing part of the NIR is refused"
    walker.post("/inscription/ameli/code-personnel", {"password": CODE, "password_confirm": CODE})
    assert walker.page.status_code == 302
    walker.get("/inscription/ameli/coordonnees")
    walker.post("/inscription/ameli/coordonnees", CONTACT)
    assert walker.page.headers["Location"] == "/inscription/ameli/courriel-envoye"
    (mail,) = smtp_server.wait(1)
    assert mail.message["Subject"] == "Votre compte ameli - Confirmation de votre adresse mail"
    # Logged out until the email is confirmed: the code does not open the account yet.
    login = Walker(signup_app.test_client())
    login_page = flow.authorize()
    assert login_page.headers["Location"].startswith("/connexion")
    link = link_in(mail)
    walker.get(link)
    walker.post(link, {})
    query = flow.follow_to_callback(walker.page)
    assert "code" in query
    with signup_app.app_context():
        account = db.session.scalar(select(Account))
        assert (account.status, account.given_name, account.family_name) == (
            "active",
            "Angela Claire Louise",
            "DUBOIS",
        )
        consents = {c.kind: c.granted for c in db.session.scalars(select(AccountConsent))}
        assert (
            consents["paperless"] and consents["marketing_sms"] and not consents["marketing_email"]
        )
        raw = db.session.execute(text("select lookup_hash, display from account_identifier")).all()
        assert raw and NIR not in str(raw)
    # Login for ameli portals: NIR + personal code.
    fresh = Flow(signup_app.test_client(), portal)
    response = fresh.authorize()
    page = fresh.client.get(response.headers["Location"])
    assert "Mon numéro de sécurité sociale" in page.text and "Mon code personnel" in page.text
    login = Walker(fresh.client)
    login.page = page
    login.token = None
    login.get(response.headers["Location"])
    done = login.post(
        response.headers["Location"], {"identifier": "2 62 08 75 107 123 71", "password": CODE}
    )
    assert done.status_code == 302 and "code" in fresh.follow_to_callback(done)


def test_a_mismatch_never_says_which_field_failed(signup_app, browser):
    seed_registry(signup_app)
    walker = Walker(browser)
    browser.get("/inscription/ameli")
    for wrong in ({"postcode": "75008"}, {"birthdate": "25/08/1962"}, {"family_name": "Durand"}):
        page = identify(walker, **wrong)
        assert page.status_code == 200
        assert "ne permettent pas de vous identifier" in page.text
        assert "fr-error-text" not in page.text
    assert identify(walker, family_name="dubois").status_code == 302, "the birth name matches too"


def test_refusing_the_conditions_ends_politely_and_keeps_nothing(signup_app, browser):
    seed_registry(signup_app)
    walker = Walker(browser)
    browser.get("/inscription/ameli")
    identify(walker)
    walker.get("/inscription/ameli/conditions")
    page = walker.post("/inscription/ameli/conditions", {"accept": "non"})
    assert "Vous avez refusé les conditions d'utilisation" in page.text
    assert browser.get("/inscription/ameli/conditions").status_code == 410
    with signup_app.app_context():
        from idp.enrolment.models import Enrolment

        assert [e.data for e in db.session.scalars(select(Enrolment))] == [{}]
