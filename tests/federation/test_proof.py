"""The two proofs of a FranceConnect link (password, then a mailed link), and the NIR asked
after a FranceConnect sign-up for an Assurance Maladie portal."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select
from sqlalchemy import update

from idp.enrolment.models import AccountIdentifier
from idp.enrolment.services import add_identifier
from idp.enrolment.services import identifier_in_use
from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.models import Account
from idp.oidc.models import BrowserSession
from idp.registry.models import InsuredRecord
from idp.registry.services import import_csv
from idp.security.verification import Verification
from tests.factories import PASSWORD
from tests.factories import Factories
from tests.factories import Flow
from tests.federation.conftest import link_proof_path
from tests.federation.conftest import prove_by_mail
from tests.federation.conftest import query_of
from tests.federation.conftest import reason_of
from tests.federation.conftest import sign_up
from tests.federation.test_login import count
from tests.federation.test_login import events
from tests.federation.test_login import local_account

LOCAL_EMAIL = "angela.dubois@example.fr"
LINK_PAGE = "/federation/franceconnect/lier-mon-compte"
NIR_PAGE = "/federation/franceconnect/assurance-maladie"
# Angela DUBOIS, born 1962-08 in Paris 7e (FranceConnect's public test identity).
ANGELA_NIR = "2 62 08 75 107 001 96"
ANGELA_CARD = "0123456789 1"
INSURED = (
    "nir;card_serial;birth_family_name;usage_family_name;given_names;birthdate;postcode;"
    "email;mobile;parent_nir\n"
    "262087510700196;01234567891;Dubois;;Angéla Claire-Louise;1962-08-24;75007;;;\n"
)


def portal_login(platform, journey: str | None = None):
    """A portal's authorization request sent to the login page, then to FranceConnect."""
    portal = Factories(platform.idp).portal(journey=journey)
    browser = platform.browser()
    flow = Flow(browser.client, portal)
    next_url = query_of(flow.authorize().headers["Location"])["next"]
    browser.to_franceconnect(next_url)
    return browser, flow, next_url


def test_the_mailed_link_makes_the_link_and_returns_to_the_portal(fc):
    account_id = local_account(fc)
    browser, flow, next_url = portal_login(fc)
    browser.choose("angela")
    sent = browser.submit(LINK_PAGE, {"password": PASSWORD})
    assert sent.status_code == 302
    page = browser.follow()
    assert "Consultez votre boîte mail" in page.text and "a***@example.fr" in page.text
    assert browser.get(LINK_PAGE).status_code == 410  # the link now continues the round trip
    assert len(events(fc, "federation.link_password_proved")) == 1
    assert len(events(fc, "federation.link_email_sent")) == 1

    # Another browser (the mail app's): opening the link, even twice, links nothing.
    other = fc.browser()
    path = link_proof_path(fc, LOCAL_EMAIL)
    for _ in range(2):
        opened = other.get(path)
        assert opened.status_code == 200 and "DUBOIS" in opened.text
    assert count(fc, FederatedIdentity) == 0 and count(fc, BrowserSession) == 0

    linked = other.submit(path, {"decision": "link"})
    assert linked.status_code == 302 and linked.headers["Location"] == next_url
    back = other.follow()
    assert back.headers["Location"].startswith("https://portal.example/callback")
    with fc.idp.app_context():
        identity = db.session.scalar(select(FederatedIdentity))
        assert identity.account_id == account_id
        session_row = db.session.scalar(select(BrowserSession))
        assert session_row.account_id == account_id and "fc" in session_row.amr
    assert len(events(fc, "federation.link_email_confirmed")) == 1
    assert len(events(fc, "federation.linked")) == 1
    assert other.get(path).status_code == 409  # single use


def test_refusing_from_the_mail_keeps_the_accounts_apart(fc):
    local_account(fc)
    browser = fc.browser()
    browser.fc_login("angela")
    browser.submit(LINK_PAGE, {"password": PASSWORD})
    page = prove_by_mail(fc, browser, LOCAL_EMAIL, decision="refuse")
    assert reason_of(page) == "link_refused"
    assert count(fc, FederatedIdentity) == 0 and count(fc, BrowserSession) == 0
    assert events(fc, "federation.link_refused")[0].account_id is not None


def test_a_wrong_password_sends_no_link(fc):
    local_account(fc)
    browser = fc.browser()
    browser.fc_login("angela")
    assert browser.submit(LINK_PAGE, {"password": "nope"}).status_code == 200
    assert events(fc, "federation.link_email_sent") == []


def test_an_account_without_password_proves_by_the_link_alone(fc):
    account_id = local_account(fc)
    with fc.idp.app_context():
        db.session.get(Account, account_id).password_hash = None
        db.session.commit()
    browser = fc.browser()
    page = browser.fc_login("angela")
    assert 'name="password"' not in page.text and "Recevoir le lien de confirmation" in page.text
    assert browser.submit(LINK_PAGE, {}).status_code == 302
    assert events(fc, "federation.link_password_proved") == []
    linked = prove_by_mail(fc, browser, LOCAL_EMAIL)
    assert linked.status_code == 302
    with fc.idp.app_context():
        assert db.session.scalar(select(FederatedIdentity)).account_id == account_id


def test_an_account_without_email_cannot_be_linked(fc):
    account_id = local_account(fc)
    with fc.idp.app_context():
        db.session.get(Account, account_id).email = None
        db.session.commit()
    page = fc.browser().fc_login("angela")
    assert page.status_code == 409 and reason_of(page) == "link_unavailable"
    assert count(fc, FederatedIdentity) == 0


def test_an_expired_or_superseded_link_links_nothing(fc):
    local_account(fc)
    first = fc.browser()
    first.fc_login("angela")
    first.submit(LINK_PAGE, {"password": PASSWORD})
    old = link_proof_path(fc, LOCAL_EMAIL)
    second = fc.browser()
    second.fc_login("angela")
    second.submit(LINK_PAGE, {"password": PASSWORD})
    new = link_proof_path(fc, LOCAL_EMAIL)
    assert new != old
    assert first.get(old).status_code == 410
    assert first.submit(old, {"decision": "link"}).status_code == 410
    with fc.idp.app_context():
        db.session.execute(
            update(Verification).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(1))
        )
        db.session.commit()
    assert second.get(new).status_code == 410
    assert count(fc, FederatedIdentity) == 0


# --- The NIR after a sign-up ----------------------------------------------------------------


@pytest.fixture
def angela_insured(fc):
    with fc.idp.app_context():
        import_csv("insured", io.StringIO(INSURED))
        db.session.commit()


def nir_of(platform) -> list[AccountIdentifier]:
    with platform.idp.app_context():
        rows = list(
            db.session.scalars(select(AccountIdentifier).where(AccountIdentifier.kind == "nir"))
        )
        db.session.expunge_all()
        return rows


@pytest.mark.parametrize("journey", ["ameli", "mon-espace-sante"])
def test_an_assurance_maladie_portal_asks_the_nir_after_the_sign_up(fc, angela_insured, journey):
    browser, _flow, next_url = portal_login(fc, journey)
    browser.choose("angela")
    done = sign_up(browser)
    assert done.headers["Location"].startswith(NIR_PAGE)
    page = browser.follow()
    assert "Votre numéro de sécurité sociale" in page.text
    assert 'name="nir"' in page.text and 'name="card_serial"' in page.text

    location = done.headers["Location"]
    wrong = browser.submit(location, {"nir": ANGELA_NIR, "card_serial": "0123456789 2"})
    assert "ne correspondent pas à l&#39;identité transmise par FranceConnect" in wrong.text
    assert nir_of(fc) == [] and len(events(fc, "federation.nir_mismatch")) == 1

    ok = browser.submit(location, {"nir": ANGELA_NIR, "card_serial": ANGELA_CARD})
    assert ok.headers["Location"].startswith("/federation/franceconnect/compte-cree")
    created = browser.follow()
    assert "Votre compte est créé" in created.text and "w***@yopmail.com" in created.text
    assert f'href="{next_url}"'.replace("&", "&amp;") in created.text
    rows = nir_of(fc)
    assert len(rows) == 1 and rows[0].display is None
    with fc.idp.app_context():
        assert identifier_in_use("nir", "262087510700196")
    assert len(events(fc, "federation.nir_added")) == 1
    # Asked once: coming back goes straight on.
    assert browser.get(location).headers["Location"].startswith("/federation/franceconnect/compte")


def test_a_nir_whose_names_differ_from_franceconnect_is_a_mismatch(fc, angela_insured):
    with fc.idp.app_context():
        db.session.execute(update(InsuredRecord).values(birth_family_name="Dupont"))
        db.session.commit()
    browser, _flow, _next = portal_login(fc, "ameli")
    browser.choose("angela")
    location = sign_up(browser).headers["Location"]
    browser.follow()
    page = browser.submit(location, {"nir": ANGELA_NIR, "card_serial": ANGELA_CARD})
    assert "ne correspondent pas à l&#39;identité transmise par FranceConnect" in page.text
    assert nir_of(fc) == []


def test_a_nir_of_another_account_is_refused(fc, angela_insured):
    other = local_account(
        fc, email="someone@example.fr", given_name="Paul", birthdate=dt.date(1990, 1, 1)
    )
    with fc.idp.app_context():
        add_identifier(db.session.get(Account, other), "nir", "262087510700196", shown=False)
        db.session.commit()
    browser, _flow, _next = portal_login(fc, "ameli")
    browser.choose("angela")
    location = sign_up(browser).headers["Location"]
    browser.follow()
    page = browser.submit(location, {"nir": ANGELA_NIR, "card_serial": ANGELA_CARD})
    assert page.status_code == 200 and "déjà rattaché à un autre compte" in page.text
    assert [r.account_id for r in nir_of(fc)] == [other]
    assert len(events(fc, "federation.nir_taken")) == 1


def test_other_journeys_ask_nothing(fc):
    browser, _flow, _next = portal_login(fc, "citoyen")
    browser.choose("angela")
    assert sign_up(browser).headers["Location"].startswith("/federation/franceconnect/compte-cree")


def test_the_nir_page_needs_a_franceconnect_session(fc):
    assert fc.browser().get(NIR_PAGE).status_code == 410


@pytest.mark.parametrize(
    ("registered", "accepted"),
    [
        ("Angela", True),  # the registry holds only the first of FranceConnect's names
        ("ANGÉLA", True),  # compared once normalised (case, accents)
        ("Angela Claire Louise", True),
        ("Claire", False),  # another of her names is not her first one
        ("Angela Marie", False),
    ],
)
def test_the_registry_may_hold_only_the_first_given_name(fc, angela_insured, registered, accepted):
    with fc.idp.app_context():
        db.session.execute(update(InsuredRecord).values(given_names=registered))
        db.session.commit()
    browser, _flow, _next = portal_login(fc, "ameli")
    browser.choose("angela")
    location = sign_up(browser).headers["Location"]
    browser.follow()
    page = browser.submit(location, {"nir": ANGELA_NIR, "card_serial": ANGELA_CARD})
    if accepted:
        assert page.headers["Location"].startswith("/federation/franceconnect/compte-cree")
        assert len(nir_of(fc)) == 1
    else:
        assert "ne correspondent pas à l&#39;identité transmise par FranceConnect" in page.text
        assert nir_of(fc) == []
