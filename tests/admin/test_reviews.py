"""The ARS review queue of "INE 0000" sign-ups: accept, reject with a reason mailed."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from tests.admin.conftest import make_operator
from tests.admin.conftest import post_form


@pytest.fixture
def mail_app(make_app, smtp_server):
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)


@pytest.fixture
def agent(mail_app, factories):
    return make_operator(mail_app, factories, "agent@ars.example.fr", roles=("helpdesk",))


@pytest.fixture
def intern(app, factories):
    person = factories.account(email="interne@example.fr", given_name="Jeanne")
    with app.app_context():
        db.session.get(Account, person.id).review_status = "pending"
        db.session.commit()
    return person


def state(app, account_id):
    with app.app_context():
        account = db.session.get(Account, account_id)
        return account.status, account.review_status


def test_the_queue_lists_pending_reviews_only(app, agent, intern, factories):
    factories.account(email="autre@example.fr")
    page = agent.get("/admin/verifications")
    assert page.status_code == 200
    assert "interne@example.fr" in page.text and "autre@example.fr" not in page.text


def test_accepting_mails_the_person(mail_app, agent, intern, smtp_server):
    url = f"/admin/verifications/{intern.id}"
    response = post_form(agent, url, {"decision": "accepted"})
    assert response.headers["Location"].endswith("/admin/verifications")
    assert "Inscription acceptée" in html.unescape(agent.get("/admin/verifications").text)
    assert state(mail_app, intern.id) == ("active", "accepted")
    mail = smtp_server.wait(1)[0]
    assert mail.rcpt_tos == ["interne@example.fr"]
    assert "validée" in mail.message["Subject"]
    assert "Jeanne" in mail.part("plain")
    assert "interne@example.fr" not in agent.get("/admin/verifications").text


def test_rejecting_needs_a_reason(mail_app, agent, intern, smtp_server):
    url = f"/admin/verifications/{intern.id}"
    post_form(agent, url, {"decision": "rejected", "reason": "  "})
    assert "Indiquez le motif du refus" in html.unescape(agent.get("/admin/verifications").text)
    assert state(mail_app, intern.id) == ("active", "pending")
    assert smtp_server.messages == []


def test_rejecting_mails_the_reason_and_disables_the_account(mail_app, agent, intern, smtp_server):
    url = f"/admin/verifications/{intern.id}"
    reason = "Vous n'êtes pas inscrit comme interne dans notre région."
    post_form(
        agent, url, {"decision": "rejected", "reason": reason}, page_url="/admin/verifications"
    )
    assert state(mail_app, intern.id) == ("disabled", "rejected")
    mail = smtp_server.wait(1)[0]
    assert mail.rcpt_tos == ["interne@example.fr"]
    assert "pas été validée" in mail.message["Subject"]
    assert reason in mail.part("plain")
    assert reason in html.unescape(mail.part("html"))
    with mail_app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.event == "admin.review_decided")
        )
        assert event.account_id == intern.id
        assert event.details == {"decision": "rejected", "actor_id": agent.person.id}


def test_a_decided_review_cannot_be_decided_again(mail_app, agent, intern, smtp_server):
    url = f"/admin/verifications/{intern.id}"
    post_form(agent, url, {"decision": "accepted"})
    post_form(agent, url, {"decision": "rejected", "reason": "x"})
    assert "plus en attente" in html.unescape(agent.get("/admin/verifications").text)
    assert state(mail_app, intern.id) == ("active", "accepted")
    assert len(smtp_server.wait(1)) == 1
