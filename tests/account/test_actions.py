"""Mon compte actions: password change, sessions, portal consents, opt-ins."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.enrolment.models import AccountConsent
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.oidc.models import BrowserSession
from idp.oidc.models import Consent
from tests.account.conftest import live_session_ids
from tests.account.conftest import login
from tests.account.conftest import post_form
from tests.factories import Flow
from tests.oidc.helpers import bearer

NEW_PASSWORD = "Another-Sturdy-Passphrase-93"
PASSWORD_PAGE = "/mon-compte/mot-de-passe"


def refresh(client, flow, tokens):
    return client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=flow.auth(),
    )


def change_password(client, current, new=NEW_PASSWORD, confirm=None):
    return post_form(
        client,
        PASSWORD_PAGE,
        {
            "current_password": current,
            "password": new,
            "password_confirm": confirm if confirm is not None else new,
        },
        page_url=PASSWORD_PAGE,
    )


def events(app, account_id, name):
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent).where(AuditEvent.account_id == account_id, AuditEvent.event == name)
        ).all()


@pytest.fixture
def mail_app(make_app, smtp_server):  # noqa: F811
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)


def test_password_page_shows_the_policy_checklist(browser):
    page = browser.get(PASSWORD_PAGE)
    assert page.status_code == 200
    assert 'autocomplete="current-password"' in page.text
    assert "data-password-policy" in page.text and "Votre mot de passe doit contenir" in page.text


def test_password_change_ends_other_sessions_revokes_their_tokens_and_mails(
    mail_app, smtp_server, factories
):
    person = factories.account()
    portal = factories.portal()
    me = login(mail_app.test_client(), person)
    other = mail_app.test_client()
    flow = Flow(other, portal)
    tokens = flow.tokens(person)  # logs the other browser in, and a portal gets tokens

    response = change_password(me, person.password)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/mon-compte")
    assert "Votre mot de passe a été modifié" in me.get("/mon-compte").text

    assert other.get("/mon-compte").status_code == 302  # the other browser is logged out
    assert refresh(other, flow, tokens).get_json()["error"] == "invalid_grant"
    assert other.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    assert me.get("/mon-compte").status_code == 200  # this browser stays logged in

    [mail] = smtp_server.wait(1)
    assert mail.rcpt_tos == [person.email]
    assert mail.message["Subject"] == "Votre mot de passe a été modifié"
    assert "http://localhost/mon-compte" in mail.part("plain")
    assert "http://localhost/mon-compte" in mail.part("html")
    [event] = events(mail_app, person.id, "account.password_changed")
    assert event.details["sessions_ended"] == 1
    assert NEW_PASSWORD not in str(event.details)
    login(mail_app.test_client(), person, NEW_PASSWORD)


def test_wrong_current_password_is_refused(app, browser, person):
    with app.app_context():
        before = db.session.get(Account, person.id).password_hash
    page = change_password(browser, "Not-the-password-1")
    assert page.status_code == 200
    assert "Le mot de passe actuel est incorrect." in page.text
    with app.app_context():
        assert db.session.get(Account, person.id).password_hash == before
    assert events(app, person.id, "account.password_change_refused")


def test_new_password_must_follow_the_policy_and_match(app, browser, person):
    with app.app_context():
        before = db.session.get(Account, person.id).password_hash
    assert (
        "Le formulaire contient des erreurs" in change_password(browser, person.password, "a").text
    )
    mismatch = change_password(browser, person.password, confirm=NEW_PASSWORD + "x")
    assert "Les deux mots de passe ne sont pas identiques." in mismatch.text
    with app.app_context():
        assert db.session.get(Account, person.id).password_hash == before


def test_one_other_session_can_be_ended(app, client, person, factories):
    portal = factories.portal()
    me = login(client, person)
    other = app.test_client()
    flow = Flow(other, portal)
    tokens = flow.tokens(person)
    mine, theirs = live_session_ids(app, person.id)
    page = me.get("/mon-compte").text
    assert f'action="/mon-compte/sessions/{theirs}/fin"' in page
    response = post_form(me, f"/mon-compte/sessions/{theirs}/fin")
    assert response.status_code == 302
    assert live_session_ids(app, person.id) == [mine]
    assert other.get("/mon-compte").status_code == 302
    assert refresh(other, flow, tokens).get_json()["error"] == "invalid_grant"
    assert events(app, person.id, "session.ended")


def test_ending_this_session_logs_out(app, browser, person):
    [mine] = live_session_ids(app, person.id)
    response = post_form(browser, f"/mon-compte/sessions/{mine}/fin")
    assert response.status_code == 302
    assert browser.get("/mon-compte").status_code == 302


def test_all_other_sessions_can_be_ended(app, client, person):
    me = login(client, person)
    others = [login(app.test_client(), person) for _ in range(2)]
    assert len(live_session_ids(app, person.id)) == 3
    response = post_form(me, "/mon-compte/sessions/autres/fin")
    assert response.status_code == 302
    assert len(live_session_ids(app, person.id)) == 1
    assert all(o.get("/mon-compte").status_code == 302 for o in others)
    assert me.get("/mon-compte").status_code == 200


def test_another_accounts_session_cannot_be_ended(app, browser, person, factories):
    stranger = factories.account(email="pierre.curie@example.fr")
    login(app.test_client(), stranger)
    [theirs] = live_session_ids(app, stranger.id)
    response = post_form(browser, f"/mon-compte/sessions/{theirs}/fin")
    assert response.status_code == 404
    assert live_session_ids(app, stranger.id) == [theirs]
    with app.app_context():
        assert db.session.get(BrowserSession, theirs).ended_at is None


def test_portal_consent_can_be_withdrawn(app, client, person, factories):
    portal = factories.portal(name="Portail des remboursements")
    flow = Flow(client, portal)
    tokens = flow.tokens(person)
    with app.app_context():
        consent = Consent(account_id=person.id, client_id=portal.client_id, scope="openid email")
        db.session.add(consent)
        db.session.commit()
        consent_id = consent.id
    page = client.get("/mon-compte").text
    assert "Portail des remboursements" in page and "Votre adresse électronique" in page
    response = post_form(client, f"/mon-compte/portails/{consent_id}/retrait")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Consent, consent_id) is None
    assert refresh(client, flow, tokens).get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    assert events(app, person.id, "consent.revoked")[0].client_id == portal.client_id
    assert "Vous n'avez autorisé aucun portail." in client.get("/mon-compte").text


def test_another_accounts_consent_cannot_be_withdrawn(app, browser, factories):
    stranger = factories.account(email="pierre.curie@example.fr")
    with app.app_context():
        consent = Consent(account_id=stranger.id, client_id="someone", scope="openid")
        db.session.add(consent)
        db.session.commit()
        consent_id = consent.id
    assert post_form(browser, f"/mon-compte/portails/{consent_id}/retrait").status_code == 404
    with app.app_context():
        assert db.session.get(Consent, consent_id) is not None


def test_opt_in_changes_are_recorded_with_their_time(app, browser, person):
    assert (
        post_form(browser, "/mon-compte/preferences", {"marketing_email": "y"}).status_code == 302
    )
    page = browser.get("/mon-compte").text
    assert '<input checked id="marketing_email"' in page
    assert '<input id="marketing_sms"' in page
    post_form(browser, "/mon-compte/preferences", {"marketing_sms": "y"})
    with app.app_context():
        rows = db.session.scalars(
            select(AccountConsent)
            .where(AccountConsent.account_id == person.id)
            .order_by(AccountConsent.id)
        ).all()
        assert [(r.kind, r.granted) for r in rows] == [
            ("marketing_email", True),
            ("marketing_email", False),
            ("marketing_sms", True),
        ]
        assert all(r.at is not None for r in rows)
    post_form(browser, "/mon-compte/preferences", {"marketing_sms": "y"})  # nothing changed
    with app.app_context():
        count = len(
            db.session.scalars(
                select(AccountConsent).where(AccountConsent.account_id == person.id)
            ).all()
        )
    assert count == 3
    assert len(events(app, person.id, "account.preferences_changed")) == 2
