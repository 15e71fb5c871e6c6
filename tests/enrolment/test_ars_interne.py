"""`ars-interne` journey (seed 000): INE, email twice → link → finalisation → confirmation mail."""

from __future__ import annotations

from sqlalchemy import select

from idp.enrolment.models import AccountIdentifier
from idp.enrolment.services import check_answer
from idp.extensions import db
from idp.models import Account
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import link_in
from tests.factories import Flow

PASSWORD = "Internat-Bordeaux-77"
FINALISE = {
    "password": PASSWORD,
    "password_confirm": PASSWORD,
    "birthdate": "11/12/1991",
    "phone": "07 78 10 41 44",
    "street_address": "4, rue du stade Buffalo",
    "postal_code": "92120",
    "locality": "Montrouge",
    "secret_question": "mere",
    "secret_answer": "Serres",
    "cgu": "y",
    "rgpd": "y",
}


def begin(browser, walker, ine="0000"):
    walker.get("/inscription/ars-interne/compte")
    assert (
        "Munissez-vous de votre N° INE" in walker.page.text and "Étape 1 sur 3" in walker.page.text
    )
    walker.post(
        "/inscription/ars-interne/compte",
        {"ine": ine, "family_name": "Interne", "given_name": "Dci"},
    )
    assert walker.page.status_code == 302, walker.page.text
    walker.get("/inscription/ars-interne/email")
    walker.post(
        "/inscription/ars-interne/email",
        {"email": "dci.interne@example.fr", "email_confirm": "dci.interne@example.fr"},
    )
    assert walker.page.headers["Location"] == "/inscription/ars-interne/courriel-envoye"


def test_intern_without_ine_finishes_by_link_and_is_flagged_for_review(
    signup_app, browser, factories, smtp_server
):
    portal = factories.portal(journey="ars-interne")
    flow = Flow(browser, portal)
    signup = browser.get(flow.authorize(prompt="create").headers["Location"])
    assert signup.headers["Location"] == "/inscription/ars-interne/compte"
    walker = Walker(browser)
    begin(browser, walker)
    inbox = browser.get("/inscription/ars-interne/courriel-envoye")
    assert "Consultez votre boîte mail" in inbox.text
    (mail,) = smtp_server.wait(1)
    link = link_in(mail)
    with signup_app.app_context():
        account = db.session.scalar(select(Account))
        assert account.status == "pending" and account.review_status == "pending"
    # The link opens the finalisation form (a new browser would work too).
    other = signup_app.test_client()
    page = Walker(other)
    page.get(link)
    assert "Finaliser mon inscription" in page.page.text and "Étape 3 sur 3" in page.page.text
    bad = page.post(link, {**FINALISE, "password_confirm": "autre", "postal_code": "9212"})
    assert bad.status_code == 200 and "ne sont pas identiques" in bad.text
    assert 'value="Montrouge"' in bad.text
    page.post(link, FINALISE)
    assert page.page.status_code == 302
    # Back to the portal (return_to kept server-side), logged in.
    query = flow.follow_to_callback(other.get(page.page.headers["Location"]))
    assert "code" in query
    mails = smtp_server.wait(2)
    assert "inscription est confirmée" in mails[1].message["Subject"]
    with signup_app.app_context():
        account = db.session.scalar(select(Account))
        assert account.status == "active" and account.email_verified_at
        assert account.phone == "+33778104144" and account.locality == "MONTROUGE"
        assert account.secret_question == "mere"
        assert "Serres" not in (account.secret_answer_hash or "")
        assert check_answer(account, "  serrés ") and not check_answer(account, "Martin")
        assert db.session.scalars(select(AccountIdentifier)).all() == []
    # The email is the login.
    login = Walker(signup_app.test_client())
    login.get("/connexion")
    assert (
        login.post(
            "/connexion", {"identifier": "dci.interne@example.fr", "password": PASSWORD}
        ).status_code
        == 302
    )


def test_ine_is_validated_and_stored(signup_app, browser, smtp_server):
    walker = Walker(browser)
    browser.get("/inscription/ars-interne")
    walker.get("/inscription/ars-interne/compte")
    wrong = walker.post(
        "/inscription/ars-interne/compte", {"ine": "12345", "family_name": "A", "given_name": "B"}
    )
    assert wrong.status_code == 200 and 'id="ine-error"' in wrong.text
    browser.get("/inscription/ars-interne")
    begin(browser, walker, ine="1234567890V")
    with signup_app.app_context():
        (identifier,) = db.session.scalars(select(AccountIdentifier)).all()
        assert identifier.kind == "ine" and db.session.scalar(select(Account)).review_status is None


def test_all_fields_are_mandatory(signup_app, browser):
    walker = Walker(browser)
    browser.get("/inscription/ars-interne")
    walker.get("/inscription/ars-interne/compte")
    page = walker.post("/inscription/ars-interne/compte", {})
    assert page.text.count("fr-error-text") == 3


def test_password_confirmation_is_compared_exactly(signup_app, browser, smtp_server):
    walker = Walker(browser)
    browser.get("/inscription/ars-interne")
    begin(browser, walker)
    page = Walker(signup_app.test_client())
    link = link_in(smtp_server.wait(1)[0])
    page.get(link)
    different_case = page.post(link, {**FINALISE, "password_confirm": PASSWORD.lower()})
    assert different_case.status_code == 200 and "ne sont pas identiques" in different_case.text
