"""Mon compte's FranceConnect section: link the logged-in account, unlink it (only when a
password remains), and the refusals (identity of another account, forged answers)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from idp.auth import session as sso
from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.models import Account
from idp.models import AuditEvent
from tests.account.conftest import login
from tests.factories import Factories
from tests.federation.conftest import passed_second_factor
from tests.federation.conftest import sign_up

START = "/federation/franceconnect/relier-mon-compte"
UNLINK = "/mon-compte/franceconnect/delier"
# An account holding FranceConnect's public test identity (typed differently), and one
# that states no identity at all (linking fills it in).
ANGELA = {"given_name": "Angela", "family_name": "Dubois", "birthdate": dt.date(1962, 8, 24)}
BLANK = {"given_name": None, "family_name": None}


def logged_in(platform, **kw):
    """A browser logged in with a password to a fresh account (not linked)."""
    person = Factories(platform.idp).account(**kw)
    browser = platform.browser()
    login(browser.client, person)
    passed_second_factor(platform, person)  # linking adds a way in: it needs two factors
    page = browser.get("/mon-compte")
    assert page.status_code == 200
    return browser, person


def identities(platform) -> list[tuple[int, str]]:
    with platform.idp.app_context():
        return [
            (row.account_id, row.provider) for row in db.session.scalars(select(FederatedIdentity))
        ]


def events(platform, name: str) -> list[AuditEvent]:
    with platform.idp.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()
        db.session.expunge_all()
        return rows


def link_from_mon_compte(browser, identity: str):
    """Mon compte's button → the stand-in → pick `identity` → back on Mon compte."""
    start = browser.submit(START, {})
    assert start.status_code == 302, start.text[:300]
    page = browser.follow()
    assert "Je choisis une identité de test" in page.text
    page = browser.choose(identity)
    assert browser.client.get("/mon-compte").status_code == 200
    return page


def test_linking_from_mon_compte_asks_a_second_factor_first(fc):
    # A stolen password (or session) must not add a lasting way in.
    person = Factories(fc.idp).account(**ANGELA)
    browser = fc.browser()
    login(browser.client, person)
    browser.get("/mon-compte")
    started = browser.submit(START, {})
    assert started.status_code == 302
    assert started.headers["Location"].startswith("/connexion/verification?next=")
    assert "mon-compte" in started.headers["Location"]
    assert [e for e in events(fc, "federation.started") if e.account_id == person.id] == []
    assert [i for i in identities(fc) if i[0] == person.id] == []


def test_linking_from_mon_compte_links_the_logged_in_account(fc):
    browser, person = logged_in(fc, **ANGELA)
    page = browser.page
    assert 'id="franceconnect"' in page.text
    assert "Relier mon compte à FranceConnect" in page.text
    assert "Délier FranceConnect" not in page.text

    page = link_from_mon_compte(browser, "angela")
    assert page.status_code == 200 and "<h1>Mon compte</h1>" in page.text
    assert "Votre compte est maintenant relié à FranceConnect." in page.text
    assert "Votre compte est relié à FranceConnect depuis le" in page.text
    assert "Angela Claire Louise DUBOIS" in page.text
    assert "Délier FranceConnect" in page.text
    assert "Relier mon compte à FranceConnect" not in page.text
    assert identities(fc) == [(person.id, "franceconnect")]
    with fc.idp.app_context():
        [row] = db.session.scalars(select(FederatedIdentity)).all()
        assert row.upstream == "franceconnect"
        account = db.session.get(Account, person.id)
        # The certified identity refreshed what was typed (same person); the email stays.
        assert (account.given_name, account.family_name) == ("Angela Claire Louise", "DUBOIS")
        assert account.email == person.email
    assert [e.account_id for e in events(fc, "federation.linked")] == [person.id]
    started = events(fc, "federation.started")
    assert started[0].details["purpose"] == "link"

    # The person stays logged in, and FranceConnect now logs in to this account.
    other = fc.browser()
    page = other.fc_login("angela")
    assert page.status_code == 200 and "Créer mon compte avec FranceConnect" not in page.text
    assert [e.account_id for e in events(fc, "federation.login")] == [person.id]


def test_an_identity_linked_to_another_account_is_not_linked_again(fc):
    first = fc.browser()
    first.fc_login("angela")
    sign_up(first)
    [(owner, _)] = identities(fc)
    browser, person = logged_in(fc)
    page = link_from_mon_compte(browser, "angela")
    assert "Cette identité FranceConnect est déjà reliée à un autre compte" in page.text
    assert "Relier mon compte à FranceConnect" in page.text
    assert identities(fc) == [(owner, "franceconnect")]
    with fc.idp.app_context():
        assert db.session.get(Account, person.id).given_name == "Marie"
    assert [e.account_id for e in events(fc, "federation.link_conflict")] == [person.id]
    assert events(fc, "federation.linked") == []


def test_another_identity_is_never_linked_from_mon_compte(fc):
    """Marie CURIE's account, Angela DUBOIS at FranceConnect (a relative's FranceConnect on a
    shared computer): refused with the differences shown, the account left as it was."""
    browser, person = logged_in(fc)
    page = link_from_mon_compte(browser, "angela")
    assert page.status_code == 409
    assert "Votre compte n'a pas été relié" in page.text
    assert 'data-reason="link_mismatch"' in page.text
    assert 'data-field="family_name"' in page.text and 'data-field="given_name"' in page.text
    assert 'data-field="birthdate"' not in page.text  # the account states none
    assert "CURIE" in page.text and "DUBOIS" in page.text
    assert "corrigez-les dans Mon compte" in page.text
    assert identities(fc) == []
    with fc.idp.app_context():
        account = db.session.get(Account, person.id)
        assert (account.given_name, account.family_name) == ("Marie", "CURIE")
        assert account.birthdate is None
    [event] = events(fc, "federation.link_mismatch")
    assert event.account_id == person.id
    assert event.details["fields"] == ["family_name", "given_name"]
    assert events(fc, "federation.linked") == []
    page = browser.get("/mon-compte")
    assert "Relier mon compte à FranceConnect" in page.text


def test_a_different_birthdate_alone_is_a_mismatch(fc):
    browser, person = logged_in(fc, **{**ANGELA, "birthdate": dt.date(1962, 8, 25)})
    page = link_from_mon_compte(browser, "angela")
    assert page.status_code == 409 and 'data-field="birthdate"' in page.text
    assert "24/08/1962" in page.text and "25/08/1962" in page.text
    assert 'data-field="family_name"' not in page.text
    assert identities(fc) == []


def test_a_forged_answer_while_linking_changes_nothing(fc):
    browser, person = logged_in(fc)
    page = link_from_mon_compte(browser, "erreur-bad-signature")
    assert "La réponse de FranceConnect n&#39;a pas pu être vérifiée" in page.text
    assert identities(fc) == []
    [failed] = events(fc, "federation.failed")
    assert failed.account_id == person.id
    assert (failed.details["reason"], failed.details["purpose"]) == ("bad_signature", "link")


def test_cancelling_at_franceconnect_while_linking(fc):
    browser, _ = logged_in(fc)
    browser.submit(START, {})
    browser.follow()
    page = browser.cancel()
    assert "La liaison avec FranceConnect a été annulée." in page.text
    assert identities(fc) == []


def test_logged_out_meanwhile_nothing_is_linked(fc):
    browser, person = logged_in(fc)
    browser.submit(START, {})
    browser.follow()
    callback = browser.callback_url("angela")
    browser.client.delete_cookie(sso.COOKIE)  # logged out (the Flask session stays)
    page = browser.get(callback)
    assert page.status_code == 410
    assert identities(fc) == []
    assert events(fc, "federation.failed")[0].details["reason"] == "session_changed"


def test_linking_needs_a_session_and_the_csrf_token(fc):
    anonymous = fc.browser()
    anonymous.get("/connexion")
    response = anonymous.submit(START, {})
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    browser, _ = logged_in(fc)
    assert browser.client.post(START, data={}).status_code == 400
    assert browser.client.get(START).status_code == 405


def test_unlinking_with_a_password(fc):
    browser, person = logged_in(fc, **BLANK)
    link_from_mon_compte(browser, "sofia")
    page = browser.submit(UNLINK, {})
    assert page.status_code == 302 and page.headers["Location"].endswith("#franceconnect")
    page = browser.get("/mon-compte")
    assert "FranceConnect n&#39;est plus relié à votre compte." in page.text
    assert "Relier mon compte à FranceConnect" in page.text
    assert identities(fc) == []
    assert [e.account_id for e in events(fc, "federation.unlinked")] == [person.id]
    # The password still logs in.
    login(fc.browser().client, person)


def test_unlinking_is_refused_without_a_password(fc):
    browser = fc.browser()
    browser.fc_login("louise")
    sign_up(browser, "louise@example.fr")
    page = browser.get("/mon-compte")
    assert "Vous ne pouvez pas délier FranceConnect" in page.text
    assert "Délier FranceConnect</button>" not in page.text
    [(owner, _)] = identities(fc)
    page = browser.submit(UNLINK, {})
    assert page.status_code == 302
    page = browser.get("/mon-compte")
    assert "FranceConnect n&#39;a pas été délié" in page.text
    assert identities(fc) == [(owner, "franceconnect")]
    assert events(fc, "federation.unlinked") == []
    assert [e.account_id for e in events(fc, "federation.unlink_refused")] == [owner]


def test_unlinking_needs_the_csrf_token(fc):
    browser, _ = logged_in(fc, **BLANK)
    link_from_mon_compte(browser, "camille")
    assert browser.client.post(UNLINK, data={}).status_code == 400
    assert len(identities(fc)) == 1


def test_no_franceconnect_section_without_franceconnect(client, factories):
    login(client, factories.account())
    page = client.get("/mon-compte")
    assert page.status_code == 200 and 'id="franceconnect"' not in page.text
