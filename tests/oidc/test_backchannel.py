"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): logout tokens POSTed to a
portal's backchannel_logout_uri, here a real HTTP server on 127.0.0.1."""

import time
from urllib.parse import urlencode

import pytest
from joserfc import jwt

from idp.oidc.models import BackchannelDelivery
from tests.conftest import ISSUER
from tests.factories import POST_LOGOUT
from tests.factories import Flow
from tests.factories import csrf_of
from tests.oidc.helpers import BACKCHANNEL_EVENT
from tests.oidc.helpers import Receiver
from tests.oidc.helpers import error_redirect
from tests.oidc.helpers import id_token_claims
from tests.oidc.helpers import jwks
from tests.oidc.helpers import rows
from tests.oidc.helpers import seconds_ago
from tests.oidc.helpers import update_rows
from tests.oidc.helpers import wait_for_backchannel_threads


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    wait_for_backchannel_threads()
    started.stop()


@pytest.fixture
def person(factories):
    return factories.account()


def rp_initiated_logout(client, tokens):
    """The portal sends the person to end_session_endpoint with its ID token."""
    response = client.get(
        "/logout?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": POST_LOGOUT,
                "state": "bye",
            }
        )
    )
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"] == POST_LOGOUT + "?state=bye"
    return response


def local_logout(client, tokens):
    """The person logs out on the provider's own page."""
    page = client.get("/deconnexion")
    response = client.post("/deconnexion", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 200, response.status_code
    return response


def logout_token(client, request: dict):
    assert request["path"] == "/backchannel-logout"
    assert request["content_type"].startswith("application/x-www-form-urlencoded")
    assert set(request["form"]) == {"logout_token"}
    token = jwt.decode(request["form"]["logout_token"], jwks(client))
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
    ).validate(token.claims)
    return token


def test_rp_initiated_logout_posts_a_valid_logout_token(client, factories, receiver, person):
    """oidcc-backchannel-rp-initiated-logout"""
    portal = factories.portal(backchannel_logout_uri=receiver.uri)
    flow = Flow(client, portal)
    tokens = flow.tokens(person)
    id_claims = id_token_claims(client, tokens)
    rp_initiated_logout(client, tokens)
    token = logout_token(client, receiver.wait(5))
    assert token.header["typ"] == "logout+jwt"
    assert token.header["kid"]
    claims = token.claims
    assert claims["aud"] == portal.client_id
    assert claims["sid"] == id_claims["sid"]
    assert claims["sub"] == id_claims["sub"]
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert "nonce" not in claims
    error_redirect(flow.authorize(prompt="none"), portal, "login_required", flow.state)


def test_refresh_token_fails_after_back_channel_logout(client, factories, receiver, person):
    """oidcc-backchannel-rp-initiated-logout"""
    portal = factories.portal(backchannel_logout_uri=receiver.uri)
    tokens = Flow(client, portal).tokens(person)
    rp_initiated_logout(client, tokens)
    receiver.wait(5)
    response = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_local_logout_also_posts_a_logout_token(client, factories, receiver, person):
    portal = factories.portal(backchannel_logout_uri=receiver.uri)
    tokens = Flow(client, portal).tokens(person)
    id_claims = id_token_claims(client, tokens)
    local_logout(client, tokens)
    claims = logout_token(client, receiver.wait(5)).claims
    assert claims["sid"] == id_claims["sid"] and claims["aud"] == portal.client_id


def test_pairwise_portal_receives_its_pairwise_subject(client, factories, receiver, person):
    portal = factories.portal(
        backchannel_logout_uri=receiver.uri,
        subject_type="pairwise",
        redirect_uris=["https://pairwise.example/cb"],
    )
    tokens = Flow(client, portal).tokens(person)
    sub = id_token_claims(client, tokens)["sub"]
    assert sub != person.sub
    local_logout(client, tokens)
    assert logout_token(client, receiver.wait(5)).claims["sub"] == sub


def test_only_portals_that_got_tokens_in_the_session_are_notified(
    client, factories, receiver, person
):
    used = [
        factories.portal(name=f"Portail {n}", backchannel_logout_uri=receiver.uri) for n in "AB"
    ]
    factories.portal(name="Portail C", backchannel_logout_uri=receiver.uri)  # never used
    for portal in used:
        tokens = Flow(client, portal).tokens(person)
    local_logout(client, tokens)
    audiences = {logout_token(client, receiver.wait(5)).claims["aud"] for _ in used}
    assert audiences == {portal.client_id for portal in used}
    wait_for_backchannel_threads()
    assert receiver.requests.empty(), "a portal without tokens in the session was notified"


@pytest.mark.parametrize("do_logout", [rp_initiated_logout, local_logout])
def test_portal_down_neither_blocks_nor_breaks_logout_and_retry_delivers(
    app, client, factories, runner, person, do_logout
):
    down = Receiver()  # a port nobody listens on, yet
    portal = factories.portal(backchannel_logout_uri=down.uri)
    tokens = Flow(client, portal).tokens(person)
    try:
        started = time.monotonic()
        do_logout(client, tokens)
        assert time.monotonic() - started < 1.5, "logout waited for the portal"
        wait_for_backchannel_threads()
        (pending,) = rows(app, BackchannelDelivery)
        assert pending.delivered_at is None
        assert pending.attempts >= 1 and pending.last_error
        down.start()
        update_rows(app, BackchannelDelivery, next_attempt_at=seconds_ago(1))  # cron runs later
        result = runner.invoke(args=["backchannel", "retry"])
        assert result.exit_code == 0, result.output
        assert "delivered=1" in result.output
        claims = logout_token(client, down.wait(5)).claims
        assert claims["aud"] == portal.client_id
        (delivered,) = rows(app, BackchannelDelivery)
        assert delivered.delivered_at is not None
    finally:
        wait_for_backchannel_threads()
        down.stop()
