"""The console "Rôles" screen: list, grant by email, revoke, last administrator, access."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from idp.admin import services
from idp.admin.models import AccountRole
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from tests.admin.conftest import make_operator
from tests.admin.conftest import open_browser_session
from tests.admin.conftest import post_form
from tests.factories import csrf_of

ROLES_URL = "/admin/roles"


def roles_of(app, account_id):
    with app.app_context():
        return services.roles_of(db.session.get(Account, account_id))


def events(app, name):
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)
        ).all()


def text(response):
    return html.unescape(response.text)


def grant(browser, email, role):
    return post_form(browser, ROLES_URL, {"email": email, "role": role}, page_url=ROLES_URL)


def revoke(browser, account_id, role):
    return post_form(
        browser, f"{ROLES_URL}/{account_id}/retirer", {"role": role}, page_url=ROLES_URL
    )


def test_the_screen_lists_accounts_with_their_roles_and_is_in_the_menu(app, admin, factories):
    make_operator(app, factories, "agent@ars.example.fr", roles=("helpdesk",))
    factories.account(email="sans.role@example.fr", given_name="Paul", family_name="SANSROLE")
    page = admin.get(ROLES_URL)
    assert page.status_code == 200
    assert 'href="/admin/roles"' in text(admin.get("/admin/personnes"))
    assert "admin@ars.example.fr" in text(page)
    assert "agent@ars.example.fr" in text(page)
    assert "Assistance" in text(page) and "Administrateur" in text(page)
    assert "sans.role@example.fr" not in text(page)
    assert 'autocomplete="off"' in text(page)


def test_an_admin_grants_a_role_to_an_account_found_by_email(app, admin, factories):
    person = factories.account(email="nouvel.agent@example.fr")
    response = grant(admin, "  Nouvel.Agent@Example.fr ", "helpdesk")
    assert response.status_code == 302
    page = admin.get(response.headers["Location"])
    assert "Rôle « Assistance » attribué" in text(page)
    assert roles_of(app, person.id) == {"helpdesk"}
    [event] = events(app, "admin.role_granted")[-1:]
    assert event.account_id == person.id
    assert event.details["role"] == "helpdesk"
    assert event.details["actor_id"] == admin.person.id
    # The new agent now gets into the console.
    agent = open_browser_session(app, app.test_client(), person.id)
    assert agent.get("/admin/personnes").status_code == 200


def test_granting_to_an_unknown_email_says_so_and_changes_nothing(app, admin):
    before = len(events(app, "admin.role_granted"))
    response = grant(admin, "personne@example.fr", "admin")
    assert response.status_code == 422
    assert "Aucun compte n'a cette adresse électronique." in text(response)
    assert len(events(app, "admin.role_granted")) == before


@pytest.mark.parametrize(
    "data",
    [{"email": "", "role": "admin"}, {"email": "x@example.fr", "role": "superuser"}, {}],
)
def test_bad_grant_input_is_a_form_error_not_a_500(admin, data):
    response = post_form(admin, ROLES_URL, data, page_url=ROLES_URL)
    assert response.status_code == 422
    assert "fr-error-text" in text(response)


def test_granting_to_a_disabled_account_is_refused(app, admin, factories):
    person = factories.account(email="inactif@example.fr", active=False)
    response = grant(admin, "inactif@example.fr", "admin")
    assert response.status_code == 422
    assert "seul un compte actif peut recevoir un rôle" in text(response)
    assert roles_of(app, person.id) == set()


def test_granting_a_role_already_held_says_so(app, admin):
    response = grant(admin, "admin@ars.example.fr", "admin")
    assert "a déjà le rôle « Administrateur »" in text(admin.get(response.headers["Location"]))


def test_an_admin_revokes_a_role_and_the_agent_loses_the_console(app, admin, factories):
    agent = make_operator(app, factories, "agent@ars.example.fr", roles=("helpdesk",))
    response = revoke(admin, agent.person.id, "helpdesk")
    assert response.status_code == 302
    assert "Rôle « Assistance » retiré" in text(admin.get(response.headers["Location"]))
    assert roles_of(app, agent.person.id) == set()
    [event] = events(app, "admin.role_revoked")
    assert event.account_id == agent.person.id
    assert event.details == {"role": "helpdesk", "actor_id": admin.person.id}
    assert agent.get("/admin/personnes").status_code == 404


def test_the_last_admin_cannot_revoke_their_own_admin_role(app, admin):
    response = revoke(admin, admin.person.id, "admin")
    page = admin.get(response.headers["Location"])
    assert page.status_code == 200
    assert "est le dernier administrateur" in text(page)
    assert roles_of(app, admin.person.id) == {"admin"}
    assert events(app, "admin.role_revoked") == []


def test_an_admin_may_step_down_when_another_admin_remains(app, admin, factories):
    other = make_operator(app, factories, "autre.admin@example.fr", roles=("admin",))
    response = revoke(admin, admin.person.id, "admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/mon-compte"
    assert roles_of(app, admin.person.id) == set()
    assert admin.get(ROLES_URL).status_code == 404
    # And now the remaining admin is the last one.
    response = revoke(other, other.person.id, "admin")
    assert "est le dernier administrateur" in text(other.get(response.headers["Location"]))
    assert roles_of(app, other.person.id) == {"admin"}


def test_revoking_a_role_not_held_or_of_an_unknown_account(app, admin, factories):
    person = factories.account(email="simple@example.fr")
    response = revoke(admin, person.id, "helpdesk")
    assert "n'a pas le rôle « Assistance »" in text(admin.get(response.headers["Location"]))
    assert revoke(admin, 999999, "helpdesk").status_code == 404
    assert revoke(admin, person.id, "superuser").status_code == 400


def test_posts_without_a_csrf_token_are_refused(app, admin, factories):
    person = factories.account(email="cible@example.fr")
    assert (
        admin.post(ROLES_URL, data={"email": "cible@example.fr", "role": "admin"}).status_code
        == 400
    )
    assert (
        admin.post(f"{ROLES_URL}/{admin.person.id}/retirer", data={"role": "admin"}).status_code
        == 400
    )
    assert roles_of(app, person.id) == set()
    assert roles_of(app, admin.person.id) == {"admin"}


def test_a_helpdesk_agent_gets_403_and_cannot_grant_nor_revoke(app, admin, helpdesk, factories):
    page = helpdesk.get(ROLES_URL)
    assert page.status_code == 403
    assert "réservée aux administrateurs" in text(page)
    assert 'href="/admin/roles"' not in text(helpdesk.get("/admin/personnes"))
    token = csrf_of(helpdesk.get(f"/admin/personnes/{admin.person.id}").text)
    response = helpdesk.post(
        ROLES_URL, data={"email": "agent@ars.example.fr", "role": "admin", "csrf_token": token}
    )
    assert response.status_code == 403
    response = helpdesk.post(
        f"{ROLES_URL}/{admin.person.id}/retirer", data={"role": "admin", "csrf_token": token}
    )
    assert response.status_code == 403
    assert roles_of(app, helpdesk.person.id) == {"helpdesk"}
    assert roles_of(app, admin.person.id) == {"admin"}


def test_anonymous_and_roleless_visitors_do_not_see_the_screen(app, client, factories):
    response = client.get(ROLES_URL)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")
    person = factories.account(email="sans.role@example.fr")
    browser = open_browser_session(app, app.test_client(), person.id)
    assert browser.get(ROLES_URL).status_code == 404


def test_an_admin_without_a_second_factor_is_sent_to_step_up(app, factories):
    browser = make_operator(app, factories, "faible@example.fr", acr="eidas1", amr=("pwd",))
    response = browser.get(ROLES_URL)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion/verification?next=")
    with app.app_context():
        before = db.session.scalars(select(AccountRole)).all()
    response = browser.post(ROLES_URL, data={"email": "faible@example.fr", "role": "helpdesk"})
    assert response.status_code in (302, 400)
    with app.app_context():
        assert len(db.session.scalars(select(AccountRole)).all()) == len(before)


def test_an_admin_who_keeps_helpdesk_lands_on_the_people_page(app, factories):
    make_operator(app, factories, "autre.admin@example.fr", roles=("admin",))
    both = make_operator(app, factories, "double@example.fr", roles=("admin", "helpdesk"))
    page = both.get(ROLES_URL)
    assert "Retirer « Assistance »" in text(page) and "Retirer « Administrateur »" in text(page)
    response = revoke(both, both.person.id, "admin")
    assert response.headers["Location"] == "/admin/"
    people = both.get("/admin/", follow_redirects=True)
    assert "Vous n'avez plus le rôle « Administrateur »." in text(people)
    assert roles_of(app, both.person.id) == {"helpdesk"}
    assert both.get(ROLES_URL).status_code == 403
