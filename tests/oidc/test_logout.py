"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

import base64
import json
import time
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import ISSUER
from tests.factories import POST_LOGOUT
from tests.factories import Flow
from tests.factories import csrf_of
from tests.oidc.helpers import bearer
from tests.oidc.helpers import copy_cookies
from tests.oidc.helpers import error_page
from tests.oidc.helpers import error_redirect
from tests.oidc.helpers import form_of
from tests.oidc.helpers import redirect_query


@pytest.fixture
def person(factories):
    return factories.account()


@pytest.fixture
def portal(factories):
    return factories.portal()


@pytest.fixture
def flow(client, portal):
    return Flow(client, portal)


@pytest.fixture
def tokens(flow, person):
    return flow.tokens(person)


def logout(client, **params):
    return client.get("/logout?" + urlencode(params))


def assert_logged_out(flow) -> None:
    error_redirect(flow.authorize(prompt="none"), flow.portal, "login_required", flow.state)


def assert_still_logged_in(flow) -> None:
    assert redirect_query(flow.authorize(prompt="none"), flow.portal.redirect_uri)["code"]


def confirm(client, page) -> object:
    assert page.status_code == 200, page.status_code
    action, csrf = form_of(page.text)
    assert action.startswith("/logout/confirm")
    return client.post(action, data={"csrf_token": csrf})


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_logout_with_hint_redirects_to_the_registered_uri_with_state(client, flow, tokens):
    """oidcc-rp-initiated-logout"""
    response = logout(
        client,
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=POST_LOGOUT,
        state="bye-42",
    )
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"] == POST_LOGOUT + "?state=bye-42"
    assert client.get_cookie("idp_session") is None, "session cookie not cleared"
    assert_logged_out(flow)


def test_logout_ends_the_session_on_the_server_not_only_the_cookie(app, client, flow, tokens):
    """oidcc-rp-initiated-logout: a copy of the old cookie no longer opens the session."""
    kept = app.test_client()
    copy_cookies(client, kept)
    logout(client, id_token_hint=tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT)
    assert_logged_out(Flow(kept, flow.portal))


def test_logout_revokes_the_tokens_of_the_session(client, flow, tokens):
    logout(client, id_token_hint=tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT)
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    response = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=flow.auth(),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_logout_without_state_redirects_to_exactly_the_registered_uri(client, flow, tokens):
    """oidcc-rp-initiated-logout-no-state"""
    response = logout(
        client, id_token_hint=tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT
    )
    assert response.status_code == 302
    assert response.headers["Location"] == POST_LOGOUT
    assert_logged_out(flow)


def test_logout_with_matching_client_id_and_hint_redirects(client, flow, tokens):
    response = logout(
        client,
        id_token_hint=tokens["id_token"],
        client_id=flow.portal.client_id,
        post_logout_redirect_uri=POST_LOGOUT,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == POST_LOGOUT


@pytest.mark.parametrize(
    "uri",
    [
        "https://attacker.example/logged-out",
        POST_LOGOUT + "?extra=1",
        POST_LOGOUT + "/",
    ],
)
def test_unregistered_post_logout_redirect_uri_is_never_followed(client, flow, tokens, uri):
    """oidcc-rp-initiated-logout-bad-post-logout-redirect-uri,
    oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri"""
    response = logout(client, id_token_hint=tokens["id_token"], post_logout_redirect_uri=uri)
    assert response.status_code in {200, 400}, response.status_code
    assert "Location" not in response.headers


def test_logout_with_hint_and_no_redirect_uri_shows_logged_out_page(client, flow, tokens):
    """oidcc-rp-initiated-logout-no-post-logout-redirect-uri"""
    response = logout(client, id_token_hint=tokens["id_token"])
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert_logged_out(flow)


def test_logout_without_hint_asks_for_confirmation_then_redirects(client, flow, tokens):
    """oidcc-rp-initiated-logout-no-id-token-hint"""
    page = logout(
        client,
        client_id=flow.portal.client_id,
        post_logout_redirect_uri=POST_LOGOUT,
        state="bye-7",
    )
    assert page.status_code == 200 and "Location" not in page.headers
    assert_still_logged_in(flow)
    response = confirm(client, page)
    assert response.status_code == 302
    assert response.headers["Location"] == POST_LOGOUT + "?state=bye-7"
    assert_logged_out(flow)


def test_logout_without_any_parameter_asks_for_confirmation(client, flow, tokens):
    """oidcc-rp-initiated-logout-no-params"""
    page = logout(client)
    assert page.status_code == 200
    assert_still_logged_in(flow)
    response = confirm(client, page)
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert_logged_out(flow)


def test_logout_with_only_state_asks_for_confirmation_and_does_not_redirect(client, flow, tokens):
    """oidcc-rp-initiated-logout-only-state"""
    response = confirm(client, logout(client, state="only-state"))
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert_logged_out(flow)


def test_confirmation_without_csrf_token_does_not_log_out(client, flow, tokens):
    page = logout(client)
    action, _ = form_of(page.text)
    response = client.post(action, data={})
    assert response.status_code == 400
    assert_still_logged_in(flow)


def test_hint_from_another_session_asks_for_confirmation(app, client, flow, person, tokens):
    """RP-Initiated Logout §6: a hint that is not this session's must not end it silently."""
    elsewhere = Flow(app.test_client(), flow.portal).tokens(person)
    page = logout(client, id_token_hint=elsewhere["id_token"], post_logout_redirect_uri=POST_LOGOUT)
    assert page.status_code == 200 and "Location" not in page.headers
    assert_still_logged_in(flow)


def test_client_id_not_matching_the_hint_audience_shows_error_page(client, factories, flow, tokens):
    other = factories.portal(name="Autre portail")
    response = logout(
        client,
        id_token_hint=tokens["id_token"],
        client_id=other.client_id,
        post_logout_redirect_uri=POST_LOGOUT,
    )
    error_page(response)
    assert_still_logged_in(flow)


def test_hint_signed_by_another_key_shows_error_page(client, flow, person, tokens):
    """oidcc-rp-initiated-logout-bad-id-token-hint"""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": person.sub,
        "aud": flow.portal.client_id,
        "iat": now,
        "exp": now + 600,
    }
    forged = jwt.encode({"alg": "RS256"}, claims, RSAKey.generate_key(2048))
    response = logout(client, id_token_hint=forged, post_logout_redirect_uri=POST_LOGOUT)
    error_page(response)
    assert_still_logged_in(flow)


def test_hint_changed_to_alg_none_shows_error_page(client, flow, tokens):
    """oidcc-rp-initiated-logout-modified-id-token-hint"""
    _, payload, _ = tokens["id_token"].split(".")
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    response = logout(client, id_token_hint=unsigned, post_logout_redirect_uri=POST_LOGOUT)
    error_page(response)
    assert_still_logged_in(flow)


def test_garbage_hint_shows_error_page(client, flow, tokens):
    error_page(logout(client, id_token_hint="not-a-jwt", post_logout_redirect_uri=POST_LOGOUT))
    assert_still_logged_in(flow)


def test_logout_again_after_logout_still_redirects(client, flow, tokens):
    """The portal may send the person twice; the second time there is no session left."""
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": POST_LOGOUT}
    assert logout(client, **params).status_code == 302
    again = logout(client, **params, state="again")
    assert again.status_code == 302
    assert again.headers["Location"] == POST_LOGOUT + "?state=again"


def test_tokens_obtained_by_refresh_are_revoked_by_logout(client, flow, tokens):
    refreshed = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=flow.auth(),
    ).get_json()
    logout(client, id_token_hint=tokens["id_token"], post_logout_redirect_uri=POST_LOGOUT)
    assert client.get("/userinfo", headers=bearer(refreshed["access_token"])).status_code == 401


def test_code_issued_before_logout_is_not_redeemable_after_it(client, flow, person):
    """A code of a session that has ended must not open a new set of tokens for it."""
    code = flow.code(person)
    page = client.get("/deconnexion")
    assert client.post("/deconnexion", data={"csrf_token": csrf_of(page.text)}).status_code == 200
    response = flow.token(code)
    assert response.status_code == 400, "tokens issued for a session that has ended"
    assert response.get_json()["error"] == "invalid_grant"
