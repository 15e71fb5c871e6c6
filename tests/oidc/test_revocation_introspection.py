"""Token revocation (RFC 7009) and introspection (RFC 7662)."""

import time

import pytest

from tests.conftest import ISSUER
from tests.factories import Flow
from tests.oidc.helpers import bearer


@pytest.fixture
def person(factories):
    return factories.account()


@pytest.fixture
def portal(factories):
    return factories.portal()


@pytest.fixture
def other(factories):
    return factories.portal(name="Autre portail", redirect_uris=["https://other.example/cb"])


@pytest.fixture
def tokens(client, portal, person):
    return Flow(client, portal).tokens(person)


def revoke(client, portal, token: str, **extra):
    return client.post(
        "/revoke", data={"token": token, **extra}, auth=(portal.client_id, portal.secret)
    )


def introspect(client, portal, token: str, **extra):
    return client.post(
        "/introspect", data={"token": token, **extra}, auth=(portal.client_id, portal.secret)
    )


def refresh(client, portal, refresh_token: str):
    return client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(portal.client_id, portal.secret),
    )


def userinfo_status(client, access_token: str) -> int:
    return client.get("/userinfo", headers=bearer(access_token)).status_code


# revocation -------------------------------------------------------------------------------
def test_revoked_access_token_no_longer_opens_userinfo(client, portal, tokens):
    response = revoke(client, portal, tokens["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert userinfo_status(client, tokens["access_token"]) == 401


def test_revoked_refresh_token_revokes_its_family(client, portal, tokens):
    """RFC 7009 §2.1: revoking a refresh token also invalidates its access tokens."""
    refreshed = refresh(client, portal, tokens["refresh_token"]).get_json()
    response = revoke(client, portal, refreshed["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200
    assert refresh(client, portal, refreshed["refresh_token"]).status_code == 400
    assert userinfo_status(client, refreshed["access_token"]) == 401
    assert userinfo_status(client, tokens["access_token"]) == 401


def test_revocation_works_without_type_hint(client, portal, tokens):
    assert revoke(client, portal, tokens["refresh_token"]).status_code == 200
    assert refresh(client, portal, tokens["refresh_token"]).status_code == 400


def test_revoking_an_unknown_token_answers_200(client, portal):
    """RFC 7009 §2.2: invalid tokens do not cause an error response."""
    response = revoke(client, portal, "not-a-token")
    assert response.status_code == 200


def test_another_clients_token_is_not_revoked(client, other, tokens):
    response = revoke(client, other, tokens["access_token"])
    assert response.status_code == 400
    assert userinfo_status(client, tokens["access_token"]) == 200


def test_revocation_requires_client_authentication(client, portal, tokens):
    response = client.post("/revoke", data={"token": tokens["access_token"]})
    assert response.status_code == 401
    assert userinfo_status(client, tokens["access_token"]) == 200


def test_public_client_revokes_its_own_token(client, factories, person):
    portal = factories.portal(public=True)
    flow = Flow(client, portal)
    tokens = flow.token(flow.code(person), client_id=portal.client_id).get_json()
    response = client.post(
        "/revoke", data={"token": tokens["access_token"], "client_id": portal.client_id}
    )
    assert response.status_code == 200
    assert userinfo_status(client, tokens["access_token"]) == 401


# introspection ---------------------------------------------------------------------------
def test_active_access_token_introspects_with_its_metadata(client, portal, tokens, person):
    response = introspect(client, portal, tokens["access_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    assert data["active"] is True
    assert data["sub"] == person.sub
    assert set(data["scope"].split()) == {"openid", "profile", "email"}
    assert data["client_id"] == portal.client_id
    assert data["iss"] == ISSUER
    assert abs(data["exp"] - (time.time() + 600)) < 30


def test_active_refresh_token_introspects_as_active(client, portal, tokens):
    data = introspect(client, portal, tokens["refresh_token"], token_type_hint="refresh_token")
    assert data.get_json()["active"] is True


def test_revoked_token_introspects_as_inactive(client, portal, tokens):
    revoke(client, portal, tokens["access_token"])
    assert introspect(client, portal, tokens["access_token"]).get_json() == {"active": False}


def test_unknown_token_introspects_as_inactive(client, portal):
    response = introspect(client, portal, "not-a-token")
    assert response.status_code == 200, response.status_code
    assert response.get_json() == {"active": False}


def test_another_clients_token_introspects_as_inactive(client, other, tokens):
    """RFC 7662 §2.2: a token the caller may not see is reported inactive, nothing leaks."""
    response = introspect(client, other, tokens["access_token"])
    assert response.status_code == 200, response.status_code
    assert response.get_json() == {"active": False}


def test_public_client_cannot_introspect(client, factories, person):
    portal = factories.portal(public=True)
    flow = Flow(client, portal)
    tokens = flow.token(flow.code(person), client_id=portal.client_id).get_json()
    response = client.post(
        "/introspect", data={"token": tokens["access_token"], "client_id": portal.client_id}
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_introspection_with_wrong_secret_is_invalid_client(client, portal, tokens):
    response = client.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(portal.client_id, "wrong")
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
