"""The UserInfo endpoint (OIDC Core 5.3, RFC 6750 bearer usage)."""

import pytest

from idp.oidc.models import Token
from tests.factories import Flow
from tests.oidc.helpers import bearer
from tests.oidc.helpers import id_token_claims
from tests.oidc.helpers import seconds_ago
from tests.oidc.helpers import update_rows


@pytest.fixture
def person(factories):
    return factories.account()


@pytest.fixture
def portal(factories):
    return factories.portal()


@pytest.fixture
def tokens(client, portal, person):
    return Flow(client, portal).tokens(person)


def assert_refused(response) -> None:
    """RFC 6750 §3: 401 with a Bearer challenge."""
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_userinfo_get_with_authorization_header(client, tokens, person):
    """oidcc-userinfo-get"""
    response = client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    info = response.get_json()
    assert info["sub"] == person.sub and info["email"] == person.email


def test_userinfo_post_with_authorization_header(client, tokens, person):
    """oidcc-userinfo-post-header"""
    response = client.post("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.text
    assert response.get_json()["sub"] == person.sub


def test_userinfo_post_with_access_token_in_form_body(client, tokens, person):
    """oidcc-userinfo-post-body (RFC 6750 §2.2)"""
    response = client.post("/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.get_json()["sub"] == person.sub


def test_userinfo_sub_equals_id_token_sub(client, tokens):
    """oidcc-server (OIDC Core 5.3.2: the sub MUST match)."""
    info = client.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert info["sub"] == id_token_claims(client, tokens)["sub"]


def test_userinfo_without_token_is_refused(client):
    assert_refused(client.get("/userinfo"))


def test_userinfo_with_unknown_token_is_refused(client, tokens):
    assert_refused(client.get("/userinfo", headers=bearer("not-a-token")))


def test_userinfo_with_refresh_token_is_refused(client, tokens):
    assert_refused(client.get("/userinfo", headers=bearer(tokens["refresh_token"])))


def test_userinfo_with_revoked_token_is_refused(client, portal, tokens):
    revoked = client.post(
        "/revoke", data={"token": tokens["access_token"]}, auth=(portal.client_id, portal.secret)
    )
    assert revoked.status_code == 200
    assert_refused(client.get("/userinfo", headers=bearer(tokens["access_token"])))


def test_userinfo_with_expired_token_is_refused(app, client, tokens):
    update_rows(app, Token, access_expires_at=seconds_ago(1))
    assert_refused(client.get("/userinfo", headers=bearer(tokens["access_token"])))


def test_userinfo_refuses_tokens_of_a_disabled_account(client, runner, tokens, person):
    result = runner.invoke(args=["users", "disable", person.email])
    assert result.exit_code == 0, result.output
    assert_refused(client.get("/userinfo", headers=bearer(tokens["access_token"])))


def test_userinfo_without_openid_scope_is_insufficient_scope(client, portal, person):
    tokens = Flow(client, portal).tokens(person, scope="email")
    response = client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
