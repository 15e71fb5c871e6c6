"""Helpdesk actions on people: search, activation, unlock, disable, reset, sessions, answer."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from idp.enrolment.models import Enrolment
from idp.enrolment.services import add_identifier
from idp.enrolment.services import hash_answer
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.security import tokens
from tests.admin.conftest import make_operator
from tests.admin.conftest import open_browser_session
from tests.admin.conftest import post_form
from tests.factories import csrf_of

NIR = "185057800608491"
INE = "070005519AB"


@pytest.fixture
def mail_app(make_app, smtp_server):
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)


@pytest.fixture
def agent(mail_app, factories):
    return make_operator(mail_app, factories, "agent@ars.example.fr", roles=("helpdesk",))


def update(app, account_id, answer=None, **values):
    with app.app_context():
        if answer is not None:
            values["secret_answer_hash"] = hash_answer(answer)
        account = db.session.get(Account, account_id)
        for key, value in values.items():
            setattr(account, key, value)
        db.session.commit()


def reload(app, account_id) -> Account:
    with app.app_context():
        account = db.session.get(Account, account_id)
        db.session.expunge(account)
        return account


def events(app, name, account_id=None):
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.event == name)
        if account_id is not None:
            query = query.where(AuditEvent.account_id == account_id)
        return db.session.scalars(query.order_by(AuditEvent.id)).all()


@pytest.fixture
def people(app, factories):
    marie = factories.account(email="marie.curie@example.fr", username="mcurie")
    pierre = factories.account(email="pierre@example.fr", given_name="Pierre", family_name="CURIE")
    irene = factories.account(email="irene@example.fr", given_name="Irène", family_name="JOLIOT")
    with app.app_context():
        add_identifier(db.session.get(Account, pierre.id), "nir", NIR, shown=False)
        add_identifier(db.session.get(Account, irene.id), "ine", INE)
        db.session.commit()
    return marie, pierre, irene


def shown(browser, response) -> str:
    """The text of the page a POST redirected to, entities decoded."""
    import html

    assert response.status_code == 302, response.status_code
    return html.unescape(browser.get(response.headers["Location"]).text)


def found_ids(response):
    import re

    return {int(i) for i in re.findall(r'href="/admin/personnes/(\d+)"', response.text)}


def test_search_by_name_email_username_and_identifiers(helpdesk, people):
    marie, pierre, irene = people
    assert found_ids(helpdesk.get("/admin/personnes?q=curie")) == {marie.id, pierre.id}
    assert found_ids(helpdesk.get("/admin/personnes?q=Pierre Curie")) == {pierre.id}
    assert found_ids(helpdesk.get("/admin/personnes?q=irene@example")) == {irene.id}
    assert found_ids(helpdesk.get("/admin/personnes?q=mcurie")) == {marie.id}
    assert found_ids(helpdesk.get(f"/admin/personnes?q={INE}")) == {irene.id}
    assert found_ids(helpdesk.get("/admin/personnes?q=1 85 05 78 006 084 91")) == {pierre.id}


def test_a_nir_is_found_by_its_exact_value_only(helpdesk, people):
    for partial in (NIR[:13], NIR[:-1] + "0", "1850578"):
        response = helpdesk.get(f"/admin/personnes?q={partial}")
        assert response.status_code == 200
        assert found_ids(response) == set(), partial
        assert "Aucune personne" in response.text


def test_search_wildcards_are_literal(helpdesk, people):
    assert found_ids(helpdesk.get("/admin/personnes?q=%25%25")) == set()
    assert found_ids(helpdesk.get("/admin/personnes?q=__")) == set()


def test_the_person_page_shows_status_identifiers_and_history(app, helpdesk, people):
    marie, pierre, irene = people
    page = helpdesk.get(f"/admin/personnes/{irene.id}")
    assert page.status_code == 200
    assert "Irène JOLIOT" in page.text and INE in page.text
    assert 'data-status="active"' in page.text
    page = helpdesk.get(f"/admin/personnes/{pierre.id}")
    assert "Numéro de sécurité sociale" in page.text and NIR not in page.text
    assert helpdesk.get("/admin/personnes/999999").status_code == 404


def test_resend_activation_mails_a_new_link(mail_app, agent, factories, smtp_server):
    person = factories.account(email="lent@example.fr", active=False)
    with mail_app.app_context():
        db.session.add(
            Enrolment(
                token_hash=tokens.sha256("x"),
                journey="ars-interne",
                step="email",
                status="awaiting_activation",
                account_id=person.id,
                data={"email": "lent@example.fr"},
                expires_at=utcnow() + dt.timedelta(days=7),
            )
        )
        db.session.commit()
    response = post_form(agent, f"/admin/personnes/{person.id}/activation")
    assert response.status_code == 302
    assert "Un nouveau lien d'activation a été envoyé à lent@example.fr" in shown(agent, response)
    mail = smtp_server.wait(1)[0]
    assert mail.rcpt_tos == ["lent@example.fr"]
    assert "/activation/" in mail.part("plain")
    [event] = events(mail_app, "admin.activation_resent", person.id)
    assert event.details["actor_id"] == agent.person.id


def test_resend_activation_is_refused_for_an_active_account(agent, factories, smtp_server):
    person = factories.account(email="actif@example.fr")
    response = post_form(agent, f"/admin/personnes/{person.id}/activation")
    assert "n'attend pas d'activation" in shown(agent, response)
    assert smtp_server.messages == []


def test_unlock_lifts_a_login_lock(app, helpdesk, factories):
    from idp.auth import lockout

    person = factories.account(email="bloque@example.fr")
    with app.app_context():
        now = utcnow()
        db.session.add(
            lockout.LoginThrottle(
                key_hash=lockout.key_of(person.email),
                account_id=person.id,
                failures=10,
                first_failure_at=now,
                last_failure_at=now,
                locked_until=now + dt.timedelta(hours=1),
            )
        )
        db.session.commit()
        assert lockout.is_locked(db.session.get(Account, person.id))
    response = post_form(helpdesk, f"/admin/personnes/{person.id}/deverrouiller")
    assert "Le compte est déverrouillé" in shown(helpdesk, response)
    with app.app_context():
        assert not lockout.is_locked(db.session.get(Account, person.id))
    assert events(app, "admin.unlocked", person.id)


def test_disable_ends_sessions_and_enable_restores(app, helpdesk, factories):
    person = factories.account(email="cible@example.fr")
    victim = open_browser_session(app, app.test_client(), person.id, acr="eidas1", amr=("pwd",))
    assert victim.get("/mon-compte").status_code == 200
    response = post_form(helpdesk, f"/admin/personnes/{person.id}/desactiver")
    assert "Le compte est désactivé" in shown(helpdesk, response)
    assert reload(app, person.id).status == "disabled"
    assert victim.get("/mon-compte").status_code == 302  # logged out
    login = factories  # the person cannot log in any more
    page = app.test_client()
    from tests.factories import csrf_of

    form = page.get("/connexion")
    refused = page.post(
        "/connexion",
        data={
            "identifier": person.email,
            "password": person.password,
            "csrf_token": csrf_of(form.text),
        },
    )
    assert refused.status_code != 302
    del login
    post_form(helpdesk, f"/admin/personnes/{person.id}/reactiver")
    assert reload(app, person.id).status == "active"
    assert events(app, "admin.account_disabled", person.id)
    assert events(app, "admin.account_enabled", person.id)


def test_force_password_reset_mails_a_link_and_ends_sessions(
    mail_app, agent, factories, smtp_server
):
    person = factories.account(email="reset@example.fr")
    victim = open_browser_session(
        mail_app, mail_app.test_client(), person.id, acr="eidas1", amr=("pwd",)
    )
    response = post_form(agent, f"/admin/personnes/{person.id}/reinitialiser-mot-de-passe")
    assert (
        "Le mot de passe est désactivé ; un lien de réinitialisation a été envoyé par courriel."
        in shown(agent, response)
    )
    assert reload(mail_app, person.id).password_hash is None
    assert victim.get("/mon-compte").status_code == 302
    mail = smtp_server.wait(1)[0]
    assert mail.rcpt_tos == ["reset@example.fr"]
    [link] = [w for w in mail.part("plain").split() if "/mot-de-passe-oublie/lien/" in w]
    page = mail_app.test_client().get(link.replace("http://localhost", ""))
    assert page.status_code == 200
    assert "mot de passe" in page.text
    assert events(mail_app, "admin.password_reset_forced", person.id)


def test_revoke_sessions_logs_the_person_out_everywhere(app, helpdesk, factories):
    person = factories.account(email="sessions@example.fr")
    first = open_browser_session(app, app.test_client(), person.id, acr="eidas1", amr=("pwd",))
    second = open_browser_session(app, app.test_client(), person.id, acr="eidas1", amr=("pwd",))
    response = post_form(helpdesk, f"/admin/personnes/{person.id}/sessions")
    assert "2 sessions terminées." in shown(helpdesk, response)
    assert first.get("/mon-compte").status_code == 302
    assert second.get("/mon-compte").status_code == 302
    [event] = events(app, "admin.sessions_revoked", person.id)
    assert event.details["sessions_ended"] == 2


def test_force_password_reset_without_an_email_says_what_the_person_will_do(
    mail_app, agent, factories, smtp_server
):
    person = factories.account(email="sans-adresse@example.fr")
    update(mail_app, person.id, email=None)
    response = post_form(agent, f"/admin/personnes/{person.id}/reinitialiser-mot-de-passe")
    assert (
        "Le mot de passe est désactivé ; aucune adresse électronique : "
        "la personne passera par « mot de passe oublié »." in shown(agent, response)
    )
    assert smtp_server.messages == []


def test_one_ended_session_is_told_in_the_singular(app, helpdesk, factories):
    person = factories.account(email="une-session@example.fr")
    open_browser_session(app, app.test_client(), person.id, acr="eidas1", amr=("pwd",))
    response = post_form(helpdesk, f"/admin/personnes/{person.id}/sessions")
    assert "1 session terminée." in shown(helpdesk, response)


def test_action_messages_are_whole_english_sentences(mail_app, agent, factories, smtp_server):
    agent.get("/admin/personnes?ui_locales=en")
    person = factories.account(email="english@example.fr")
    open_browser_session(mail_app, mail_app.test_client(), person.id, acr="eidas1", amr=("pwd",))
    response = post_form(agent, f"/admin/personnes/{person.id}/sessions")
    assert "1 session ended." in shown(agent, response)
    response = post_form(agent, f"/admin/personnes/{person.id}/reinitialiser-mot-de-passe")
    assert "The password has been disabled and a reset link has been sent by email." in shown(
        agent, response
    )
    update(mail_app, person.id, email=None)
    response = post_form(agent, f"/admin/personnes/{person.id}/reinitialiser-mot-de-passe")
    text = shown(agent, response)
    assert "The password has been disabled. The person has no email address" in text


def test_secret_answer_check_right_and_wrong_never_shows_the_answer(app, helpdesk, factories):
    person = factories.account(email="interne@example.fr")
    update(app, person.id, secret_question="animal", answer="Médor le Chien")
    page = helpdesk.get(f"/admin/personnes/{person.id}")
    assert "Quel était le nom de votre premier animal de compagnie ?" in page.text
    url = f"/admin/personnes/{person.id}/reponse-secrete"
    right = post_form(helpdesk, url, {"answer": "  medor LE chien "})
    text = shown(helpdesk, right)
    assert "La réponse est correcte." in text
    assert "medor" not in text.lower() and "médor" not in text.lower()
    wrong = post_form(helpdesk, url, {"answer": "Rex"})
    text = shown(helpdesk, wrong)
    assert "La réponse ne correspond pas." in text
    assert "Rex" not in text and "médor" not in text.lower()
    results = [e.details["result"] for e in events(app, "admin.secret_answer_checked", person.id)]
    assert sorted(results) == ["right", "wrong"]
    with app.app_context():
        stored = db.session.scalars(select(AuditEvent.details)).all()
        assert not any("Rex" in str(d) or "medor" in str(d).lower() for d in stored)


def test_secret_answer_attempts_are_limited(app, helpdesk, factories):
    person = factories.account(email="interne@example.fr")
    update(app, person.id, secret_question="ville", answer="Lyon")
    url = f"/admin/personnes/{person.id}/reponse-secrete"
    for _ in range(5):
        post_form(helpdesk, url, {"answer": "Paris"})
    refused = post_form(helpdesk, url, {"answer": "Lyon"})
    text = shown(helpdesk, refused)
    assert "Trop de réponses fausses" in text
    assert "La réponse est correcte." not in text


def test_secret_answer_without_a_question_is_explained(helpdesk, factories):
    person = factories.account(email="sansquestion@example.fr")
    page = helpdesk.get(f"/admin/personnes/{person.id}")
    assert "n'a pas enregistré de question secrète" in page.text
    response = post_form(helpdesk, f"/admin/personnes/{person.id}/reponse-secrete", {"answer": "x"})
    assert "n'a pas enregistré de question secrète" in shown(helpdesk, response)


def test_the_search_form_posts_so_a_nir_never_lands_in_a_url(helpdesk, people):
    _marie, pierre, _irene = people
    page = helpdesk.get("/admin/personnes")
    assert 'method="post"' in page.text and 'name="csrf_token"' in page.text
    assert helpdesk.post("/admin/personnes", data={"q": "curie"}).status_code == 400  # no CSRF
    found = helpdesk.post(
        "/admin/personnes", data={"q": "1 85 05 78 006 084 91", "csrf_token": csrf_of(page.text)}
    )
    assert found_ids(found) == {pierre.id}
