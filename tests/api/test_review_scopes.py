"""Security review: a token limited to admin:clients cannot turn itself into admin:users by
registering, changing or taking over an admin client."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.api.conftest import admin_portal
from tests.api.conftest import issue_token


@pytest.fixture
def clients_only(client, factories):
    portal = admin_portal(factories, scope="admin:clients", name="Gestion des portails")
    api = Api(client, issue_token(client, portal, scope="admin:clients"))
    api.portal = portal
    return api


def _machine(scope: str) -> dict:
    return {
        "name": "Outil maison",
        "grant_types": ["client_credentials"],
        "redirect_uris": [],
        "scope": scope,
    }


def test_a_clients_token_cannot_register_a_client_with_the_users_scope(client, clients_only):
    response = clients_only.post("/clients", json=_machine("admin:users"))
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    assert "Outil maison" not in clients_only.get("/clients").text


def test_a_clients_token_cannot_add_the_users_scope_to_its_own_client(client, clients_only):
    portal = clients_only.portal
    response = clients_only.patch(
        f"/clients/{portal.client_id}", json={"scope": "admin:clients admin:users"}
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    # Its client still cannot obtain admin:users.
    refused = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "admin:users"},
        auth=(portal.client_id, portal.secret),
    )
    assert refused.status_code == 400 or "admin:users" not in refused.get_json().get("scope", "")


def test_a_clients_token_cannot_take_over_a_users_client(client, factories, clients_only):
    people_tool = admin_portal(factories, scope="admin:users", name="Outil d'assistance")
    path = f"/clients/{people_tool.client_id}"
    for response in (
        clients_only.post(path + "/secret"),
        clients_only.patch(path, json={"name": "Repris"}),
        clients_only.delete(path),
    ):
        assert response.status_code == 403, response.text
        assert "client_secret" not in response.text
    # The people tool's own secret still works.
    assert issue_token(client, people_tool, scope="admin:users")


def test_a_token_with_both_scopes_still_registers_an_admin_client(api):
    response = api.post("/clients", json=_machine("admin:users"))
    assert response.status_code == 201, response.text
    assert response.get_json()["client_secret"]


def test_a_clients_token_still_manages_ordinary_portals(clients_only):
    response = clients_only.post(
        "/clients",
        json={"name": "Portail", "redirect_uris": ["https://portail.example.fr/cb"]},
    )
    assert response.status_code == 201, response.text
    client_id = response.get_json()["client_id"]
    assert clients_only.post(f"/clients/{client_id}/secret").status_code == 200
