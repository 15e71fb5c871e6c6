"""Portals through the admin API: register, list, show, change, disable, rotate, delete."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent

SECRET_FIELDS = {"client_secret", "secret_hash", "secret"}


def client_credentials(client, client_id, secret):
    return client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def events(app, name):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_a_registered_portal_gets_its_secret_once(app, client, api, admin):
    response = api.post(
        "/clients",
        json={
            "name": "Portail des démarches",
            "redirect_uris": ["https://demarches.example/callback"],
            "post_logout_redirect_uris": ["https://demarches.example/"],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "scope": "openid profile email",
            "subject_type": "pairwise",
        },
    )
    assert response.status_code == 201, response.text
    created = response.get_json()
    client_id, secret = created["client_id"], created["client_secret"]
    assert secret and len(secret) >= 40
    assert response.headers["Location"] == f"/api/admin/clients/{client_id}"
    assert created["subject_type"] == "pairwise"
    assert created["public"] is False
    # The secret works at the token endpoint…
    assert client_credentials(client, client_id, secret).status_code == 200
    # …and is never shown again, nor its hash.
    shown = api.get(f"/clients/{client_id}")
    assert shown.status_code == 200
    assert not SECRET_FIELDS & set(shown.get_json())
    listed = api.get("/clients").get_json()["items"]
    assert {p["client_id"] for p in listed} == {admin.client_id, client_id}
    assert all(not SECRET_FIELDS & set(p) for p in listed)
    assert secret not in api.get("/audit-events?limit=200").text
    # Audited with the API client as the actor.
    (event,) = events(app, "admin.portal_created")
    assert event.client_id == client_id
    assert event.details["actor_client"] == admin.client_id
    assert event.ip == "127.0.0.1"


def test_a_public_portal_has_no_secret(api):
    response = api.post(
        "/clients",
        json={"name": "Appli mobile", "public": True, "redirect_uris": ["https://app.example/cb"]},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["client_secret"] is None
    assert body["token_endpoint_auth_method"] == "none"
    rotated = api.post(f"/clients/{body['client_id']}/secret")
    assert rotated.status_code == 409
    assert rotated.get_json()["error_description"] == "Un client public n'a pas de secret."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Champ obligatoire manquant : name."),
        ({"name": "P", "colour": "bleu"}, "Champ inconnu : colour."),
        ({"name": 42}, "name : une chaîne est attendu(e)."),
        ({"name": "   "}, "Le nom du portail est obligatoire (150 caractères au plus)."),
        ({"name": "P" * 151}, "name : 150 caractères au plus."),
        ({"name": "P", "redirect_uris": "https://a.example/cb"}, "redirect_uris : une liste"),
        ({"name": "P", "redirect_uris": ["http://a.example/cb"]}, "https obligatoire"),
        ({"name": "P", "redirect_uris": ["https://a.example/*"]}, "URI refusée (joker"),
        ({"name": "P", "redirect_uris": ["https://[::1/cb"]}, "URI refusée (mal formée)"),
        ({"name": "P", "redirect_uris": []}, "Au moins une URI de redirection est requise."),
        ({"name": "P", "subject_type": "secret"}, "subject_type : valeur non autorisée"),
        ({"name": "P", "grant_types": ["password"]}, "grant_types[0] : valeur non autorisée"),
        (
            {"name": "P", "grant_types": ["client_credentials"], "scope": "openid root"},
            "Portée inconnue : root",
        ),
        (
            {"name": "P", "redirect_uris": ["https://a.example/cb"], "scope": "admin:clients"},
            "réservées aux clients confidentiels",
        ),
        (
            {"name": "P", "public": True, "grant_types": ["client_credentials"]},
            "Un client public ne peut pas utiliser client_credentials.",
        ),
        ({"name": "P", "client_id": "a b"}, "client_id : format refusé."),
        ({"name": "P\x00"}, "name : caractère nul refusé."),
        ({"name": "ameli\u202egro"}, "caractère de contrôle ou invisible refusé."),
        ({"name": "ameli\tpro"}, "caractère de contrôle ou invisible refusé."),
        ({"name": "P", "journey": "inconnu"}, "journey : valeur non autorisée"),
        ({"name": "P", "access_token_lifetime": 5}, "access_token_lifetime : au moins 60."),
    ],
)
def test_invalid_registrations_are_refused_in_french(app, api, body, message):
    response = api.post("/clients", json=body)
    assert response.status_code == 400, response.text
    assert response.get_json()["error"] in {"invalid_request", "invalid_client_metadata"}
    assert message in response.get_json()["error_description"]
    assert len(api.get("/clients").get_json()["items"]) == 1  # the admin client only
    assert events(app, "admin.portal_created") == []


def test_a_duplicate_client_id_is_refused(api):
    body = {"name": "P", "client_id": "portail.test", "grant_types": ["client_credentials"]}
    assert api.post("/clients", json=body).status_code == 201
    again = api.post("/clients", json=body)
    assert again.status_code == 400
    assert again.get_json()["error_description"] == "Le client portail.test existe déjà."


def test_a_body_that_is_not_json_is_refused(api):
    form = api.post("/clients", data={"name": "P"})
    assert form.status_code == 415
    assert form.get_json()["error"] == "unsupported_media_type"
    broken = api.post("/clients", data="{name", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.get_json()["error_description"] == "Corps JSON illisible."
    nested = api.post("/clients", data="[" * 100_000, headers={"Content-Type": "application/json"})
    assert nested.status_code == 413
    deep = api.post("/clients", data="[" * 10_000, headers={"Content-Type": "application/json"})
    assert deep.status_code == 400
    array = api.post("/clients", json=["name"])
    assert array.status_code == 400
    assert array.get_json()["error_description"] == "corps : un objet est attendu(e)."


def test_changing_a_portal(app, api, factories, admin):
    portal = factories.portal()
    response = api.patch(
        f"/clients/{portal.client_id}",
        json={
            "name": "Nouveau nom",
            "redirect_uris": ["https://new.example/cb"],
            "require_consent": True,
            "journey": None,
            "min_acr": "eidas2",
            "access_token_lifetime": 600,
        },
    )
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["name"] == "Nouveau nom"
    assert body["redirect_uris"] == ["https://new.example/cb"]
    assert body["require_consent"] is True
    assert body["min_acr"] == "eidas2"
    assert body["access_token_lifetime"] == 600
    (event,) = events(app, "admin.portal_updated")
    assert event.details["actor_client"] == admin.client_id
    assert event.details["fields"] == [
        "access_token_lifetime",
        "journey",
        "min_acr",
        "name",
        "redirect_uris",
        "require_consent",
    ]


def test_an_invalid_change_leaves_the_portal_as_it_was(api, factories):
    portal = factories.portal()
    response = api.patch(
        f"/clients/{portal.client_id}",
        json={"name": "Nouveau nom", "redirect_uris": ["http://evil.example/cb"]},
    )
    assert response.status_code == 400
    assert "https obligatoire" in response.get_json()["error_description"]
    assert api.get(f"/clients/{portal.client_id}").get_json()["name"] == "Portail de test"
    assert api.patch(f"/clients/{portal.client_id}", json={}).status_code == 400
    unknown = api.patch(f"/clients/{portal.client_id}", json={"secret_hash": "x"})
    assert unknown.get_json()["error_description"] == "Champ inconnu : secret_hash."


def test_disabling_a_portal_revokes_its_tokens(app, client, api, factories):
    portal = factories.portal(grants=["client_credentials"], redirect_uris=[], scope="profile")
    token = client_credentials(client, portal.client_id, portal.secret).get_json()["access_token"]
    auth = (portal.client_id, portal.secret)
    assert client.post("/introspect", data={"token": token}, auth=auth).get_json()["active"]

    response = api.patch(f"/clients/{portal.client_id}", json={"disabled": True})
    assert response.status_code == 200
    assert response.get_json()["disabled"] is True
    assert client_credentials(client, portal.client_id, portal.secret).status_code == 401
    assert len(events(app, "admin.portal_disabled")) == 1

    assert api.patch(f"/clients/{portal.client_id}", json={"disabled": False}).status_code == 200
    assert not client.post("/introspect", data={"token": token}, auth=auth).get_json()["active"]
    assert client_credentials(client, portal.client_id, portal.secret).status_code == 200
    assert len(events(app, "admin.portal_enabled")) == 1


def test_rotating_the_secret(app, client, api, factories, admin):
    portal = factories.portal(grants=["client_credentials"], redirect_uris=[], scope="profile")
    response = api.post(f"/clients/{portal.client_id}/secret")
    assert response.status_code == 200
    new_secret = response.get_json()["client_secret"]
    assert new_secret != portal.secret
    assert client_credentials(client, portal.client_id, portal.secret).status_code == 401
    assert client_credentials(client, portal.client_id, new_secret).status_code == 200
    (event,) = events(app, "admin.portal_secret_rotated")
    assert event.details == {"actor_client": admin.client_id}


def test_deleting_a_portal(app, client, api, factories):
    portal = factories.portal(grants=["client_credentials"], redirect_uris=[], scope="profile")
    assert api.delete(f"/clients/{portal.client_id}").status_code == 204
    assert api.get(f"/clients/{portal.client_id}").status_code == 404
    assert client_credentials(client, portal.client_id, portal.secret).status_code == 401
    assert len(events(app, "admin.portal_deleted")) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/clients/inconnu"),
        ("patch", "/clients/inconnu"),
        ("delete", "/clients/inconnu"),
        ("post", "/clients/inconnu/secret"),
        ("get", "/clients/a%20b"),
    ],
)
def test_an_unknown_portal_is_a_404(api, method, path):
    kwargs = {"json": {"name": "x"}} if method == "patch" else {}
    response = getattr(api, method)(path, **kwargs)
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "error_description": "Portail inconnu."}
