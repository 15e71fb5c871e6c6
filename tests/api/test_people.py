"""People through the admin API: search, status and history, actions, reviews, answers."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from idp.auth import lockout
from idp.enrolment.models import Enrolment
from idp.enrolment.services import hash_answer
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.security import audit
from tests.api.conftest import Api
from tests.api.conftest import issue_token
from tests.factories import Flow
from tests.smtp import smtp_server  # noqa: F401

PRIVATE = ("password_hash", "secret_answer_hash", "secret_answer", "nir", "id")


def update_account(app, sub, answer=None, **values):
    with app.app_context():
        if answer is not None:
            values["secret_answer_hash"] = hash_answer(answer)
        account = db.session.scalar(select(Account).where(Account.sub == sub))
        for name, value in values.items():
            setattr(account, name, value)
        db.session.commit()


def account_of(app, sub) -> Account:
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.sub == sub))
        db.session.expunge(account)
        return account


def events_of(app, name):
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)
            )
        )


@pytest.fixture
def mail_app(make_app, smtp_server):  # noqa: F811
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)


@pytest.fixture
def mail_api(mail_app, admin):
    client = mail_app.test_client()
    return Api(client, issue_token(client, admin))


def test_search_finds_people_by_name_or_email_and_shows_no_secret(api, factories):
    marie = factories.account()
    factories.account(email="pierre@example.fr", given_name="Pierre", family_name="MARTIN")
    by_name = api.get("/users?q=curie").get_json()["items"]
    assert [p["sub"] for p in by_name] == [marie.sub]
    (found,) = api.get("/users?q=marie.curie@").get_json()["items"]
    assert found["sub"] == marie.sub
    assert found["status"] == "active"
    assert not set(PRIVATE) & set(found)
    assert api.get("/users?q=m").get_json()["items"] == []  # 2 characters at least
    assert len(api.get("/users?q=example.fr&limit=1").get_json()["items"]) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit : entre 1 et 200."),
        ("limit=abc", "limit : un entier est attendu."),
        ("q=" + "x" * 201, "q : 200 caractères au plus."),
        ("q=a%00b", "q : caractère nul refusé."),
    ],
)
def test_invalid_searches_are_refused(api, query, message):
    response = api.get(f"/users?{query}")
    assert response.status_code == 400
    assert response.get_json()["error_description"] == message


def test_a_person_shows_status_and_history_but_no_secret(app, api, factories):
    marie = factories.account()
    update_account(app, marie.sub, secret_question="Nom de mon chat ?", answer="Félix")
    response = api.get(f"/users/{marie.sub}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "active"
    assert body["email_verified"] is True
    assert body["has_password"] is True
    assert body["locked"] is False
    assert body["has_secret_answer"] is True
    assert body["secret_question"] == "Nom de mon chat ?"
    assert [e["event"] for e in body["history"]] == ["account.created"]
    assert body["history"][0]["sub"] == marie.sub
    assert not set(PRIVATE) & set(body)
    assert "argon2" not in response.text and "lix" not in response.text


@pytest.mark.parametrize("sub", ["00000000-0000-0000-0000-000000000000", "a%20b", "x" * 65])
def test_an_unknown_person_is_a_404(api, sub):
    for response in (
        api.get(f"/users/{sub}"),
        api.post(f"/users/{sub}/actions/unlock"),
        api.post(f"/reviews/{sub}", json={"decision": "accepted"}),
        api.post(f"/users/{sub}/secret-answer/check", json={"answer": "x"}),
    ):
        assert response.status_code == 404
        assert response.get_json()["error_description"] == "Personne inconnue."


def test_an_unknown_action_is_a_404(api, factories):
    marie = factories.account()
    response = api.post(f"/users/{marie.sub}/actions/delete")
    assert response.status_code == 404
    assert response.get_json()["error_description"] == "Action inconnue."


def test_disable_ends_sessions_and_enable_restores(app, client, api, factories, admin):
    marie = factories.account()
    portal = factories.portal()
    tokens = Flow(app.test_client(), portal).tokens(marie)
    assert (
        client.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).status_code
        == 200
    )

    response = api.post(f"/users/{marie.sub}/actions/disable")
    assert response.status_code == 200
    assert response.get_json() == {"sub": marie.sub, "action": "disable", "status": "disabled"}
    assert (
        client.get(
            "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).status_code
        == 401
    )
    again = api.post(f"/users/{marie.sub}/actions/disable")
    assert again.status_code == 409
    assert again.get_json() == {
        "error": "action_refused",
        "error_description": "Le compte est déjà désactivé.",
    }
    (event,) = events_of(app, "admin.account_disabled")
    assert event.details["actor_client"] == admin.client_id
    assert event.account_id == marie.id

    enabled = api.post(f"/users/{marie.sub}/actions/enable")
    assert enabled.get_json()["status"] == "active"
    assert api.post(f"/users/{marie.sub}/actions/enable").status_code == 409


def test_unlock_lifts_a_lockout(app, api, factories):
    marie = factories.account()
    with app.app_context():
        account = db.session.get(Account, marie.id)
        for _ in range(app.config["LOGIN_LOCK_THRESHOLD"]):
            lockout.record_failure(marie.email, account, audit.Origin("203.0.113.9"))
        db.session.commit()
    assert api.get(f"/users/{marie.sub}").get_json()["locked"] is True
    assert api.post(f"/users/{marie.sub}/actions/unlock").status_code == 200
    assert api.get(f"/users/{marie.sub}").get_json()["locked"] is False
    assert len(events_of(app, "admin.unlocked")) == 1


def test_force_password_reset_mails_a_link_and_ends_sessions(app, mail_api, factories, smtp_server):  # noqa: F811
    marie = factories.account()
    response = mail_api.post(f"/users/{marie.sub}/actions/force-password-reset")
    assert response.status_code == 200
    assert response.get_json()["mailed"] is True
    assert account_of(app, marie.sub).password_hash is None
    mail = smtp_server.wait(1)[0]
    assert mail.rcpt_tos == [marie.email]
    assert "http://localhost/" in mail.part("plain")
    assert api_detail(mail_api, marie.sub)["has_password"] is False


def api_detail(api, sub):
    return api.get(f"/users/{sub}").get_json()


def test_revoke_sessions(app, api, factories):
    marie = factories.account()
    response = api.post(f"/users/{marie.sub}/actions/revoke-sessions")
    assert response.status_code == 200
    assert response.get_json()["sessions_ended"] == 0
    assert len(events_of(app, "admin.sessions_revoked")) == 1


def test_resend_activation_mails_a_new_link(app, mail_api, factories, smtp_server):  # noqa: F811
    pending = factories.account(email="jeanne@example.fr", active=False)
    with app.app_context():
        db.session.add(
            Enrolment(
                token_hash="h" * 64,
                journey="citoyen",
                step="done",
                status="awaiting_activation",
                account_id=pending.id,
                expires_at=utcnow() + dt.timedelta(days=7),
            )
        )
        db.session.commit()
    response = mail_api.post(f"/users/{pending.sub}/actions/resend-activation")
    assert response.status_code == 200, response.text
    assert response.get_json()["mailed"] is True
    assert smtp_server.wait(1)[0].rcpt_tos == ["jeanne@example.fr"]
    active = factories.account()
    refused = mail_api.post(f"/users/{active.sub}/actions/resend-activation")
    assert refused.status_code == 409
    assert refused.get_json()["error_description"] == "Le compte n'est pas en attente d'activation."


def test_the_review_queue_and_decisions(app, mail_api, factories, smtp_server, admin):  # noqa: F811
    first = factories.account(email="interne1@example.fr")
    second = factories.account(email="interne2@example.fr")
    factories.account(email="autre@example.fr")
    update_account(app, first.sub, review_status="pending")
    update_account(app, second.sub, review_status="pending")
    queue = mail_api.get("/reviews").get_json()["items"]
    assert [p["sub"] for p in queue] == [first.sub, second.sub]

    no_reason = mail_api.post(f"/reviews/{first.sub}", json={"decision": "rejected"})
    assert no_reason.status_code == 400
    assert no_reason.get_json()["error_description"] == (
        "reason : le motif est obligatoire pour un refus."
    )
    bad = mail_api.post(f"/reviews/{first.sub}", json={"decision": "peut-être"})
    assert bad.status_code == 400
    assert "decision : valeur non autorisée" in bad.get_json()["error_description"]

    rejected = mail_api.post(
        f"/reviews/{first.sub}", json={"decision": "rejected", "reason": "INE introuvable"}
    )
    assert rejected.status_code == 200
    assert rejected.get_json() == {
        "sub": first.sub,
        "review_status": "rejected",
        "status": "disabled",
    }
    assert "INE introuvable" in smtp_server.wait(1)[0].part("plain")

    accepted = mail_api.post(f"/reviews/{second.sub}", json={"decision": "accepted"})
    assert accepted.get_json()["review_status"] == "accepted"
    assert mail_api.get("/reviews").get_json()["items"] == []
    again = mail_api.post(f"/reviews/{second.sub}", json={"decision": "accepted"})
    assert again.status_code == 409
    decided = events_of(app, "admin.review_decided")
    assert [e.details["decision"] for e in decided] == ["rejected", "accepted"]
    assert {e.details["actor_client"] for e in decided} == {admin.client_id}


def test_checking_a_secret_answer_says_only_whether_it_matches(app, api, factories):
    marie = factories.account()
    none_yet = api.post(f"/users/{marie.sub}/secret-answer/check", json={"answer": "Félix"})
    assert none_yet.status_code == 409
    update_account(app, marie.sub, answer="Félix")
    right = api.post(f"/users/{marie.sub}/secret-answer/check", json={"answer": "  felix "})
    assert right.status_code == 200
    assert right.get_json() == {"match": True}
    for _ in range(5):
        wrong = api.post(f"/users/{marie.sub}/secret-answer/check", json={"answer": "Tom"})
        assert wrong.get_json() == {"match": False}
    throttled = api.post(f"/users/{marie.sub}/secret-answer/check", json={"answer": "Félix"})
    assert throttled.status_code == 429
    assert throttled.get_json()["error"] == "slow_down"
    results = [e.details["result"] for e in events_of(app, "admin.secret_answer_checked")]
    assert results == ["right"] + ["wrong"] * 5 + ["refused"]
    empty = api.post(f"/users/{marie.sub}/secret-answer/check", json={"answer": ""})
    assert empty.status_code == 400
    extra = api.post(f"/users/{marie.sub}/secret-answer/check", json={"answer": "x", "hash": 1})
    assert extra.get_json()["error_description"] == "Champ inconnu : hash."
