"""Ending sessions from Mon compte, as a portal sees it: its refresh token fails and it
receives a back-channel logout token for the session it was serving."""

from __future__ import annotations

import pytest
from joserfc import jwt

from idp.oidc.models import BackchannelDelivery
from tests.account.conftest import live_session_ids
from tests.account.conftest import login
from tests.account.conftest import post_form
from tests.factories import Flow
from tests.oidc.helpers import BACKCHANNEL_EVENT
from tests.oidc.helpers import Receiver
from tests.oidc.helpers import id_token_claims
from tests.oidc.helpers import jwks
from tests.oidc.helpers import rows
from tests.oidc.helpers import wait_for_backchannel_threads


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    wait_for_backchannel_threads()
    started.stop()


def refresh_error(client, flow, tokens) -> str | None:
    response = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=flow.auth(),
    )
    return None if response.status_code == 200 else response.get_json()["error"]


def portal_session(app, factories, person, portal):
    """Another browser logged into `portal`: its tokens and the sid of its ID token."""
    browser = app.test_client()
    flow = Flow(browser, portal)
    tokens = flow.tokens(person)
    return browser, flow, tokens, id_token_claims(browser, tokens)["sid"]


def logout_sids(client, receiver, count: int, client_id: str) -> set[str]:
    sids = set()
    for _ in range(count):
        request = receiver.wait(5)
        claims = jwt.decode(request["form"]["logout_token"], jwks(client)).claims
        assert claims["aud"] == client_id and claims["events"] == {BACKCHANNEL_EVENT: {}}
        sids.add(claims["sid"])
    return sids


def test_ending_one_session_from_mon_compte_is_seen_by_its_portal(app, client, factories, receiver):
    person = factories.account()
    portal = factories.portal(backchannel_logout_uri=receiver.uri)
    me = login(client, person)
    before = set(live_session_ids(app, person.id))
    ended, ended_flow, ended_tokens, ended_sid = portal_session(app, factories, person, portal)
    [target] = set(live_session_ids(app, person.id)) - before
    kept, kept_flow, kept_tokens, kept_sid = portal_session(app, factories, person, portal)
    assert post_form(me, f"/mon-compte/sessions/{target}/fin").status_code == 302
    assert logout_sids(client, receiver, 1, portal.client_id) == {ended_sid}
    assert any(d.client_id == portal.client_id for d in rows(app, BackchannelDelivery))
    assert refresh_error(ended, ended_flow, ended_tokens) == "invalid_grant"
    # The other portal session is untouched.
    assert refresh_error(kept, kept_flow, kept_tokens) is None
    assert kept_sid != ended_sid


def test_ending_all_other_sessions_from_mon_compte_logs_every_portal_out(
    app, client, factories, receiver
):
    person = factories.account()
    first = factories.portal(backchannel_logout_uri=receiver.uri, name="Premier portail")
    second = factories.portal(
        backchannel_logout_uri=receiver.uri,
        name="Second portail",
        redirect_uris=["https://second.example/cb"],
    )
    me = login(client, person)
    a = portal_session(app, factories, person, first)
    b = portal_session(app, factories, person, second)
    assert post_form(me, "/mon-compte/sessions/autres/fin").status_code == 302
    got = []
    for _ in range(2):
        request = receiver.wait(5)
        claims = jwt.decode(request["form"]["logout_token"], jwks(client)).claims
        got.append((claims["aud"], claims["sid"]))
    assert sorted(got) == sorted([(first.client_id, a[3]), (second.client_id, b[3])])
    assert {d.client_id for d in rows(app, BackchannelDelivery)} == {
        first.client_id,
        second.client_id,
    }
    for browser, flow, tokens, _sid in (a, b):
        assert refresh_error(browser, flow, tokens) == "invalid_grant"
        assert browser.get("/mon-compte").status_code == 302
    assert me.get("/mon-compte").status_code == 200  # this browser stays logged in
