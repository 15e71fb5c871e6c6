"""`mon-espace-sante` journeys (seed 002): activation (self, child), opposition, closing."""

from __future__ import annotations

import html
import io
import re
import time

import pytest
from sqlalchemy import select
from sqlalchemy import update

from idp.enrolment import services
from idp.enrolment.models import AccountIdentifier
from idp.enrolment.models import HealthSpace
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.security.verification import Verification
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import link_in
from tests.factories import Flow
from tests.oidc.helpers import bearer

BASE = "/inscription/mon-espace-sante"
OPPOSE = "/inscription/mon-espace-sante-opposition"
SCOPE = "openid profile email phone mes"
ANGELA = {"nir": "2 62 08 75 107 123 71", "card_serial": "0102457612 4", "birthdate": "24/08/1962"}
LUCIE = {"nir": "2 15 03 75 107 045 44", "card_serial": "01024576124", "birthdate": "12/03/2015"}
PAUL = {"nir": "164097510712339", "card_serial": "01999888776", "birthdate": "15/09/1964"}
CHLOE = {"nir": "270097510732179", "card_serial": "02111222334", "birthdate": "02/09/1970"}
JEAN = {"nir": "155017510722259", "card_serial": "03222333445", "birthdate": "20/01/1955"}
CHLOE_SMS = "sms+33698765432@sms.localhost"
CSV = (
    "nir;card_serial;birth_family_name;usage_family_name;given_names;birthdate;postcode;email;mobile;parent_nir\n"
    "262087510712371;01024576124;DUBOIS;MARTIN;Angela Claire Louise;1962-08-24;75007;angela.dubois@example.fr;+33612345678;\n"
    "215037510704544;01024576124;MARTIN;;Lucie;2015-03-12;75007;;;262087510712371\n"
    "164097510712339;01999888776;LEROY;;Paul;1964-09-15;75011;paul.leroy@example.fr;;\n"
    "270097510732179;02111222334;BERNARD;;Chloé;1970-09-02;69003;;+33698765432;\n"
    "155017510722259;03222333445;ROBERT;;Jean;1955-01-20;13001;;;\n"
)
ANGELA_EMAIL = "angela.dubois@example.fr"
ANGELA_SMS = "sms+33612345678@sms.localhost"
USERNAME = "angela.m"
PASSWORD = "Rivage#Azur-2031"
CODE = re.compile(r" : ([A-Za-z0-9]{12})\b")


@pytest.fixture(autouse=True)
def registry(signup_app):
    from idp.registry.services import import_csv

    with signup_app.app_context():
        report = import_csv("insured", io.StringIO(CSV))
        db.session.commit()
    assert report.rejected == []


@pytest.fixture
def portal(factories):
    return factories.portal(journey="mon-espace-sante", name="Mon espace santé", scope=SCOPE)


def shown(response) -> str:
    """The page's text as a person reads it (entities decoded)."""
    return html.unescape(response.text)


def received(smtp, address: str, count: int = 1, timeout: float = 5):
    """The latest of at least `count` messages to `address`."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in smtp.messages if address in m.rcpt_tos]
        if len(found) >= count:
            return found[-1]
        assert time.monotonic() < deadline, [m.rcpt_tos for m in smtp.messages]
        time.sleep(0.02)


def code_from(message) -> str:
    found = CODE.search(message.part("plain"))
    assert found, message.part("plain")
    return found.group(1)


def start(browser, portal) -> Flow:
    flow = Flow(browser, portal, scope=SCOPE)
    response = flow.authorize(prompt="create")
    assert response.headers["Location"].startswith(BASE + "?next=")
    assert browser.get(response.headers["Location"]).headers["Location"] == BASE + "/commencer"
    return flow


def prove(walker, smtp, person=ANGELA, channel="email", to=ANGELA_EMAIL, base=BASE, count=1):
    """Birthdate, card, channel, provisional code: the identity proof of both journeys."""
    walker.get(f"{base}/date-naissance")
    walker.post(f"{base}/date-naissance", {"birthdate": person["birthdate"]})
    assert walker.page.headers["Location"] == f"{base}/carte-vitale"
    walker.get(f"{base}/carte-vitale")
    walker.post(
        f"{base}/carte-vitale", {"nir": person["nir"], "card_serial": person["card_serial"]}
    )
    assert walker.page.status_code == 302, walker.page.text
    walker.get(f"{base}/envoi-code")
    walker.post(f"{base}/envoi-code", {"channel": channel})
    assert walker.page.headers["Location"] == f"{base}/code-provisoire"
    code = code_from(received(smtp, to, count))
    walker.get(f"{base}/code-provisoire")
    walker.post(f"{base}/code-provisoire", {"code": code})
    assert walker.page.status_code == 302, walker.page.text
    return code


def identify(walker, person=ANGELA):
    """ "Commencer", birthdate and card: the page to choose the channel comes next."""
    walker.get(f"{BASE}/commencer")
    walker.post(f"{BASE}/commencer", {})
    walker.get(f"{BASE}/date-naissance")
    walker.post(f"{BASE}/date-naissance", {"birthdate": person["birthdate"]})
    walker.get(f"{BASE}/carte-vitale")
    return walker.post(
        f"{BASE}/carte-vitale", {"nir": person["nir"], "card_serial": person["card_serial"]}
    )


def to_contacts(walker, smtp, **kw):
    walker.get(f"{BASE}/commencer")
    walker.post(f"{BASE}/commencer", {})
    prove(walker, smtp, **kw)
    walker.get(f"{BASE}/informations")
    walker.post(f"{BASE}/informations", {})
    walker.get(f"{BASE}/conditions")
    walker.post(f"{BASE}/conditions", {"accept": "y"})
    assert walker.page.headers["Location"] == f"{BASE}/coordonnees"


def choose_credentials(walker, username=USERNAME, password=PASSWORD):
    walker.get(f"{BASE}/identifiant")
    return walker.post(
        f"{BASE}/identifiant",
        {"username": username, "password": password, "password_confirm": password},
    )


def activate(walker, smtp, mobile="06 12 34 56 78", **kw):
    to_contacts(walker, smtp, **kw)
    walker.get(f"{BASE}/coordonnees")
    walker.post(f"{BASE}/coordonnees", {"mobile": mobile})
    assert walker.page.headers["Location"] == f"{BASE}/identifiant"
    done = choose_credentials(walker)
    assert done.status_code == 302, done.text
    return done


def claims_of(flow, response) -> dict:
    query = flow.follow_to_callback(response)
    tokens = flow.token(query["code"]).get_json()
    return flow.client.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()


def account(app, **where) -> Account | None:
    with app.app_context():
        query = select(Account)
        for name, value in where.items():
            query = query.where(getattr(Account, name) == value)
        found = db.session.scalar(query)
        if found is not None:
            db.session.expunge(found)
        return found


# --- self activation ---------------------------------------------------------------------


def test_insured_person_activates_by_email_and_returns_to_the_portal_logged_in(
    signup_app, browser, portal, smtp_server
):
    flow = start(browser, portal)
    walker = Walker(browser)
    intro = walker.get(f"{BASE}/commencer")
    assert "Activer Mon espace santé" in intro.text and "5 minutes de mon temps" in intro.text
    assert "Je peux aussi clôturer ou m'opposer à Mon espace santé" in shown(intro)
    walker.post(f"{BASE}/commencer", {})
    page = walker.get(f"{BASE}/date-naissance")
    assert "Si cela concerne mon enfant, j'indique sa date de naissance." in shown(page)
    walker.post(f"{BASE}/date-naissance", {"birthdate": ANGELA["birthdate"]})
    page = walker.get(f"{BASE}/carte-vitale")
    assert "0 / 15" in page.text and "0 / 11" in page.text and "counter.js" in page.text
    assert "Où trouver un numéro de sécurité sociale ?" in page.text
    assert 'data-counter-max="15"' in page.text and "<script>" not in page.text
    walker.post(
        f"{BASE}/carte-vitale", {"nir": ANGELA["nir"], "card_serial": ANGELA["card_serial"]}
    )
    page = walker.get(f"{BASE}/envoi-code")
    assert "Je reçois mon code sur a***@example.fr" in page.text
    assert "Je reçois mon code au 06 ** ** ** 78" in page.text
    assert ANGELA_EMAIL not in page.text and "12 34 56" not in page.text
    walker.post(f"{BASE}/envoi-code", {"channel": "email"})
    mail = received(smtp_server, ANGELA_EMAIL)
    assert mail.message["Subject"] == "Votre code provisoire Mon espace santé"
    code = code_from(mail)
    assert len(code) == 12 and code in mail.part("html")
    page = walker.get(f"{BASE}/code-provisoire")
    assert "0 / 12" in page.text and "a***@example.fr" in page.text and "HuqZF3KXCz8k" in page.text
    walker.post(f"{BASE}/code-provisoire", {"code": code})
    assert walker.page.headers["Location"] == f"{BASE}/informations"
    page = walker.get(f"{BASE}/informations")
    assert "Vérifiez bien toutes vos informations personnelles." in page.text
    assert (
        "DUBOIS" in page.text and "Angela Claire Louise" in page.text and "24/08/1962" in page.text
    )
    assert "2 62 ** ** *** *** 71" in page.text and 'type="text"' not in page.text, "read-only"
    walker.post(f"{BASE}/informations", {})
    page = walker.get(f"{BASE}/conditions")
    assert (
        "J'accepte les Conditions Générales d'Utilisation et la Politique de protection des données personnelles."
        in shown(page)
    )
    refused = walker.post(f"{BASE}/conditions", {})
    assert refused.status_code == 200 and "acceptez les Conditions Générales" in refused.text
    walker.post(f"{BASE}/conditions", {"accept": "y"})
    page = walker.get(f"{BASE}/coordonnees")
    assert (
        "Vérifiez bien toutes vos coordonnées" in page.text
        and "Adresse e-mail (obligatoire)" in page.text
    )
    assert ANGELA_EMAIL in page.text and "Modifier mon adresse e-mail" in page.text
    assert 'value="06 12 34 56 78"' in page.text
    walker.post(f"{BASE}/coordonnees", {"mobile": "06 12 34 56 78"})
    page = walker.get(f"{BASE}/identifiant")
    assert "Ex : prenom.nom, pseudo, etc" in page.text and "9 caractères minimum" in page.text
    assert (
        "1 caractère spécial" in page.text
        and "Comment définir un mot de passe robuste ?" in page.text
    )
    done = choose_credentials(walker)
    location = done.headers["Location"]
    assert location.startswith(f"{BASE}/profil-active?next=")
    page = browser.get(location)
    assert "Félicitations, votre profil a bien été activé !" in page.text
    continue_to = re.search(r'href="([^"]+)">Continuer vers Mon espace santé', page.text).group(1)
    assert continue_to.replace("&amp;", "&").startswith("/authorize?")
    info = claims_of(flow, browser.get(continue_to.replace("&amp;", "&")))
    assert info["mes_status"] == "active" and "mes_managed" not in info
    assert info["email"] == ANGELA_EMAIL and info["email_verified"] is True
    assert info["phone_number"] == "+33612345678" and info["phone_number_verified"] is False
    assert (info["given_name"], info["family_name"], info["birthdate"]) == (
        "Angela Claire Louise",
        "DUBOIS",
        "1962-08-24",
    )
    created = account(signup_app, username=USERNAME)
    assert created.status == "active" and created.journey == "mon-espace-sante"
    with signup_app.app_context():
        events = set(db.session.scalars(select(AuditEvent.event)))
        assert {"mes.code_sent", "account.activated", "mes.active", "session.opened"} <= events
        assert services.identifier_in_use("nir", "262087510712371")
    # Mon espace santé portals: the chosen identifier (or the email) + password.
    fresh = Flow(signup_app.test_client(), portal, scope=SCOPE)
    assert "code" in fresh.follow_to_callback(fresh.login(fresh.authorize(), USERNAME, PASSWORD))
    # Only the activation mail was sent: no link, since the code proved the address.
    assert [m.rcpt_tos for m in smtp_server.messages] == [[ANGELA_EMAIL]]


def test_activation_by_sms_code_verifies_the_phone_not_the_email(
    signup_app, browser, portal, smtp_server
):
    flow = start(browser, portal)
    walker = Walker(browser)
    done = activate(walker, smtp_server, channel="sms", to=ANGELA_SMS)
    sms = received(smtp_server, ANGELA_SMS)
    assert sms.part("plain").strip().startswith("Votre code provisoire Mon espace santé : ")
    assert len(sms.part("plain").strip()) <= 160
    assert "Félicitations" in browser.get(done.headers["Location"]).text
    info = claims_of(flow, flow.authorize())
    assert info["phone_number_verified"] is True and info["email_verified"] is False
    assert info["mes_status"] == "active"


def test_only_the_channels_on_record_are_offered(signup_app, browser, portal, smtp_server):
    start(browser, portal)
    walker = Walker(browser)
    identify(walker, PAUL)
    page = walker.get(f"{BASE}/envoi-code")
    assert "p***@example.fr" in page.text and "Par SMS" not in page.text
    refused = walker.post(f"{BASE}/envoi-code", {"channel": "sms"})
    assert refused.status_code == 200 and "Choisissez comment recevoir" in refused.text
    assert smtp_server.messages == []


def test_a_mismatch_never_says_which_field_differed(signup_app, browser, portal):
    start(browser, portal)
    walker = Walker(browser)
    wrong_birthdate = identify(walker, {**ANGELA, "birthdate": "25/08/1962"})
    walker.get(f"{BASE}/date-naissance")
    walker.post(f"{BASE}/date-naissance", {"birthdate": ANGELA["birthdate"]})
    walker.get(f"{BASE}/carte-vitale")
    wrong_serial = walker.post(
        f"{BASE}/carte-vitale", {"nir": ANGELA["nir"], "card_serial": "01024576125"}
    )
    unknown_nir = walker.post(
        f"{BASE}/carte-vitale", {"nir": PAUL["nir"], "card_serial": ANGELA["card_serial"]}
    )
    for page in (wrong_birthdate, wrong_serial, unknown_nir):
        assert page.status_code == 200
        assert "ne permettent pas de vous identifier" in page.text
        assert "fr-error-text" not in page.text, "no field is singled out"
    bad_format = walker.post(f"{BASE}/carte-vitale", {"nir": "123", "card_serial": "12"})
    assert bad_format.text.count("fr-error-text") == 2, "a malformed entry is reported on its field"


def test_wrong_codes_count_then_lock_and_a_new_code_works(signup_app, browser, portal, smtp_server):
    start(browser, portal)
    walker = Walker(browser)
    identify(walker, ANGELA)
    walker.get(f"{BASE}/envoi-code")
    walker.post(f"{BASE}/envoi-code", {"channel": "sms"})
    code = code_from(received(smtp_server, ANGELA_SMS))
    wrong = "ABCDEFGHJKLM" if code != "ABCDEFGHJKLM" else "MLKJHGFEDCBA"
    walker.get(f"{BASE}/code-provisoire")
    page = walker.post(f"{BASE}/code-provisoire", {"code": wrong})
    assert "Code provisoire incorrect" in page.text and "Il vous reste 4 essais" in page.text
    for _ in range(4):
        page = walker.post(f"{BASE}/code-provisoire", {"code": wrong})
    assert "Trop d'essais avec ce code provisoire" in shown(page)
    page = walker.post(f"{BASE}/code-provisoire", {"code": code})
    assert page.status_code == 200 and "Trop d'essais" in shown(page), (
        "the right code no longer works"
    )
    assert walker.get(f"{BASE}/informations").headers["Location"] == f"{BASE}/code-provisoire"
    short = walker.post(f"{BASE}/code-provisoire", {"code": "abc"})
    assert "12 lettres et chiffres" in short.text
    walker.post(f"{BASE}/code-provisoire/renvoyer", {})
    assert walker.page.headers["Location"] == f"{BASE}/code-provisoire?renvoye=1"
    assert (
        "Un nouveau code provisoire vient de vous être envoyé"
        in walker.get(walker.page.headers["Location"]).text
    )
    fresh = code_from(received(smtp_server, ANGELA_SMS, count=2))
    old = walker.post(f"{BASE}/code-provisoire", {"code": code})
    assert "Code provisoire incorrect" in old.text, "only the latest code works"
    assert (
        walker.post(f"{BASE}/code-provisoire", {"code": fresh}).headers["Location"]
        == f"{BASE}/informations"
    )
    with signup_app.app_context():
        rows = db.session.scalars(select(Verification).order_by(Verification.id)).all()
        assert [r.attempts for r in rows] == [5, 2], "the old code counted as a wrong try"
        assert [r.channel for r in rows] == ["sms", "sms"]
        assert all(re.fullmatch(r"[0-9a-f]{64}", r.secret_hash) for r in rows), (
            "stored keyed-hashed"
        )


def test_an_expired_code_is_refused(signup_app, browser, portal, smtp_server):
    start(browser, portal)
    walker = Walker(browser)
    identify(walker, ANGELA)
    walker.get(f"{BASE}/envoi-code")
    walker.post(f"{BASE}/envoi-code", {"channel": "email"})
    code = code_from(received(smtp_server, ANGELA_EMAIL))
    with signup_app.app_context():
        row = db.session.scalar(select(Verification))
        assert 14 * 60 < (row.expires_at - utcnow()).total_seconds() <= 15 * 60
        db.session.execute(update(Verification).values(expires_at=utcnow()))
        db.session.commit()
    walker.get(f"{BASE}/code-provisoire")
    page = walker.post(f"{BASE}/code-provisoire", {"code": code})
    assert page.status_code == 200 and "Ce code provisoire a expiré" in page.text


def test_a_used_code_cannot_be_used_again(signup_app, browser, portal, smtp_server):
    start(browser, portal)
    walker = Walker(browser)
    walker.get(f"{BASE}/commencer")
    walker.post(f"{BASE}/commencer", {})
    code = prove(walker, smtp_server)
    walker.get(f"{BASE}/code-provisoire")
    again = walker.post(f"{BASE}/code-provisoire", {"code": code})
    assert again.status_code == 200 and "Ce code provisoire a déjà été utilisé" in again.text


def test_codes_are_limited_per_sign_up(signup_app, browser, portal, smtp_server):
    start(browser, portal)
    walker = Walker(browser)
    identify(walker, ANGELA)
    walker.get(f"{BASE}/envoi-code")
    walker.post(f"{BASE}/envoi-code", {"channel": "email"})
    walker.get(f"{BASE}/code-provisoire")
    targets = [
        walker.post(f"{BASE}/code-provisoire/renvoyer", {}).headers["Location"] for _ in range(3)
    ]
    assert targets[-1] == f"{BASE}/code-provisoire?trop=1" and targets[0].endswith("renvoye=1")
    assert "Vous avez demandé trop de codes provisoires" in browser.get(targets[-1]).text
    walker.get(f"{BASE}/envoi-code")
    refused = walker.post(f"{BASE}/envoi-code", {"channel": "email"})
    assert refused.status_code == 200 and "trop de codes provisoires" in refused.text
    assert len(smtp_server.wait(3)) == 3


def test_a_changed_email_is_confirmed_by_a_link_before_the_account_works(
    signup_app, browser, portal, smtp_server
):
    flow = start(browser, portal)
    walker = Walker(browser)
    to_contacts(walker, smtp_server)
    page = walker.get(f"{BASE}/coordonnees")
    edit = re.search(r'href="([^"]+)"[^>]*>Modifier mon adresse e-mail', page.text).group(1)
    form = walker.get(edit)
    assert f'value="{ANGELA_EMAIL}"' in form.text
    mismatch = walker.post(
        edit, {"email": "angela@nouveau.fr", "email_confirm": "autre@nouveau.fr"}
    )
    assert mismatch.status_code == 200 and "ne sont pas identiques" in mismatch.text
    walker.post(edit, {"email": "Angela@Nouveau.fr", "email_confirm": "angela@nouveau.fr"})
    assert walker.page.headers["Location"] == f"{BASE}/coordonnees"
    page = walker.get(f"{BASE}/coordonnees")
    assert "angela@nouveau.fr" in page.text and "Un lien de confirmation sera envoyé" in page.text
    walker.post(f"{BASE}/coordonnees", {"mobile": ""})
    done = choose_credentials(walker)
    assert done.headers["Location"] == f"{BASE}/courriel-envoye"
    assert account(signup_app, username=USERNAME).status == "pending"
    login = Flow(signup_app.test_client(), portal, scope=SCOPE)
    refused = login.login(login.authorize(), USERNAME, PASSWORD)
    assert refused.status_code == 200 and "pas encore activé" in refused.text
    link = link_in(received(smtp_server, "angela@nouveau.fr"))
    walker.get(link)
    walker.post(link, {})
    assert walker.page.headers["Location"].startswith(f"{BASE}/profil-active?next=")
    page = browser.get(walker.page.headers["Location"])
    assert "Félicitations, votre profil a bien été activé !" in page.text
    info = claims_of(flow, flow.authorize())
    assert info["email"] == "angela@nouveau.fr" and info["email_verified"] is True
    assert info["mes_status"] == "active" and "phone_number" not in info


def test_the_record_email_taken_by_another_account_must_be_changed(
    signup_app, browser, portal, smtp_server, factories
):
    factories.account(email=ANGELA_EMAIL)
    start(browser, portal)
    walker = Walker(browser)
    to_contacts(walker, smtp_server)
    walker.get(f"{BASE}/coordonnees")
    page = walker.post(f"{BASE}/coordonnees", {"mobile": ""})
    assert page.status_code == 200 and "Un compte utilise déjà cette adresse e-mail" in page.text


# --- identifier, password, navigation, CSRF ----------------------------------------------


def test_the_identifier_must_be_free_and_the_password_follow_the_policy(
    signup_app, browser, portal, smtp_server, factories
):
    factories.account(email="autre@example.fr", username="angela.m")
    start(browser, portal)
    walker = Walker(browser)
    to_contacts(walker, smtp_server)
    walker.get(f"{BASE}/coordonnees")
    walker.post(f"{BASE}/coordonnees", {"mobile": "06 12 34 56 78"})
    taken = choose_credentials(walker, username="Angela.M")
    assert taken.status_code == 200 and "Cet identifiant n'est pas disponible" in shown(taken)
    assert (
        browser.get("/inscription/identifiant-disponible?identifiant=angela.m").get_json()[
            "available"
        ]
        is False
    )
    for weak, message in (
        ("Ri#Az-12", "Saisissez au moins 9"),
        ("rivage#azur-2031", "majuscule"),
        ("RIVAGE#AZUR-2031", "minuscule"),
        ("Rivage#Azur-Bleu", "chiffre"),
        ("RivageAzur2031", "caractère spécial"),
        ("Rivage#24081962", "date de naissance"),
        ("Rivage#75107123", "sécurité sociale"),
        ("Angela#Rivage-2031", "nom ou prénom"),
    ):
        page = choose_credentials(walker, username="angela.d", password=weak)
        assert page.status_code == 200 and message in page.text, weak
    assert choose_credentials(walker, username="angela.d").status_code == 302


def test_back_keeps_what_was_typed_and_changing_the_identity_starts_the_proof_again(
    signup_app, browser, portal, smtp_server
):
    start(browser, portal)
    walker = Walker(browser)
    to_contacts(walker, smtp_server)
    walker.get(f"{BASE}/coordonnees")
    walker.post(f"{BASE}/coordonnees", {"mobile": "06 98 76 54 32"})
    walker.get(f"{BASE}/identifiant")
    walker.post(
        f"{BASE}/identifiant", {"username": USERNAME, "password": "x", "password_confirm": "x"}
    )
    assert 'value="angela.m"' in walker.page.text and 'value="x"' not in walker.page.text
    assert 'value="06 98 76 54 32"' in browser.get(f"{BASE}/coordonnees").text
    assert "checked" in browser.get(f"{BASE}/conditions").text
    assert 'value="24/08/1962"' in browser.get(f"{BASE}/date-naissance").text
    card = browser.get(f"{BASE}/carte-vitale").text
    assert 'value="262087510712371"' in card and 'value="01024576124"' in card and "15 / 15" in card
    assert re.search(r'<input checked[^>]*value="email"', browser.get(f"{BASE}/envoi-code").text)
    back = re.search(r'href="([^"]+)">Retour', browser.get(f"{BASE}/identifiant").text).group(1)
    assert back == f"{BASE}/coordonnees"
    # Another person's card: the proof is done again before anything later.
    walker.get(f"{BASE}/date-naissance")
    walker.post(f"{BASE}/date-naissance", {"birthdate": CHLOE["birthdate"]})
    assert browser.get(f"{BASE}/informations").headers["Location"] == f"{BASE}/carte-vitale"
    walker.get(f"{BASE}/carte-vitale")
    walker.post(f"{BASE}/carte-vitale", {"nir": CHLOE["nir"], "card_serial": CHLOE["card_serial"]})
    assert browser.get(f"{BASE}/code-provisoire").headers["Location"] == f"{BASE}/envoi-code"
    late = walker.post(
        f"{BASE}/identifiant",
        {"username": USERNAME, "password": PASSWORD, "password_confirm": PASSWORD},
    )
    assert late.status_code == 409
    assert (
        "c***@" not in browser.get(f"{BASE}/envoi-code").text
        and "06 ** ** ** 32" in browser.get(f"{BASE}/envoi-code").text
    )


def test_every_form_requires_the_csrf_token(signup_app, browser, portal, smtp_server):
    start(browser, portal)
    walker = Walker(browser)
    to_contacts(walker, smtp_server)
    walker.get(f"{BASE}/coordonnees")
    walker.post(f"{BASE}/coordonnees", {"mobile": ""})
    steps = ("commencer", "date-naissance", "carte-vitale", "envoi-code", "code-provisoire",
             "informations", "conditions", "coordonnees", "identifiant")  # fmt: skip
    urls = [f"{BASE}/{s}" for s in steps]
    urls += [f"{BASE}/code-provisoire/renvoyer", f"{BASE}/coordonnees/adresse-email"]
    urls += [f"{OPPOSE}/code-provisoire/renvoyer", f"{BASE}/annuler"]
    for url in urls:
        response = browser.post(url, data={"birthdate": "24/08/1962", "accept": "y"})
        assert response.status_code == 400, url
        assert "csrf" in response.text.lower() or "expir" in response.text.lower(), url
    with signup_app.app_context():
        assert db.session.scalar(select(Account)) is None


# --- a parent and a child ----------------------------------------------------------------


def test_a_logged_in_parent_activates_the_profile_of_a_child(
    signup_app, browser, portal, smtp_server
):
    # Without a session, the parent is asked to log in (or to activate their own space).
    start(browser, portal)
    walker = Walker(browser)
    page = identify(walker, LUCIE)
    assert page.status_code == 200 and "enfant rattaché à votre carte" in page.text
    assert "Me connecter" in shown(page) and "Activer d'abord mon propre profil" in shown(page)
    # "Activer d'abord mon propre profil": the parent's own birthdate, card and code.
    activate(walker, smtp_server)
    parent_flow = Flow(browser, portal, scope=SCOPE)
    parent = account(signup_app, username=USERNAME)
    start(browser, portal)
    walker.get(f"{BASE}/commencer")
    walker.post(f"{BASE}/commencer", {})
    prove(walker, smtp_server, person=LUCIE, count=2)
    page = walker.get(f"{BASE}/envoi-code")
    assert "Le code est envoyé aux coordonnées du parent" in page.text
    page = walker.get(f"{BASE}/informations")
    assert "informations personnelles de votre enfant" in page.text and "Lucie" in page.text
    walker.post(f"{BASE}/informations", {})
    conditions = walker.get(f"{BASE}/conditions")
    # The stepper counts only the steps a parent goes through for a child: the contact,
    # identifier and password steps are skipped, so the conditions are the last one.
    own_total = int(re.search(r"Étape \d+ sur (\d+)", page.text).group(1))
    assert re.search(r"Étape (\d+) sur \1<", conditions.text), "conditions are the last step"
    assert int(re.search(r"Étape \d+ sur (\d+)", conditions.text).group(1)) <= own_total
    assert "Étape suivante" not in conditions.text
    done = walker.post(f"{BASE}/conditions", {"accept": "y"})
    location = done.headers["Location"]
    assert location.startswith(f"{BASE}/profil-active?") and "profil=" in location
    assert browser.get(f"{BASE}/coordonnees").status_code in (302, 410)
    page = browser.get(location)
    assert "Félicitations, le profil de Lucie a bien été activé !" in page.text
    child = account(signup_app, given_name="Lucie")
    assert child.managed_by_id == parent.id and child.password_hash is None
    assert child.email is None and child.username is None and child.status == "active"
    assert child.birthdate.isoformat() == "2015-03-12" and child.family_name == "MARTIN"
    with signup_app.app_context():
        kinds = db.session.execute(
            select(AccountIdentifier.account_id, AccountIdentifier.kind, AccountIdentifier.display)
        ).all()
        assert sorted(kinds) == [(parent.id, "nir", None), (child.id, "nir", None)]
    info = claims_of(parent_flow, parent_flow.authorize())
    (managed,) = info["mes_managed"]
    assert managed["given_name"] == "Lucie" and managed["birthdate"] == "2015-03-12"
    assert managed["mes_status"] == "active" and managed["sub"] == child.sub
    assert info["mes_status"] == "active"


def test_a_child_profile_needs_the_parent_s_own_session(
    signup_app, browser, portal, smtp_server, factories
):
    factories.account(email="quelqu.un@example.fr", username="quelquun")
    someone = Flow(browser, portal, scope=SCOPE)
    someone.follow_to_callback(someone.login(someone.authorize(), "quelquun", "Correct-Horse-42"))
    start(browser, portal)
    walker = Walker(browser)
    page = identify(walker, LUCIE)
    assert page.status_code == 200 and "connectez-vous d'abord" in shown(page)


# --- opposition and closing --------------------------------------------------------------


def oppose(browser, smtp, person=ANGELA, to=ANGELA_EMAIL, count=1, expected="opposer"):
    browser.get(OPPOSE)
    walker = Walker(browser)
    prove(walker, smtp, person=person, to=to, base=OPPOSE, count=count)
    assert walker.page.headers["Location"] == f"{OPPOSE}/decision"
    page = walker.get(f"{OPPOSE}/decision")
    assert f'value="{expected}"' in page.text and page.text.count('type="radio"') == 1
    return walker.post(f"{OPPOSE}/decision", {"decision": expected})


def test_an_opposition_needs_the_identity_proof_and_is_visible_to_portals(
    signup_app, browser, portal, smtp_server, factories
):
    intro = Walker(browser)
    start(browser, portal)
    link = re.search(r'href="([^"]+)">Je peux aussi', intro.get(f"{BASE}/commencer").text).group(1)
    assert link.startswith(OPPOSE)
    assert browser.get(link.replace("&amp;", "&")).headers["Location"] == f"{OPPOSE}/date-naissance"
    done = oppose(browser, smtp_server)
    assert done.status_code == 200 and "Votre opposition a bien été enregistrée" in done.text
    with signup_app.app_context():
        space = db.session.scalar(select(HealthSpace))
        assert space.status == "opposed" and space.status_at is not None
        assert "262087510712371" not in space.nir_hash
        assert db.session.scalar(select(Account)) is None, "no login is created to oppose"
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.event == "mes.opposed"))
    # A login this person already has (ameli: NIR + personal code) now carries the status.
    person = factories.account(email="angela.ameli@example.fr", username="angela.ameli")
    with signup_app.app_context():
        services.add_identifier(
            db.session.get(Account, person.id), "nir", "262087510712371", shown=False
        )
        db.session.commit()
    flow = Flow(signup_app.test_client(), portal, scope=SCOPE)
    query = flow.follow_to_callback(flow.login(flow.authorize(), "angela.ameli", person.password))
    tokens = flow.token(query["code"]).get_json()
    info = flow.client.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert info["mes_status"] == "opposed"
    without = Flow(signup_app.test_client(), portal, scope="openid profile")
    assert (
        "mes_status"
        not in without.client.get(
            "/userinfo", headers=bearer(without.tokens(person)["access_token"])
        ).get_json()
    )


def test_an_opposed_person_cannot_activate_until_the_opposition_is_lifted(
    signup_app, browser, portal, smtp_server
):
    oppose(browser, smtp_server)
    start(browser, portal)
    walker = Walker(browser)
    identify(walker, ANGELA)
    walker.get(f"{BASE}/envoi-code")
    walker.post(f"{BASE}/envoi-code", {"channel": "email"})
    walker.get(f"{BASE}/code-provisoire")
    page = walker.post(
        f"{BASE}/code-provisoire", {"code": code_from(received(smtp_server, ANGELA_EMAIL, 2))}
    )
    assert "Vous vous êtes opposé(e) à Mon espace santé" in page.text
    assert "levez d'abord cette opposition" in shown(page) and "Lever mon opposition" in shown(page)
    assert browser.get(f"{BASE}/informations").status_code == 410, "the sign-up is over"
    lifted = oppose(browser, smtp_server, count=3, expected="lever")
    assert "Votre opposition a bien été levée" in lifted.text
    start(browser, portal)
    activate(Walker(browser), smtp_server, count=4)
    assert account(signup_app, username=USERNAME).status == "active"
    with signup_app.app_context():
        events = db.session.scalars(select(AuditEvent.event).order_by(AuditEvent.id))
        events = [e for e in events if e.startswith("mes.")]
        assert [e for e in events if e != "mes.code_sent"] == [
            "mes.opposed",
            "mes.lifted",
            "mes.active",
        ]


def test_an_active_space_can_be_closed_and_portals_are_told(
    signup_app, browser, portal, smtp_server
):
    flow = start(browser, portal)
    activate(Walker(browser), smtp_server)
    closed = oppose(browser, smtp_server, count=2, expected="cloturer")
    assert "Mon espace santé a bien été clôturé" in closed.text
    info = claims_of(flow, flow.authorize())
    assert info["mes_status"] == "closed"
    reopened = oppose(browser, smtp_server, count=3, expected="reactiver")
    assert "Mon espace santé a bien été réactivé" in reopened.text


def test_an_existing_account_for_the_nir_is_told_to_log_in(
    signup_app, browser, portal, smtp_server
):
    start(browser, portal)
    activate(Walker(browser), smtp_server)
    start(browser, portal)
    walker = Walker(browser)
    identify(walker, ANGELA)
    walker.get(f"{BASE}/envoi-code")
    walker.post(f"{BASE}/envoi-code", {"channel": "sms"})
    walker.get(f"{BASE}/code-provisoire")
    page = walker.post(
        f"{BASE}/code-provisoire", {"code": code_from(received(smtp_server, ANGELA_SMS))}
    )
    assert "Un compte existe déjà pour ce numéro de sécurité sociale" in page.text


def test_the_code_templates_render_in_both_parts(signup_app):
    from idp.notify.mail import render_mail
    from idp.notify.sms import render_sms

    with signup_app.test_request_context():
        subject, text, html = render_mail(
            "mes_code", code="HuqZF3KXCz8k", minutes=15, child=True, portal_name=None
        )
        sms = render_sms("mes_code", code="HuqZF3KXCz8k", minutes=15)
    assert subject == "Votre code provisoire Mon espace santé"
    for body in (text, html):
        assert "HuqZF3KXCz8k" in body and "de votre enfant" in body and "15 minutes" in body
    assert (
        sms
        == "Votre code provisoire Mon espace santé : HuqZF3KXCz8k. Valable 15 min. Ne le communiquez à personne."
    )


def test_a_person_without_contact_on_record_is_told_to_ask_their_fund(signup_app, browser, portal):
    start(browser, portal)
    page = identify(Walker(browser), JEAN)
    assert page.status_code == 200 and "Contactez votre caisse d'assurance maladie" in shown(page)


def test_without_an_email_on_record_one_is_added_and_confirmed(
    signup_app, browser, portal, smtp_server
):
    flow = start(browser, portal)
    walker = Walker(browser)
    to_contacts(walker, smtp_server, person=CHLOE, channel="sms", to=CHLOE_SMS)
    page = walker.get(f"{BASE}/coordonnees")
    assert (
        "Aucune adresse e-mail n'est connue." in shown(page)
        and "Ajouter mon adresse e-mail" in page.text
    )
    refused = walker.post(f"{BASE}/coordonnees", {"mobile": "06 98 76 54 32"})
    assert refused.status_code == 200 and "L'adresse e-mail est obligatoire" in shown(refused)
    walker.get(f"{BASE}/coordonnees/adresse-email")
    walker.post(
        f"{BASE}/coordonnees/adresse-email",
        {"email": "chloe@example.fr", "email_confirm": "chloe@example.fr"},
    )
    walker.get(f"{BASE}/coordonnees")
    walker.post(f"{BASE}/coordonnees", {"mobile": "06 98 76 54 32"})
    done = choose_credentials(walker, username="chloe.b")
    assert done.headers["Location"] == f"{BASE}/courriel-envoye"
    link = link_in(received(smtp_server, "chloe@example.fr"))
    walker.get(link)
    walker.post(link, {})
    info = claims_of(flow, flow.authorize())
    assert info["email_verified"] is True and info["phone_number_verified"] is True, (
        "the SMS code proved the phone"
    )
    assert info["mes_status"] == "active"


def test_an_opposition_recorded_before_the_link_is_followed_wins(
    signup_app, browser, portal, smtp_server
):
    flow = start(browser, portal)
    walker = Walker(browser)
    to_contacts(walker, smtp_server)
    walker.get(f"{BASE}/coordonnees/adresse-email")
    walker.post(
        f"{BASE}/coordonnees/adresse-email",
        {"email": "angela@nouveau.fr", "email_confirm": "angela@nouveau.fr"},
    )
    walker.get(f"{BASE}/coordonnees")
    walker.post(f"{BASE}/coordonnees", {"mobile": ""})
    choose_credentials(walker)
    link = link_in(received(smtp_server, "angela@nouveau.fr"))
    other = signup_app.test_client()
    oppose(other, smtp_server, count=2)
    walker.get(link)
    walker.post(link, {})
    assert claims_of(flow, flow.authorize())["mes_status"] == "opposed"


def test_the_parent_must_still_be_logged_in_at_the_end(signup_app, browser, portal, smtp_server):
    start(browser, portal)
    walker = Walker(browser)
    activate(walker, smtp_server)
    start(browser, portal)
    walker.get(f"{BASE}/commencer")
    walker.post(f"{BASE}/commencer", {})
    prove(walker, smtp_server, person=LUCIE, count=2)
    walker.get(f"{BASE}/informations")
    walker.post(f"{BASE}/informations", {})
    walker.get("/deconnexion")
    walker.post("/deconnexion", {})
    walker.get(f"{BASE}/conditions")
    page = walker.post(f"{BASE}/conditions", {"accept": "y"})
    assert (
        page.status_code == 403
        and "Connectez-vous pour activer le profil de votre enfant" in page.text
    )
    assert account(signup_app, given_name="Lucie") is None


def test_pages_beside_the_steps_check_the_sign_up(signup_app, browser, portal, smtp_server):
    walker = Walker(browser)
    walker.get("/connexion")
    assert walker.post("/inscription/citoyen/code-provisoire/renvoyer", {}).status_code == 404
    assert walker.post(f"{BASE}/code-provisoire/renvoyer", {}).status_code == 410
    assert browser.get(f"{BASE}/coordonnees/adresse-email").status_code == 410
    start(browser, portal)
    identify(walker)
    early = walker.post(f"{BASE}/code-provisoire/renvoyer", {})
    assert early.headers["Location"] == f"{BASE}/envoi-code", "no code was asked yet"
    assert (
        browser.get(f"{BASE}/coordonnees/adresse-email").headers["Location"] == f"{BASE}/envoi-code"
    )
    page = browser.get(f"{BASE}/profil-active?next=https://evil.example/&profil=x")
    assert "https://evil.example" not in page.text and 'href="/"' in page.text


def test_a_decision_that_no_longer_applies_is_not_recorded(signup_app, browser, smtp_server):
    browser.get(OPPOSE)
    walker = Walker(browser)
    prove(walker, smtp_server, base=OPPOSE)
    walker.get(f"{OPPOSE}/decision")
    with signup_app.app_context():
        from idp.enrolment import mon_espace_sante_services as mes

        mes.set_status("262087510712371", "opposed", None)
        db.session.commit()
    page = walker.post(f"{OPPOSE}/decision", {"decision": "opposer"})
    assert page.status_code == 409
    tampered = walker.post(f"{OPPOSE}/decision", {"decision": "cloturer"})
    assert tampered.status_code == 200 and "fr-message--error" in tampered.text


def test_a_new_activation_replaces_one_whose_link_was_never_followed(
    signup_app, browser, portal, smtp_server
):
    start(browser, portal)
    walker = Walker(browser)
    to_contacts(walker, smtp_server)
    walker.get(f"{BASE}/coordonnees/adresse-email")
    walker.post(
        f"{BASE}/coordonnees/adresse-email",
        {"email": "angela@mauvaise-adresse.fr", "email_confirm": "angela@mauvaise-adresse.fr"},
    )
    walker.get(f"{BASE}/coordonnees")
    walker.post(f"{BASE}/coordonnees", {"mobile": ""})
    assert choose_credentials(walker).headers["Location"] == f"{BASE}/courriel-envoye"
    old_link = link_in(received(smtp_server, "angela@mauvaise-adresse.fr"))
    again = signup_app.test_client()
    start(again, portal)
    done = activate(Walker(again), smtp_server, count=2)
    assert done.headers["Location"].startswith(f"{BASE}/profil-active")
    assert account(signup_app, username=USERNAME).email == ANGELA_EMAIL
    assert browser.get(old_link).status_code == 410, "the old sign-up went with its account"
