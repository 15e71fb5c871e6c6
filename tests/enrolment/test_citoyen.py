"""`citoyen` journey (seed 001), end to end through the real pages and a real SMTP server."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from sqlalchemy import select

from idp.enrolment.models import AccountConsent
from idp.enrolment.models import AccountIdentifier
from idp.extensions import db
from idp.models import Account
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import code_in
from tests.enrolment.conftest import link_in
from tests.factories import Flow

PASSWORD = "Soleil-Levant-2026"
IDENTITY = {
    "civility": "madame",
    "family_name": "Dubois",
    "usage_name": "",
    "given_name": "Angéla",
    "birthdate": "24/08/1962",
    "email": "angela.dubois@example.fr",
    "email_confirm": "Angela.Dubois@example.fr",
    "landline": "01 45 37 59 45",
    "mobile": "06 12 34 56 78",
}


def start_from_portal(browser, portal):
    flow = Flow(browser, portal)
    response = flow.authorize(prompt="create")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/inscription/citoyen?next=")
    step = browser.get(location)
    assert step.status_code == 302 and step.headers["Location"] == "/inscription/citoyen/profil"
    return flow


def fill_to_activation(walker, identity=IDENTITY, profile="citoyen", extra=None):
    walker.get("/inscription/citoyen/profil")
    assert "Étape 1 sur 3" in walker.page.text
    walker.post("/inscription/citoyen/profil", {"profile": profile})
    assert walker.page.headers["Location"] == "/inscription/citoyen/identite"
    walker.get("/inscription/citoyen/identite")
    walker.post("/inscription/citoyen/identite", {**identity, **(extra or {})})
    assert walker.page.status_code == 302, walker.page.text
    walker.get("/inscription/citoyen/identifiant")
    assert 'value="angela.dubois"' in walker.page.text
    walker.post(
        "/inscription/citoyen/identifiant",
        {"username": "angela.dubois", "password": PASSWORD, "password_confirm": PASSWORD,
         "cgu": "y", "rgpd": "y"},
    )  # fmt: skip
    assert walker.page.status_code == 302, walker.page.text


def test_citizen_signs_up_activates_by_email_and_returns_logged_in(
    signup_app, browser, factories, smtp_server
):
    portal = factories.portal(journey="citoyen")
    flow = start_from_portal(browser, portal)
    walker = Walker(browser)
    fill_to_activation(walker)
    assert walker.page.headers["Location"] == "/inscription/citoyen/activation"
    choice = walker.get("/inscription/citoyen/activation")
    assert "06 ** ** ** 78" in choice.text or "** 78" in choice.text
    walker.post("/inscription/citoyen/activation", {"channel": "email"})
    assert walker.page.headers["Location"] == "/inscription/citoyen/courriel-envoye"
    assert "Consultez votre boîte mail" in browser.get("/inscription/citoyen/courriel-envoye").text
    (mail,) = smtp_server.wait(1)
    assert mail.rcpt_tos == ["angela.dubois@example.fr"]
    link = link_in(mail)
    page = browser.get(link)
    assert page.status_code == 200 and "Activer mon compte" in page.text
    walker.page = page
    walker.post(link, {})
    # Back to the portal with a code, logged in, without typing the password again.
    query = flow.follow_to_callback(walker.page)
    tokens = flow.token(query["code"]).get_json()
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.get_json()["email"] == "angela.dubois@example.fr"
    with signup_app.app_context():
        account = db.session.scalar(select(Account).where(Account.username == "angela.dubois"))
        assert account.status == "active" and account.email_verified_at is not None
        assert account.phone == "+33612345678" and account.landline == "+33145375945"
        assert account.given_name == "Angéla" and account.birthdate.isoformat() == "1962-08-24"
        consents = {
            c.kind: (c.granted, c.version) for c in db.session.scalars(select(AccountConsent))
        }
    assert consents["cgu"][0] and consents["cgu"][1] and consents["privacy"][0]
    assert consents["marketing_email"] == (False, None) and consents["marketing_sms"] == (
        False,
        None,
    )
    # The link is single-use.
    assert browser.get(link).status_code == 409


def test_citizen_activates_by_sms_code(signup_app, browser, factories, smtp_server):
    portal = factories.portal(journey="citoyen")
    flow = start_from_portal(browser, portal)
    walker = Walker(browser)
    fill_to_activation(walker)
    walker.get("/inscription/citoyen/activation")
    walker.post("/inscription/citoyen/activation", {"channel": "sms"})
    assert walker.page.headers["Location"] == "/inscription/citoyen/code"
    (sms,) = smtp_server.wait(1)
    assert sms.rcpt_tos == ["sms+33612345678@sms.localhost"]
    code = code_in(sms)
    walker.get("/inscription/citoyen/code")
    wrong = "000000" if code != "000000" else "111111"
    walker.post("/inscription/citoyen/code", {"code": wrong})
    assert "Code incorrect" in walker.page.text and "Il vous reste 4 essais" in walker.page.text
    walker.post("/inscription/citoyen/code", {"code": code})
    query = flow.follow_to_callback(walker.page)
    assert "code" in query
    with signup_app.app_context():
        account = db.session.scalar(select(Account).where(Account.username == "angela.dubois"))
        assert account.status == "active" and account.phone_verified_at is not None


def test_business_profile_requires_a_valid_siret(signup_app, browser, factories):
    walker = Walker(browser)
    browser.get("/inscription/citoyen")
    walker.get("/inscription/citoyen/profil")
    walker.post("/inscription/citoyen/profil", {"profile": "entreprise"})
    page = walker.get("/inscription/citoyen/identite")
    assert "Numéro SIRET" in page.text
    walker.post(
        "/inscription/citoyen/identite",
        {**IDENTITY, "siret": "732 829 320 00075", "organisation": "ACME"},
    )
    assert walker.page.status_code == 200 and "SIRET" in walker.page.text
    assert 'value="Dubois"' in walker.page.text, "what was typed is kept"
    walker.post(
        "/inscription/citoyen/identite",
        {**IDENTITY, "siret": "732 829 320 00074", "organisation": "ACME"},
    )
    assert walker.page.status_code == 302
    fill_password(walker)
    with signup_app.app_context():
        (identifier,) = db.session.scalars(select(AccountIdentifier)).all()
        assert (identifier.kind, identifier.display) == ("siret", "73282932000074")


def fill_password(walker, password=PASSWORD):
    walker.get("/inscription/citoyen/identifiant")
    walker.post(
        "/inscription/citoyen/identifiant",
        {
            "username": "angela.dubois",
            "password": password,
            "password_confirm": password,
            "cgu": "y",
            "rgpd": "y",
        },
    )
    return walker.page


def test_every_bad_field_gets_a_french_message_and_nothing_is_stored(signup_app, browser):
    walker = Walker(browser)
    browser.get("/inscription/citoyen")
    walker.get("/inscription/citoyen/profil")
    walker.post("/inscription/citoyen/profil", {})
    assert "Choisissez le profil" in walker.page.text
    walker.post("/inscription/citoyen/profil", {"profile": "citoyen"})
    walker.get("/inscription/citoyen/identite")
    bad = {
        **IDENTITY,
        "birthdate": "31/02/1990",
        "email_confirm": "autre@example.fr",
        "mobile": "01 02",
        "civility": "",
    }
    page = walker.post("/inscription/citoyen/identite", bad)
    assert page.status_code == 200
    for text in ("Choisissez votre civilité", "ne sont pas identiques"):
        assert text in page.text
    assert page.text.count("fr-error-text") >= 4
    # The wizard refuses to skip ahead.
    assert (
        browser.get("/inscription/citoyen/identifiant").headers["Location"]
        == "/inscription/citoyen/identite"
    )
    walker.post("/inscription/citoyen/identite", IDENTITY)
    page = fill_password(walker, "faible")
    assert page.status_code == 200 and 'id="password-error"' in page.text
    page = fill_password(walker, "Dubois-1962-Soleil")
    assert page.status_code == 200 and 'id="password-error"' in page.text, (
        "names and birth year are refused"
    )
    with signup_app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Account)) == 0


def test_back_keeps_what_was_typed_and_cancel_forgets_it(signup_app, browser):
    walker = Walker(browser)
    browser.get("/inscription/citoyen")
    walker.get("/inscription/citoyen/profil")
    walker.post("/inscription/citoyen/profil", {"profile": "citoyen"})
    walker.get("/inscription/citoyen/identite")
    walker.post("/inscription/citoyen/identite", IDENTITY)
    back = browser.get("/inscription/citoyen/identite")
    assert 'value="Dubois"' in back.text and 'value="24/08/1962"' in back.text
    assert 'value="06 12 34 56 78"' in back.text
    assert "checked" in browser.get("/inscription/citoyen/profil").text
    walker.page = back
    cancelled = walker.post("/inscription/citoyen/annuler", {})
    assert "Votre demande a été annulée" in cancelled.text
    assert browser.get("/inscription/citoyen/identite").status_code == 410


def test_email_already_used_is_not_revealed_and_the_owner_is_told(
    signup_app, browser, factories, smtp_server
):
    factories.account(email="angela.dubois@example.fr")
    walker = Walker(browser)
    browser.get("/inscription/citoyen")
    fill_to_activation(walker)
    walker.get("/inscription/citoyen/activation")
    walker.post("/inscription/citoyen/activation", {"channel": "email"})
    assert walker.page.headers["Location"] == "/inscription/citoyen/courriel-envoye"
    (mail,) = smtp_server.wait(1)
    assert "Tentative de création de compte" in mail.message["Subject"]
    assert "/activation/" not in mail.part("plain")
    with signup_app.app_context():
        # The sign-up goes on with a pending account that does not have the address.
        emails = db.session.scalars(select(Account.email).order_by(Account.id)).all()
        assert emails == ["angela.dubois@example.fr", None]


def test_username_availability_is_checked_live(signup_app, browser, factories):
    factories.account(email="x@example.fr", username="angela.dubois")
    taken = browser.get(
        "/inscription/identifiant-disponible?" + urlencode({"identifiant": "Angela.Dubois"})
    )
    assert taken.get_json()["available"] is False
    free = browser.get("/inscription/identifiant-disponible?identifiant=angela.dubois2").get_json()
    assert free == {"available": True, "message": "Identifiant disponible !"}
    walker = Walker(browser)
    browser.get("/inscription/citoyen")
    walker.get("/inscription/citoyen/profil")
    walker.post("/inscription/citoyen/profil", {"profile": "citoyen"})
    walker.get("/inscription/citoyen/identite")
    walker.post("/inscription/citoyen/identite", IDENTITY)
    proposed = browser.get("/inscription/citoyen/identifiant")
    assert 'value="angela.dubois2"' in proposed.text


def test_login_page_offers_the_portal_journey(browser, factories):
    portal = factories.portal(journey="ars-interne")
    response = Flow(browser, portal).authorize()
    login = browser.get(response.headers["Location"])
    signup = login.text.split("Créer un compte")[0].rsplit('href="', 1)[1].split('"')[0]
    assert signup.startswith("/inscription/ars-interne?next=")
    next_url = parse_qs(urlsplit(signup.replace("&amp;", "&")).query)["next"][0]
    assert next_url.startswith("/authorize?")


def test_franceconnect_is_offered_first_when_configured(make_app, factories):
    """Seed 001: "S'identifier avec FranceConnect" or the classic account."""
    app = make_app(
        FRANCECONNECT_ISSUER="http://127.0.0.1:9/api/v2",
        FRANCECONNECT_CLIENT_ID="fc-client",
        FRANCECONNECT_CLIENT_SECRET="fc-secret-for-tests",
    )
    browser = app.test_client()
    portal = factories.portal(journey="citoyen")
    flow = Flow(browser, portal)
    start = browser.get(flow.authorize(prompt="create").headers["Location"])
    page = browser.get(start.headers["Location"]).text
    assert page.index("FranceConnect") < page.index("Création de compte classique")
    assert 'href="/federation/franceconnect/start?next=/authorize?' in page
    plain = make_app().test_client()
    plain.get("/inscription/citoyen")
    assert "fr-connect" not in plain.get("/inscription/citoyen/profil").text
