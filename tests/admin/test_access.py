"""Who gets into the console: anonymous, no role, helpdesk, admin, admin without 2nd factor."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.admin.models import AccountRole
from idp.extensions import db
from idp.models import AuditEvent
from tests.admin.conftest import make_operator
from tests.admin.conftest import open_browser_session
from tests.admin.conftest import post_form

ADMIN_PAGES = [
    "/admin/tableau-de-bord",
    "/admin/portails",
    "/admin/portails/nouveau",
    "/admin/journal",
    "/admin/journal.csv",
]
PEOPLE_PAGES = ["/admin/personnes", "/admin/verifications"]


@pytest.mark.parametrize("url", ["/admin/", *ADMIN_PAGES, *PEOPLE_PAGES])
def test_anonymous_is_sent_to_the_login_page_then_back(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")
    assert "admin" in response.headers["Location"]


@pytest.mark.parametrize("url", ["/admin/", *ADMIN_PAGES, *PEOPLE_PAGES])
def test_an_account_without_a_role_gets_page_not_found(app, factories, url):
    person = factories.account(email="sans.role@example.fr")
    browser = open_browser_session(app, app.test_client(), person.id)
    response = browser.get(url)
    assert response.status_code == 404
    assert "introuvable" in response.text


def test_an_account_without_a_role_cannot_post_an_action(app, factories, client):
    target = factories.account(email="cible@example.fr")
    person = factories.account(email="sans.role@example.fr")
    browser = open_browser_session(app, app.test_client(), person.id)
    page = browser.get("/connexion")  # any page with a CSRF token for this browser
    from tests.factories import csrf_of

    response = browser.post(
        f"/admin/personnes/{target.id}/desactiver", data={"csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.event.like("admin.%"))) is None


def test_an_admin_without_a_second_factor_is_asked_for_one(app, factories):
    browser = make_operator(app, factories, "faible@example.fr", acr="eidas1", amr=("pwd",))
    response = browser.get("/admin/portails")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion/verification?next=")
    assert "admin" in response.headers["Location"]
    assert "Enregistrer un portail" not in response.text


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_a_helpdesk_agent_cannot_see_portals_nor_the_audit_log(helpdesk, factories, url):
    factories.portal(name="Portail secret")
    response = helpdesk.get(url)
    assert response.status_code == 403
    assert "réservée aux administrateurs" in response.text
    assert "Portail secret" not in response.text


def test_a_helpdesk_agent_cannot_edit_nor_delete_a_portal(helpdesk, factories, app):
    portal = factories.portal(name="Portail protégé")
    for url, data in [
        (
            f"/admin/portails/{portal.client_id}",
            {"name": "Piraté", "redirect_uris": "https://x.example/cb"},
        ),
        (f"/admin/portails/{portal.client_id}/secret", {}),
        (f"/admin/portails/{portal.client_id}/activation", {"disabled": "1"}),
        (
            f"/admin/portails/{portal.client_id}/suppression",
            {"confirm_client_id": portal.client_id},
        ),
        ("/admin/portails/nouveau", {"name": "Nouveau", "redirect_uris": "https://x.example/cb"}),
    ]:
        assert post_form(helpdesk, url, data).status_code == 403, url
    with app.app_context():
        from idp.oidc.clients import get_client

        client = get_client(portal.client_id)
        assert client.name == "Portail protégé" and not client.disabled


def test_helpdesk_home_is_the_people_search(helpdesk):
    response = helpdesk.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/personnes")
    page = helpdesk.get("/admin/personnes")
    assert page.status_code == 200
    assert "Rechercher une personne" in page.text
    assert "Portails" not in page.text  # not in the menu either


def test_admin_home_is_the_dashboard(admin):
    response = admin.get("/admin/")
    assert response.status_code == 200
    assert "Tableau de bord" in response.text


def test_actions_need_the_csrf_token(admin, factories):
    target = factories.account(email="cible@example.fr")
    response = admin.post(f"/admin/personnes/{target.id}/desactiver")
    assert response.status_code == 400


def test_cli_grants_and_revokes_a_role(app, runner, factories):
    person = factories.account(email="futur.admin@example.fr")
    result = runner.invoke(args=["users", "grant-role", "futur.admin@example.fr", "helpdesk"])
    assert result.exit_code == 0, result.output
    assert "accordé" in result.output
    browser = open_browser_session(app, app.test_client(), person.id)
    assert browser.get("/admin/personnes").status_code == 200
    result = runner.invoke(args=["users", "revoke-role", "futur.admin@example.fr", "helpdesk"])
    assert result.exit_code == 0 and "retiré" in result.output
    assert browser.get("/admin/personnes").status_code == 404
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent.event).where(AuditEvent.account_id == person.id)
        ).all()
        assert "admin.role_granted" in events and "admin.role_revoked" in events
        assert db.session.scalar(select(AccountRole)) is None


def test_cli_refuses_an_unknown_role_or_account(runner, factories):
    factories.account(email="x@example.fr")
    assert runner.invoke(args=["users", "grant-role", "x@example.fr", "root"]).exit_code != 0
    result = runner.invoke(args=["users", "grant-role", "personne@example.fr", "admin"])
    assert result.exit_code != 0
    assert "inconnu" in result.output


def test_every_console_input_has_autocomplete(admin, factories):
    import re

    portal = factories.portal()
    person = factories.account(email="cible@example.fr")
    for url in (
        "/admin/portails/nouveau",
        f"/admin/portails/{portal.client_id}",
        f"/admin/personnes/{person.id}",
        "/admin/personnes?q=cible",
        "/admin/journal",
    ):
        html = admin.get(url).text
        tags = re.findall(r"<(?:input|textarea)\b[^>]*>", html)
        assert tags, url
        missing = [t for t in tags if "autocomplete=" not in t]
        assert not missing, (url, missing)
