"""The authorization endpoint as a portal sees it: redirects, errors, prompt, max_age, hints."""

import json
import re
import time

import pytest

from tests.conftest import ISSUER
from tests.factories import REDIRECT
from tests.factories import Flow
from tests.factories import pkce_pair
from tests.oidc.helpers import bearer
from tests.oidc.helpers import error_page
from tests.oidc.helpers import error_redirect
from tests.oidc.helpers import id_token_claims
from tests.oidc.helpers import log_in
from tests.oidc.helpers import query_of
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


# success -------------------------------------------------------------------------------
def test_code_response_carries_code_state_and_iss(flow, person):
    """oidcc-server (RFC 9207 §2: iss in every authorization response)."""
    response = flow.login(flow.authorize(), person.email, person.password)
    query = flow.follow_to_callback(response)
    assert set(query) == {"code", "state", "iss"}
    assert query["state"] == flow.state
    assert query["iss"] == ISSUER


def test_authorization_request_by_post_succeeds(client, flow, person):
    """oidcc-ensure-post-request-succeeds"""
    response = client.post("/authorize", data=flow.params())
    assert response.headers["Location"].startswith("/connexion")
    query = flow.follow_to_callback(flow.login(response, person.email, person.password))
    assert query["state"] == flow.state and query["iss"] == ISSUER
    assert flow.token(query["code"]).status_code == 200


def test_authorization_request_by_post_with_session_returns_code(client, flow, person):
    """oidcc-ensure-post-request-succeeds"""
    log_in(client, person)
    query = redirect_query(client.post("/authorize", data=flow.params()), flow.portal.redirect_uri)
    assert query["code"] and query["state"] == flow.state


def test_unknown_parameters_are_ignored(flow, person):
    """oidcc-ensure-request-with-unknown-parameter-succeeds"""
    code = flow.code(person, extra_unknown_parameter="whatever", another="1")
    assert flow.token(code).status_code == 200


def test_scopes_in_another_order_succeed(flow, person):
    """oidcc-ensure-other-scope-order-succeeds"""
    tokens = flow.tokens(person, scope="email openid")
    assert set(tokens["scope"].split()) == {"openid", "email"}
    assert "id_token" in tokens


def test_nonce_is_returned_in_the_id_token(client, flow, person):
    """oidcc-server"""
    claims = id_token_claims(client, flow.tokens(person))
    assert claims["nonce"] == flow.nonce


def test_request_without_nonce_succeeds_and_id_token_has_no_nonce(client, flow, person):
    """oidcc-ensure-request-without-nonce-succeeds-for-code-flow"""
    claims = id_token_claims(client, flow.tokens(person, nonce=None))
    assert "nonce" not in claims


def test_display_page_is_accepted(flow, person):
    """oidcc-display-page"""
    assert flow.token(flow.code(person, display="page")).status_code == 200


def test_acr_values_are_accepted_and_acr_is_returned(client, flow, person):
    """oidcc-ensure-request-with-acr-values-succeeds"""
    claims = id_token_claims(client, flow.tokens(person, acr_values="eidas1"))
    assert claims["acr"] == "eidas1"


def test_ui_locales_is_accepted(client, flow, person):
    """oidcc-ui-locales"""
    response = flow.authorize(ui_locales="en")
    assert response.headers["Location"].startswith("/connexion")
    assert client.get(response.headers["Location"]).status_code == 200
    query = flow.follow_to_callback(flow.login(response, person.email, person.password))
    assert query["code"]


def test_claims_locales_is_accepted(flow, person):
    """oidcc-claims-locales"""
    assert flow.token(flow.code(person, claims_locales="en")).status_code == 200


# errors that go back to the portal ----------------------------------------------------
def test_missing_response_type_redirects_with_error(flow):
    """oidcc-response-type-missing"""
    query = redirect_query(flow.authorize(response_type=None), flow.portal.redirect_uri)
    assert query["error"] in {"invalid_request", "unsupported_response_type"}
    assert query["state"] == flow.state and query["iss"] == ISSUER


def test_unsupported_response_type_redirects_with_error_state_and_iss(flow):
    """RFC 6749 §4.1.2.1, RFC 9207 §2: error responses carry iss too."""
    error_redirect(
        flow.authorize(response_type="token"), flow.portal, "unsupported_response_type", flow.state
    )


def test_error_redirect_without_state_has_no_state(flow):
    query = error_redirect(
        flow.authorize(response_type="token", state=None),
        flow.portal,
        "unsupported_response_type",
        None,
    )
    assert "state" not in query


def test_request_object_is_rejected_as_unsupported(flow):
    """oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported"""
    request_object = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."
    error_redirect(
        flow.authorize(request=request_object), flow.portal, "request_not_supported", flow.state
    )


def test_request_uri_is_rejected_as_unsupported(flow):
    """oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported"""
    response = flow.authorize(request_uri="https://portal.example/request.jwt")
    error_redirect(response, flow.portal, "request_uri_not_supported", flow.state)


def test_invalid_claims_parameter_redirects_with_invalid_request(flow):
    error_redirect(flow.authorize(claims="not json"), flow.portal, "invalid_request", flow.state)


def test_response_mode_other_than_query_is_refused(flow):
    error_redirect(
        flow.authorize(response_mode="fragment"), flow.portal, "invalid_request", flow.state
    )


# errors shown as a page: no trustworthy redirect_uri ------------------------------------
def test_unknown_client_shows_error_page_and_never_redirects(flow):
    error_page(flow.authorize(client_id="no-such-portal"))


def test_missing_client_id_shows_error_page(flow):
    error_page(flow.authorize(client_id=None))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://attacker.example/callback",
        REDIRECT + "/other",
        REDIRECT + "?extra=1",
        REDIRECT.upper(),
        REDIRECT.replace("https://", "http://"),
    ],
)
def test_unregistered_redirect_uri_shows_error_page_and_never_redirects(flow, redirect_uri):
    """oidcc-ensure-registered-redirect-uri: exact match only."""
    error_page(flow.authorize(redirect_uri=redirect_uri))


def test_mismatching_redirect_uri_with_invalid_response_type_still_does_not_redirect(flow):
    """An error never goes to an unverified redirect_uri, whatever else is wrong."""
    error_page(flow.authorize(redirect_uri="https://attacker.example/cb", response_type="token"))


def test_missing_redirect_uri_with_several_registered_shows_error_page(client, factories):
    """oidcc-ensure-redirect-uri-in-authorization-request"""
    portal = factories.portal(redirect_uris=[REDIRECT, "https://portal.example/other"])
    error_page(Flow(client, portal).authorize(redirect_uri=None))


# PKCE --------------------------------------------------------------------------------
def test_public_client_without_code_challenge_is_refused(client, factories):
    portal = factories.portal(public=True)
    flow = Flow(client, portal)
    response = flow.authorize(code_challenge=None, code_challenge_method=None)
    error_redirect(response, portal, "invalid_request", flow.state)


def test_plain_code_challenge_method_is_refused(flow):
    response = flow.authorize(code_challenge=flow.verifier, code_challenge_method="plain")
    error_redirect(response, flow.portal, "invalid_request", flow.state)


def test_valid_pkce_succeeds(flow, person):
    """oidcc-ensure-request-with-valid-pkce-succeeds"""
    assert flow.token(flow.code(person)).status_code == 200


def test_wrong_code_verifier_is_invalid_grant(flow, person):
    code = flow.code(person)
    other_verifier, _ = pkce_pair()
    response = flow.token(code, code_verifier=other_verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_refused_when_a_challenge_was_sent(flow, person):
    code = flow.code(person)
    response = flow.token(code, code_verifier="")
    assert response.status_code == 400
    assert response.get_json()["error"] in {"invalid_request", "invalid_grant"}


# prompt --------------------------------------------------------------------------------
def test_prompt_none_without_session_returns_login_required(flow):
    """oidcc-prompt-none-not-logged-in"""
    error_redirect(flow.authorize(prompt="none"), flow.portal, "login_required", flow.state)


def test_prompt_none_combined_with_another_value_is_invalid_request(flow):
    """OIDC Core 3.1.2.1: none with any other prompt value is an error."""
    error_redirect(flow.authorize(prompt="none login"), flow.portal, "invalid_request", flow.state)


def test_prompt_none_with_session_returns_code(client, flow, person):
    """oidcc-prompt-none-logged-in"""
    first = id_token_claims(client, flow.tokens(person))
    query = redirect_query(flow.authorize(prompt="none"), flow.portal.redirect_uri)
    assert query["state"] == flow.state and query["iss"] == ISSUER
    second = id_token_claims(client, flow.token(query["code"]).get_json())
    assert second["sub"] == first["sub"] and second["sid"] == first["sid"]


def test_prompt_login_forces_the_login_page_and_renews_auth_time(client, flow, person):
    """oidcc-prompt-login"""
    first = id_token_claims(client, flow.tokens(person))
    time.sleep(1.1)  # auth_time has a one-second resolution
    response = flow.authorize(prompt="login")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion"), (
        "session reused despite prompt=login"
    )
    query = flow.follow_to_callback(flow.login(response, person.email, person.password))
    second = id_token_claims(client, flow.token(query["code"]).get_json())
    assert second["auth_time"] > first["auth_time"]
    assert second["sub"] == first["sub"]


def test_prompt_login_cannot_be_satisfied_by_replaying_the_return_url(client, flow, person):
    """The return trip after login is recognised once; a second one asks again."""
    flow.tokens(person)
    response = flow.authorize(prompt="login")
    back = flow.login(response, person.email, person.password)
    return_url = back.headers["Location"]
    assert redirect_query(client.get(return_url), flow.portal.redirect_uri)["code"]
    again = client.get(return_url)
    assert again.status_code == 302 and again.headers["Location"].startswith("/connexion")


def test_prompt_login_is_not_satisfied_by_a_login_made_earlier_in_the_same_second(
    client, flow, person
):
    """oidcc-prompt-login: skipping the login page and going straight back to the return
    URL must not yield a code, even when the previous login was less than a second ago."""
    time.sleep(1.02 - time.time() % 1)  # start of a wall-clock second
    log_in(client, person)
    response = flow.authorize(prompt="login")
    return_url = query_of(response.headers["Location"])["next"]
    skipped = client.get(return_url)
    assert skipped.status_code == 302
    assert skipped.headers["Location"].startswith("/connexion"), "code issued without a new login"


# max_age -------------------------------------------------------------------------------
def test_max_age_1_forces_login_after_a_second_and_returns_auth_time(client, flow, person):
    """oidcc-max-age-1"""
    first = id_token_claims(client, flow.tokens(person))
    time.sleep(1.1)
    response = flow.authorize(max_age="1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion"), "old session reused"
    query = flow.follow_to_callback(flow.login(response, person.email, person.password))
    second = id_token_claims(client, flow.token(query["code"]).get_json())
    assert "auth_time" in second
    assert second["auth_time"] > first["auth_time"]


def test_max_age_10000_reuses_the_session(client, flow, person):
    """oidcc-max-age-10000"""
    first = id_token_claims(client, flow.tokens(person))
    query = redirect_query(flow.authorize(max_age="10000"), flow.portal.redirect_uri)
    second = id_token_claims(client, flow.token(query["code"]).get_json())
    assert second["auth_time"] == first["auth_time"]


def test_prompt_none_with_a_session_older_than_max_age_returns_login_required(client, flow, person):
    """OIDC Core 3.1.2.1: max_age needs a new login, which prompt=none forbids."""
    flow.tokens(person)
    time.sleep(1.1)
    error_redirect(
        flow.authorize(prompt="none", max_age="1"), flow.portal, "login_required", flow.state
    )


def test_invalid_max_age_redirects_with_invalid_request(client, flow, person):
    log_in(client, person)
    error_redirect(flow.authorize(max_age="soon"), flow.portal, "invalid_request", flow.state)


# hints ---------------------------------------------------------------------------------
def test_id_token_hint_of_the_logged_in_person_with_prompt_none_returns_code(client, flow, person):
    """oidcc-id-token-hint"""
    tokens = flow.tokens(person)
    response = flow.authorize(prompt="none", id_token_hint=tokens["id_token"])
    query = redirect_query(response, flow.portal.redirect_uri)
    assert query["code"] and query["state"] == flow.state


def test_id_token_hint_of_another_person_with_prompt_none_returns_login_required(
    app, client, factories, flow, person
):
    """oidcc-id-token-hint: the hint names someone else than the session's person."""
    other = factories.account(email="louis.pasteur@example.fr", given_name="Louis")
    other_tokens = Flow(app.test_client(), flow.portal).tokens(other)
    flow.tokens(person)
    response = flow.authorize(prompt="none", id_token_hint=other_tokens["id_token"])
    error_redirect(response, flow.portal, "login_required", flow.state)


def test_forged_id_token_hint_with_prompt_none_returns_login_required(client, flow, person):
    tokens = flow.tokens(person)
    header, payload, _ = tokens["id_token"].split(".")
    response = flow.authorize(prompt="none", id_token_hint=f"{header}.{payload}.c2lnbmF0dXJl")
    error_redirect(response, flow.portal, "login_required", flow.state)


def test_login_hint_prefills_the_identifier_field(client, flow):
    """oidcc-login-hint"""
    response = flow.authorize(login_hint="marie.curie@example.fr")
    assert response.headers["Location"].startswith("/connexion")
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    field = re.search(r'<input[^>]*name="identifier"[^>]*>', page.text)
    assert field, "no identifier field"
    assert 'value="marie.curie@example.fr"' in field.group(0)


# claims parameter ------------------------------------------------------------------------
def test_essential_claims_are_returned_even_outside_the_scope(client, flow, person):
    """oidcc-claims-essential"""
    request = {
        "id_token": {"email": {"essential": True}},
        "userinfo": {"name": {"essential": True}},
    }
    tokens = flow.tokens(person, scope="openid", claims=json.dumps(request))
    claims = id_token_claims(client, tokens)
    assert claims["email"] == person.email
    assert "given_name" not in claims
    info = client.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert info["name"] == "Marie CURIE"
    assert "email" not in info


def test_claims_parameter_cannot_reach_beyond_the_portal_registration(client, factories, person):
    portal = factories.portal(scope="openid email")
    flow = Flow(client, portal)
    request = {"id_token": {"given_name": {"essential": True}}}
    claims = id_token_claims(
        client, flow.tokens(person, scope="openid", claims=json.dumps(request))
    )
    assert "given_name" not in claims
