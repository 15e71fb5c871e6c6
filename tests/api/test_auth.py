"""Who may call the admin API: client_credentials tokens of admin clients, with the scope."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import update

from idp.extensions import db
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.clients import create_client
from idp.oidc.models import Token
from tests.api.conftest import Api
from tests.api.conftest import admin_portal
from tests.api.conftest import issue_token
from tests.factories import Flow
from tests.factories import Portal


def assert_challenge(response, status: int, error: str | None):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == (error or "invalid_token")
    assert response.get_json()["error_description"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="idp-admin"')
    if error:
        assert f'error="{error}"' in challenge
    else:
        assert "error=" not in challenge  # RFC 6750 §3.1: no error code without credentials


def test_a_request_without_a_token_is_challenged(client):
    assert_challenge(client.get("/api/admin/clients"), 401, None)
    assert_challenge(client.get("/api/admin/users?q=marie"), 401, None)


@pytest.mark.parametrize(
    "header", ["Bearer not-a-token", "Basic YWRtaW46YWRtaW4=", "Bearer ", "Bearer\tx y z"]
)
def test_an_unknown_or_malformed_token_is_refused(client, admin, header):
    response = client.get("/api/admin/clients", headers={"Authorization": header})
    assert_challenge(response, 401, "invalid_token")


def test_a_revoked_token_is_refused(client, admin):
    token = issue_token(client, admin)
    assert Api(client, token).get("/clients").status_code == 200
    revoked = client.post("/revoke", data={"token": token}, auth=(admin.client_id, admin.secret))
    assert revoked.status_code == 200
    assert_challenge(Api(client, token).get("/clients"), 401, "invalid_token")


def test_an_expired_token_is_refused(app, client, admin):
    token = issue_token(client, admin)
    with app.app_context():
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.session.execute(update(Token).values(access_expires_at=past))
        db.session.commit()
    assert_challenge(Api(client, token).get("/clients"), 401, "invalid_token")


def test_a_token_without_the_scope_is_forbidden(client, factories):
    portals_only = Api(client, issue_token(client, admin_portal(factories), "admin:clients"))
    assert portals_only.get("/clients").status_code == 200
    response = portals_only.get("/users?q=marie")
    assert_challenge(response, 403, "insufficient_scope")
    assert 'scope="admin:users"' in response.headers["WWW-Authenticate"]

    people_only = Api(client, issue_token(client, admin_portal(factories), "admin:users"))
    assert people_only.get("/reviews").status_code == 200
    assert_challenge(people_only.get("/clients"), 403, "insufficient_scope")
    assert_challenge(people_only.post("/clients", json={"name": "x"}), 403, "insufficient_scope")


def test_a_token_that_asked_for_no_scope_gets_nothing(client, admin):
    token = issue_token(client, admin, scope="")
    assert_challenge(Api(client, token).get("/clients"), 403, "insufficient_scope")


def test_a_person_token_is_refused_even_with_an_admin_scope(client, factories):
    # A confidential portal may hold admin scopes and also log people in; the token it gets
    # for a person (authorization code) must not open the admin API.
    portal = factories.portal(
        grants=["authorization_code", "refresh_token", "client_credentials"],
        scope="openid admin:users",
    )
    person = factories.account()
    tokens = Flow(client, portal, scope="openid admin:users").tokens(person)
    assert "admin:users" in tokens["scope"]
    response = Api(client, tokens["access_token"]).get("/reviews")
    assert_challenge(response, 401, "invalid_token")
    # The same portal's own client_credentials token is accepted.
    assert (
        Api(client, issue_token(client, portal, "admin:users")).get("/reviews").status_code == 200
    )


def test_a_disabled_or_deleted_admin_client_loses_its_tokens(client, factories, api):
    other = admin_portal(factories, name="Autre outil")
    other_api = Api(client, issue_token(client, other))
    assert other_api.get("/clients").status_code == 200
    assert api.patch(f"/clients/{other.client_id}", json={"disabled": True}).status_code == 200
    assert_challenge(other_api.get("/clients"), 401, "invalid_token")

    third = admin_portal(factories, name="Troisième outil")
    third_api = Api(client, issue_token(client, third))
    assert api.delete(f"/clients/{third.client_id}").status_code == 204
    assert_challenge(third_api.get("/clients"), 401, "invalid_token")


def test_removing_a_scope_from_the_client_takes_it_from_its_live_tokens(client, factories, api):
    other = admin_portal(factories, name="Autre outil")
    other_api = Api(client, issue_token(client, other))
    assert other_api.get("/reviews").status_code == 200
    changed = api.patch(f"/clients/{other.client_id}", json={"scope": "admin:clients"})
    assert changed.status_code == 200, changed.text
    assert_challenge(other_api.get("/reviews"), 403, "insufficient_scope")
    assert other_api.get("/clients").status_code == 200


def test_jwt_access_tokens_are_accepted_too(make_app, factories):
    jwt_app = make_app(ACCESS_TOKEN_FORMAT="jwt")
    jwt_client = jwt_app.test_client()
    admin = admin_portal(factories)
    token = issue_token(jwt_client, admin)
    assert token.count(".") == 2
    assert Api(jwt_client, token).get("/clients").status_code == 200


@pytest.mark.parametrize(
    "kw",
    [
        {"grants": ["authorization_code"], "redirect_uris": ["https://a.example/cb"]},
        {
            "grants": ["authorization_code"],
            "redirect_uris": ["https://a.example/cb"],
            "public": True,
        },
    ],
)
def test_admin_scopes_are_only_for_confidential_client_credentials_clients(app_ctx, kw):
    with pytest.raises(InvalidClientMetadata, match="réservées aux clients confidentiels"):
        create_client(name="Portail", scope="openid admin:users", **kw)
    db.session.rollback()


def test_the_admin_scope_is_refused_when_client_credentials_is_taken_away(api, factories):
    other = admin_portal(factories, name="Autre outil")
    response = api.patch(f"/clients/{other.client_id}", json={"grant_types": ["refresh_token"]})
    assert response.status_code == 400
    assert "réservées aux clients confidentiels" in response.get_json()["error_description"]
    assert api.get(f"/clients/{other.client_id}").get_json()["grant_types"] == [
        "client_credentials"
    ]


def test_the_api_sets_no_cookie_and_needs_no_csrf_token(client, api):
    response = api.post(
        "/clients", json={"name": "Sans CSRF", "grant_types": ["client_credentials"]}
    )
    assert response.status_code == 201, response.text
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_an_admin_client_registered_from_the_command_line_works(runner, client):
    result = runner.invoke(
        args=[
            "clients",
            "create",
            "--name",
            "outil-admin",
            "--grant",
            "client_credentials",
            "--scope",
            "admin:clients admin:users",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    portal = Portal(created["client_id"], created["client_secret"])
    assert Api(client, issue_token(client, portal)).get("/clients").status_code == 200

    refused = runner.invoke(
        args=[
            "clients",
            "create",
            "--name",
            "x",
            "--redirect-uri",
            "https://a.example/cb",
            "--scope",
            "openid admin:users",
        ]
    )
    assert refused.exit_code != 0
    assert "réservées aux clients confidentiels" in refused.output
