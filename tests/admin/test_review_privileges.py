"""Security review: a helpdesk agent cannot act on the accounts of the console's operators."""

from __future__ import annotations

import pytest

from idp.extensions import db
from idp.models import Account
from tests.admin.conftest import make_operator
from tests.admin.conftest import post_form

ACTIONS = ("desactiver", "reinitialiser-mot-de-passe", "sessions", "deverrouiller", "activation")


@pytest.mark.parametrize("action", ACTIONS)
def test_a_helpdesk_agent_cannot_act_on_an_administrator(app, factories, helpdesk, action):
    admin = make_operator(app, factories, "chef@ars.example.fr", roles=("admin",))
    url = f"/admin/personnes/{admin.person.id}/{action}"
    page_url = f"/admin/personnes/{admin.person.id}"
    response = post_form(helpdesk, url, page_url=page_url)
    assert response.status_code == 403
    assert "réservées aux administrateurs" in response.text
    with app.app_context():
        account = db.session.get(Account, admin.person.id)
        assert account.status == "active" and account.password_hash
    assert admin.get("/admin/").status_code == 200  # the administrator's session lives on


def test_a_helpdesk_agent_cannot_disable_another_agent(app, factories, helpdesk):
    other = make_operator(app, factories, "collegue@ars.example.fr", roles=("helpdesk",))
    url = f"/admin/personnes/{other.person.id}/desactiver"
    response = post_form(helpdesk, url, page_url=f"/admin/personnes/{other.person.id}")
    assert response.status_code == 403
    assert other.get("/admin/personnes").status_code == 200


def test_an_administrator_can_still_act_on_an_agent(app, factories, admin):
    agent = make_operator(app, factories, "agent2@ars.example.fr", roles=("helpdesk",))
    url = f"/admin/personnes/{agent.person.id}/desactiver"
    response = post_form(admin, url, page_url=f"/admin/personnes/{agent.person.id}")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Account, agent.person.id).status == "disabled"


def test_a_helpdesk_agent_still_acts_on_a_person_without_a_role(app, factories, helpdesk):
    person = factories.account(email="usager@example.fr")
    url = f"/admin/personnes/{person.id}/desactiver"
    response = post_form(helpdesk, url, page_url=f"/admin/personnes/{person.id}")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Account, person.id).status == "disabled"
