"""FranceConnect login through the real pages: sign-up, linking with proof, linked login."""

from __future__ import annotations

import datetime as dt
import re

from joserfc import jwt
from sqlalchemy import func
from sqlalchemy import select

from idp.accounts import create_account
from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.federation.models import FederationFlow
from idp.models import Account
from idp.models import AuditEvent
from idp.oidc.models import BrowserSession
from tests.factories import PASSWORD
from tests.factories import Factories
from tests.factories import Flow
from tests.federation.conftest import ANGELA_EMAIL
from tests.federation.conftest import prove_by_mail
from tests.federation.conftest import query_of
from tests.federation.conftest import sign_up

LINK = re.compile(r"http://localhost(/federation/franceconnect/courriel/[A-Za-z0-9_\-]+)")


def count(platform, model) -> int:
    with platform.idp.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def events(platform, name: str) -> list[AuditEvent]:
    with platform.idp.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        return rows


def local_account(platform, email="angela.dubois@example.fr", **identity) -> int:
    identity = {
        "given_name": "Angéla",
        "family_name": "Dubois",
        "birthdate": dt.date(1962, 8, 24),
        **identity,
    }
    with platform.idp.app_context():
        account = create_account(email=email, password=PASSWORD, active=True, **identity)
        db.session.commit()
        return account.id


def test_login_page_shows_the_franceconnect_button_first(fc, client):
    browser = fc.browser()
    page = browser.get("/connexion?next=/authorize%3Fclient_id%3Dx")
    text = page.text
    assert 'class="fr-connect"' in text and "S'identifier avec" in text
    assert 'href="/federation/franceconnect/start?next=/authorize?client_id%3Dx"' in text, text
    assert text.index("fr-connect") < text.index("fr-hr-or") < text.index('name="password"')
    assert "https://franceconnect.gouv.fr/" in text
    # Without an upstream configured (the session app), no button.
    assert "fr-connect" not in client.get("/connexion").text


def test_authorization_request_carries_64_hex_state_and_nonce_and_acr(fc):
    browser = fc.browser()
    start = browser.get("/federation/franceconnect/start")
    query = query_of(start.headers["Location"])
    assert start.headers["Location"].startswith(fc.issuer + "/authorize?")
    assert re.fullmatch(r"[0-9a-f]{64}", query["state"])
    assert re.fullmatch(r"[0-9a-f]{64}", query["nonce"])
    assert query["state"] != query["nonce"]
    assert query["acr_values"] == "eidas1"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == fc.idp_url + "/federation/franceconnect/callback"
    assert "openid" in query["scope"].split() and "birthplace" in query["scope"].split()
    assert query["claims"] == '{"id_token":{"amr":{"essential":true}}}'
    with fc.idp.app_context():
        flow = db.session.scalar(select(FederationFlow))
        # Stored hashed, never in clear.
        assert flow.state_hash != query["state"] and len(flow.state_hash) == 64
        assert flow.acr_requested == "eidas1"


def test_first_login_creates_an_account_from_the_certified_identity(fc):
    browser = fc.browser()
    page = browser.fc_login("angela")
    assert page.status_code == 200
    assert "DUBOIS" in page.text and "Angela Claire Louise" in page.text
    assert f'value="{ANGELA_EMAIL}"' in page.text  # FranceConnect's email, as a suggestion
    done = sign_up(browser)
    assert done.status_code == 302
    assert done.headers["Location"].startswith("/federation/franceconnect/compte-cree")
    created = browser.follow()
    assert "Votre compte est créé" in created.text and "w***@yopmail.com" in created.text

    with fc.idp.app_context():
        account = db.session.scalar(select(Account))
        assert account.status == "active"
        assert (account.family_name, account.given_name) == ("DUBOIS", "Angela Claire Louise")
        assert account.birthdate == dt.date(1962, 8, 24) and account.gender == "female"
        assert account.email is None  # until the link is opened
        identity = db.session.scalar(select(FederatedIdentity))
        assert identity.account_id == account.id and identity.provider == "franceconnect"
        assert re.fullmatch(r"[0-9a-f]{64}v1", identity.subject)
        assert identity.acr == "eidas1"
        assert set(identity.certified_fields) == {
            "family_name",
            "given_name",
            "birthdate",
            "gender",
        }
        assert identity.claims["birthplace"] == "75107"
        assert identity.claims["birthcountry"] == "99100"
        session_row = db.session.scalar(select(BrowserSession))
        assert session_row.account_id == account.id
        assert "fc" in session_row.amr and session_row.acr == "eidas1"
        assert session_row.upstream_id_token
        flow = db.session.scalar(select(FederationFlow))
        assert flow.claims is None and flow.id_token is None  # wiped once used
    assert [e.details["provider"] for e in events(fc, "federation.account_created")] == [
        "franceconnect"
    ]

    mail = [m for m in fc.smtp.wait(1) if ANGELA_EMAIL in m.rcpt_tos][-1]
    path = LINK.search(mail.part("plain")).group(1)
    confirm = browser.get(path)
    assert confirm.status_code == 200 and ANGELA_EMAIL in confirm.text
    confirmed = browser.submit(path, {})
    assert "Votre adresse électronique est confirmée." in confirmed.text
    with fc.idp.app_context():
        account = db.session.scalar(select(Account))
        assert account.email == ANGELA_EMAIL and account.email_verified_at is not None
    assert browser.submit(path, {}).status_code == 409  # single use


def test_identity_without_email_asks_for_one(fc):
    browser = fc.browser()
    page = browser.fc_login("louise")
    assert page.status_code == 200 and "MOREAU" in page.text
    email_input = re.search(r'<input[^>]*name="email"[^>]*>', page.text).group(0)
    assert 'value="' not in email_input or 'value=""' in email_input
    refused = browser.submit(
        "/federation/franceconnect/creer-mon-compte", {"email": "", "email_confirm": ""}
    )
    assert refused.status_code == 200 and count(fc, Account) == 0
    assert sign_up(browser, "louise.moreau@example.fr").status_code == 302
    assert count(fc, Account) == 1


def test_unique_match_links_after_the_password_proves_ownership(fc):
    account_id = local_account(fc)
    browser = fc.browser()
    page = browser.fc_login("angela")
    assert page.status_code == 200 and "Un compte existe déjà à votre nom" in page.text
    assert "a***@example.fr" in page.text
    assert count(fc, FederatedIdentity) == 0

    wrong = browser.submit("/federation/franceconnect/lier-mon-compte", {"password": "nope"})
    assert wrong.status_code == 200 and "Mot de passe incorrect." in wrong.text
    assert count(fc, FederatedIdentity) == 0
    assert len(events(fc, "federation.link_failed")) == 1

    sent = browser.submit("/federation/franceconnect/lier-mon-compte", {"password": PASSWORD})
    assert sent.headers["Location"].startswith("/federation/franceconnect/lien-envoye")
    assert "a***@example.fr" in browser.follow().text
    assert count(fc, FederatedIdentity) == 0 and count(fc, BrowserSession) == 0  # not yet
    linked = prove_by_mail(fc, browser, "angela.dubois@example.fr")
    assert linked.status_code == 302 and linked.headers["Location"] == "/"
    with fc.idp.app_context():
        identity = db.session.scalar(select(FederatedIdentity))
        assert identity.account_id == account_id
        account = db.session.get(Account, account_id)
        # The certified identity replaces what was typed.
        assert (account.given_name, account.family_name) == ("Angela Claire Louise", "DUBOIS")
        assert account.email == "angela.dubois@example.fr"  # untouched
        assert db.session.scalar(select(func.count()).select_from(Account)) == 1
        session_row = db.session.scalar(select(BrowserSession))
        assert session_row.account_id == account_id and "fc" in session_row.amr
    assert len(events(fc, "federation.linked")) == 1


def test_refusing_the_link_keeps_the_accounts_apart(fc):
    account_id = local_account(fc)
    browser = fc.browser()
    browser.fc_login("angela")
    page = browser.submit("/federation/franceconnect/ne-pas-lier", {})
    assert page.status_code == 200 and "Vos comptes n'ont pas été reliés" in page.text
    assert 'href="/connexion"' in page.text
    assert count(fc, FederatedIdentity) == 0 and count(fc, Account) == 1
    assert count(fc, BrowserSession) == 0
    with fc.idp.app_context():
        assert db.session.get(Account, account_id).given_name == "Angéla"
    # The proof page is gone with the refusal.
    assert browser.get("/federation/franceconnect/lier-mon-compte").status_code == 410


def test_the_right_password_on_the_last_attempt_still_links(fc):
    local_account(fc)
    browser = fc.browser()
    browser.fc_login("angela")
    for _ in range(4):
        page = browser.submit("/federation/franceconnect/lier-mon-compte", {"password": "no"})
        assert page.status_code == 200
    page = browser.submit("/federation/franceconnect/lier-mon-compte", {"password": PASSWORD})
    assert page.status_code == 302
    prove_by_mail(fc, browser, "angela.dubois@example.fr")
    assert count(fc, FederatedIdentity) == 1


def test_fifth_wrong_password_locks_the_link(fc):
    local_account(fc)
    browser = fc.browser()
    browser.fc_login("angela")
    for _ in range(4):
        browser.submit("/federation/franceconnect/lier-mon-compte", {"password": "no"})
    page = browser.submit("/federation/franceconnect/lier-mon-compte", {"password": "no"})
    assert page.status_code == 429 and 'data-reason="proof_locked"' in page.text
    assert browser.get("/federation/franceconnect/lier-mon-compte").status_code == 410
    assert count(fc, FederatedIdentity) == 0


def test_ambiguous_match_is_refused_without_any_change(fc):
    local_account(fc, email="angela.1@example.fr")
    local_account(fc, email="angela.2@example.fr", given_name="Angela Claire Louise")
    browser = fc.browser()
    page = browser.fc_login("angela")
    assert page.status_code == 409 and 'data-reason="ambiguous"' in page.text
    assert "Plusieurs comptes correspondent à votre identité" in page.text
    assert count(fc, FederatedIdentity) == 0 and count(fc, Account) == 2
    assert count(fc, BrowserSession) == 0
    assert events(fc, "federation.match_ambiguous")[0].details["count"] == 2


def test_a_matching_email_alone_never_links(fc):
    # Same address as FranceConnect's, another person: no link offered, no takeover.
    other = local_account(
        fc,
        email=ANGELA_EMAIL,
        given_name="Paul",
        family_name="DUBOIS",
        birthdate=dt.date(1990, 1, 1),
    )
    browser = fc.browser()
    page = browser.fc_login("angela")
    assert "Créer mon compte avec FranceConnect" in page.text
    assert sign_up(browser).status_code == 302
    with fc.idp.app_context():
        identity = db.session.scalar(select(FederatedIdentity))
        assert identity.account_id != other
        created = db.session.get(Account, identity.account_id)
        assert created.email is None  # the address stays with its owner
    # The owner of the address gets a notice, not a link.
    notices = [m for m in fc.smtp.wait(1) if ANGELA_EMAIL in m.rcpt_tos]
    assert notices and "/federation/franceconnect/courriel/" not in notices[-1].part("plain")


def test_a_different_gender_is_no_match(fc):
    with fc.idp.app_context():
        account = db.session.get(Account, local_account(fc))
        account.civility = "monsieur"
        db.session.commit()
    browser = fc.browser()
    assert "Créer mon compte avec FranceConnect" in browser.fc_login("angela").text


def test_linked_identity_logs_in_to_a_portal_with_amr_fc_and_acr(fc):
    factories = Factories(fc.idp)
    portal = factories.portal()
    browser = fc.browser()
    browser.fc_login("pierre-paul")
    sign_up(browser, "pp.martin@example.fr")
    browser.client.delete_cookie("idp_session")

    flow = Flow(browser.client, portal)
    login = flow.authorize()
    assert login.headers["Location"].startswith("/connexion")
    next_url = query_of(login.headers["Location"])["next"]
    # The login page's button, then FranceConnect: already linked, straight back.
    browser.to_franceconnect(next_url)
    back = browser.choose("pierre-paul")
    assert back.headers["Location"].startswith("https://portal.example/callback")
    code = query_of(back.headers["Location"])["code"]
    tokens = flow.token(code).get_json()
    with fc.idp.app_context():
        keys = fc.idp.extensions["idp_keys"].verification_keyset()
    claims = jwt.decode(tokens["id_token"], keys).claims
    assert "fc" in claims["amr"] and "pwd" in claims["amr"]
    assert claims["acr"] == "eidas1"
    assert claims["given_name"] == "Pierre Paul" and claims["family_name"] == "MARTIN"
    assert len(events(fc, "federation.login")) == 1
    assert count(fc, Account) == 1


def test_linked_login_refreshes_the_certified_fields(fc):
    browser = fc.browser()
    browser.fc_login("marie-helene")
    sign_up(browser, "mh@example.fr")
    with fc.idp.app_context():
        account = db.session.scalar(select(Account))
        assert account.usage_name == "DURAND"
        account.family_name, account.given_name = "LEGRANDE", "Marie"
        db.session.commit()
    again = fc.browser()
    assert again.fc_login("marie-helene").status_code == 200  # home page, logged in
    assert count(fc, BrowserSession) == 2
    with fc.idp.app_context():
        account = db.session.scalar(select(Account))
        assert (account.family_name, account.given_name) == ("LEGRAND", "Marie-Hélène")
    refreshed = events(fc, "federation.login")[0].details["refreshed"]
    assert set(refreshed) == {"family_name", "given_name"}


def test_disabled_linked_account_is_refused(fc):
    browser = fc.browser()
    browser.fc_login("sofia")
    sign_up(browser, "sofia@example.fr")
    with fc.idp.app_context():
        db.session.scalar(select(Account)).status = "disabled"
        db.session.commit()
    page = fc.browser().fc_login("sofia")
    assert page.status_code == 403 and 'data-reason="unavailable"' in page.text


def test_unknown_kid_refetches_the_jwks_once(fc):
    browser = fc.browser()
    browser.fc_login("jean-baptiste")  # the JWKS is now cached
    fc.state.rotate_key()
    page = fc.browser().fc_login("jean-baptiste")
    assert page.status_code == 200 and "SANTONI" in page.text


def test_hard_identities_are_accepted(fc):
    for key, family in (("ali", "BENSAÏD"), ("camille", "PETIT"), ("lucas", "GARNIER")):
        page = fc.browser().fc_login(key)
        assert page.status_code == 200 and family in page.text, key
    page = fc.browser().fc_login("camille")
    assert "Non précisé" in page.text
    page = fc.browser().fc_login("sofia")
    assert "à l'étranger (pays INSEE 99127)" in page.text


def test_a_changed_sub_relinks_through_the_same_proof(fc):
    """A civil-status change gives a new `sub`: the password proof moves the link."""
    account_id = local_account(fc)
    browser = fc.browser()
    browser.fc_login("angela")
    browser.submit("/federation/franceconnect/lier-mon-compte", {"password": PASSWORD})
    prove_by_mail(fc, browser, "angela.dubois@example.fr")
    with fc.idp.app_context():
        identity = db.session.scalar(select(FederatedIdentity))
        new_sub = identity.subject
        identity.subject = "0" * 64 + "v1"  # the sub FranceConnect gave before the change
        db.session.commit()
    again = fc.browser()
    page = again.fc_login("angela")
    assert "Un compte existe déjà à votre nom" in page.text
    again.submit("/federation/franceconnect/lier-mon-compte", {"password": PASSWORD})
    prove_by_mail(fc, again, "angela.dubois@example.fr")
    with fc.idp.app_context():
        rows = list(db.session.scalars(select(FederatedIdentity)))
        assert [(r.account_id, r.subject) for r in rows] == [(account_id, new_sub)]
    assert len(events(fc, "federation.relinked")) == 1
