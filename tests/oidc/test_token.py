"""The token endpoint with the authorization_code grant: codes, client auth, ID token."""

import datetime as dt
import time

import pytest

from idp.oidc.models import AuthorizationCode
from tests.conftest import ISSUER
from tests.factories import Flow
from tests.oidc.helpers import bearer
from tests.oidc.helpers import half_hash
from tests.oidc.helpers import id_token_claims
from tests.oidc.helpers import rows
from tests.oidc.helpers import seconds_ago
from tests.oidc.helpers import update_rows
from tests.oidc.helpers import verify_jwt


@pytest.fixture
def person(factories):
    return factories.account()


@pytest.fixture
def portal(factories):
    return factories.portal()


@pytest.fixture
def flow(client, portal):
    return Flow(client, portal)


def token_error(response, error: str, status: int = 400) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.get_json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"


def introspect(client, portal, token: str) -> dict:
    response = client.post(
        "/introspect", data={"token": token}, auth=(portal.client_id, portal.secret)
    )
    assert response.status_code == 200, response.text
    return response.get_json()


# the response ------------------------------------------------------------------------
def test_token_response_is_a_bearer_token_with_id_token(flow, person):
    """oidcc-server"""
    response = flow.token(flow.code(person))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    tokens = response.get_json()
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["expires_in"] == 600
    assert tokens["access_token"] and tokens["refresh_token"] and tokens["id_token"]
    assert set(tokens["scope"].split()) == {"openid", "profile", "email"}


def test_token_responses_are_not_cached(flow, person):
    """RFC 6749 §5.1: Cache-Control no-store, on success and on error."""
    code = flow.code(person)
    ok = flow.token(code)
    assert ok.headers["Cache-Control"] == "no-store"
    assert ok.headers["Pragma"] == "no-cache"
    token_error(flow.token(code), "invalid_grant")


def test_id_token_has_the_claims_a_portal_checks(client, flow, person):
    """oidcc-server, oidcc-idtoken-signature"""
    before = int(time.time())
    tokens = flow.tokens(person)
    token = verify_jwt(client, tokens["id_token"])
    claims = token.claims
    assert token.header["kid"]
    assert claims["iss"] == ISSUER
    assert claims["sub"] == person.sub
    assert claims["aud"] == flow.portal.client_id
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 600
    assert before - 5 <= claims["auth_time"] <= claims["iat"]
    assert claims["nonce"] == flow.nonce
    assert claims["acr"] == "eidas1"
    assert claims["amr"] == ["pwd"]
    assert claims["sid"]
    assert claims["at_hash"] == half_hash(tokens["access_token"])


def test_id_token_sid_is_stable_within_one_session(client, flow, person):
    first = id_token_claims(client, flow.tokens(person))
    second = id_token_claims(client, flow.tokens(person))
    assert first["sid"] == second["sid"]


# codes -------------------------------------------------------------------------------------
def test_code_is_single_use(flow, person):
    """oidcc-codereuse"""
    code = flow.code(person)
    assert flow.token(code).status_code == 200
    token_error(flow.token(code), "invalid_grant")


def test_reused_code_revokes_tokens_issued_with_it(client, flow, person):
    """oidcc-codereuse (RFC 6749 §4.1.2: SHOULD revoke the tokens issued with the code)."""
    code = flow.code(person)
    tokens = flow.token(code).get_json()
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    token_error(flow.token(code), "invalid_grant")
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    assert introspect(client, flow.portal, tokens["access_token"]) == {"active": False}
    refreshed = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=flow.auth(),
    )
    token_error(refreshed, "invalid_grant")


def test_code_reused_after_30_seconds_is_refused_and_revokes(app, client, flow, person):
    """oidcc-codereuse-30seconds: the code row is moved 30 s back instead of sleeping."""
    code = flow.code(person)
    tokens = flow.token(code).get_json()
    update_rows(app, AuthorizationCode, used_at=seconds_ago(30), expires_at=seconds_ago(-30))
    token_error(flow.token(code), "invalid_grant")
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_expired_code_is_invalid_grant(app, flow, person):
    code = flow.code(person)
    update_rows(app, AuthorizationCode, expires_at=seconds_ago(1))
    token_error(flow.token(code), "invalid_grant")


def test_code_lives_at_most_60_seconds(app, flow, person):
    flow.code(person)
    (row,) = rows(app, AuthorizationCode)
    lifetime = row.expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(seconds=55) < lifetime <= dt.timedelta(seconds=60)


def test_code_is_bound_to_its_client(client, factories, flow, person):
    code = flow.code(person)
    other = factories.portal(name="Autre portail")
    response = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.portal.redirect_uri,
            "code_verifier": flow.verifier,
        },
        auth=(other.client_id, other.secret),
    )
    token_error(response, "invalid_grant")


def test_redirect_uri_mismatch_at_token_is_invalid_grant(client, factories, person):
    portal = factories.portal(
        redirect_uris=["https://portal.example/callback", "https://portal.example/other"]
    )
    flow = Flow(client, portal)
    code = flow.code(person)
    token_error(flow.token(code, redirect_uri="https://portal.example/other"), "invalid_grant")


def test_missing_redirect_uri_at_token_is_refused(flow, person):
    """OIDC Core 3.1.3.2: redirect_uri was in the authorization request, so it is required."""
    code = flow.code(person)
    response = flow.token(code, redirect_uri=None)
    assert response.status_code == 400


def test_unknown_code_is_invalid_grant(flow):
    token_error(flow.token("not-a-code"), "invalid_grant")


def test_unknown_grant_type_is_unsupported(client, flow):
    response = client.post("/token", data={"grant_type": "password"}, auth=flow.auth())
    token_error(response, "unsupported_grant_type")


# client authentication ---------------------------------------------------------------------
def test_client_secret_basic_authenticates(flow, person):
    """oidcc-server (client_secret_basic)"""
    assert flow.token(flow.code(person)).status_code == 200


def test_client_secret_post_authenticates(client, flow, person):
    """oidcc-server-client-secret-post"""
    response = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": flow.code(person),
            "redirect_uri": flow.portal.redirect_uri,
            "code_verifier": flow.verifier,
            "client_id": flow.portal.client_id,
            "client_secret": flow.portal.secret,
        },
    )
    assert response.status_code == 200, response.text
    assert "id_token" in response.get_json()


@pytest.mark.parametrize("method", ["basic", "post"])
def test_wrong_client_secret_is_invalid_client(client, flow, person, method):
    data = {
        "grant_type": "authorization_code",
        "code": flow.code(person),
        "redirect_uri": flow.portal.redirect_uri,
        "code_verifier": flow.verifier,
    }
    if method == "basic":
        response = client.post("/token", data=data, auth=(flow.portal.client_id, "wrong"))
    else:
        data |= {"client_id": flow.portal.client_id, "client_secret": "wrong"}
        response = client.post("/token", data=data)
    token_error(response, "invalid_client", 401)


def test_confidential_client_without_credentials_is_invalid_client(client, flow, person):
    data = {
        "grant_type": "authorization_code",
        "code": flow.code(person),
        "redirect_uri": flow.portal.redirect_uri,
        "code_verifier": flow.verifier,
        "client_id": flow.portal.client_id,
    }
    token_error(client.post("/token", data=data), "invalid_client", 401)


def test_public_client_redeems_with_pkce_and_no_secret(client, factories, person):
    """oidcc-ensure-request-with-valid-pkce-succeeds (token_endpoint_auth_method none)"""
    portal = factories.portal(public=True)
    flow = Flow(client, portal)
    response = flow.token(flow.code(person), client_id=portal.client_id)
    assert response.status_code == 200, response.text
    assert id_token_claims(client, response.get_json())["aud"] == portal.client_id


def test_public_client_without_code_verifier_is_refused(client, factories, person):
    portal = factories.portal(public=True)
    flow = Flow(client, portal)
    response = flow.token(flow.code(person), client_id=portal.client_id, code_verifier=None)
    token_error(response, "invalid_request")


# subjects ------------------------------------------------------------------------------------
def test_pairwise_subject_differs_per_sector_and_from_the_public_sub(app, factories, person):
    clients = [app.test_client(), app.test_client()]
    portals = [
        factories.portal(subject_type="pairwise", redirect_uris=["https://a.example/cb"]),
        factories.portal(subject_type="pairwise", redirect_uris=["https://b.example/cb"]),
    ]
    subs = [
        id_token_claims(browser, Flow(browser, portal).tokens(person))["sub"]
        for browser, portal in zip(clients, portals, strict=True)
    ]
    assert subs[0] != subs[1]
    assert person.sub not in subs


def test_pairwise_subject_is_stable_across_logins_and_matches_userinfo(app, factories, person):
    portal = factories.portal(subject_type="pairwise", redirect_uris=["https://a.example/cb"])
    subs = []
    for _ in range(2):
        browser = app.test_client()  # a new browser: a new login, a new session
        tokens = Flow(browser, portal).tokens(person)
        subs.append(id_token_claims(browser, tokens)["sub"])
        info = browser.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
        assert info["sub"] == subs[-1]
    assert subs[0] == subs[1] != person.sub


def test_public_subject_is_the_account_sub(client, flow, person):
    assert id_token_claims(client, flow.tokens(person))["sub"] == person.sub


def test_pairwise_subject_survives_adding_a_redirect_uri_on_another_host(
    app, runner, factories, person
):
    """OIDC Core 8.1: the sector is fixed for the portal; a registration update that adds a
    redirect URI must not change every subject the portal already stored."""
    portal = factories.portal(subject_type="pairwise", redirect_uris=["https://b.example/cb"])
    browser = app.test_client()
    before = id_token_claims(browser, Flow(browser, portal).tokens(person))
    result = runner.invoke(
        args=[
            "clients",
            "update",
            portal.client_id,
            "--redirect-uri",
            "https://b.example/cb",
            "--redirect-uri",
            "https://a.example/cb",
        ]
    )
    assert result.exit_code == 0, result.output
    browser = app.test_client()
    after = id_token_claims(browser, Flow(browser, portal).tokens(person))
    assert after["sub"] == before["sub"]


@pytest.mark.parametrize("where", ["basic", "post", "introspect", "revoke"])
def test_a_client_id_with_a_nul_is_an_unknown_client(client, flow, where):
    """A NUL cannot be stored in PostgreSQL text: looking such a client_id up must answer
    invalid_client like any unknown one, not fail in the database (a 500)."""
    weird = "portail\x00x"
    if where == "basic":
        response = client.post(
            "/token", data={"grant_type": "client_credentials"}, auth=(weird, "secret")
        )
    elif where == "post":
        response = client.post(
            "/token",
            data={"grant_type": "client_credentials", "client_id": weird, "client_secret": "s"},
        )
    else:
        response = client.post(f"/{where}", data={"token": "t"}, auth=(weird, "secret"))
    assert response.status_code in (400, 401), response.status_code
    assert response.get_json()["error"] in ("invalid_client", "invalid_request")
