"""Every failed FranceConnect round trip: a French page with the other ways in, an audit
event, and never an account change."""

from __future__ import annotations

import dataclasses
import time
from urllib.parse import quote

import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.models import Account
from idp.models import AuditEvent
from idp.oidc.models import BrowserSession
from tests.conftest import free_port
from tests.factories import Factories
from tests.factories import Flow
from tests.federation.conftest import CLIENT_ID
from tests.federation.conftest import CLIENT_SECRET
from tests.federation.conftest import IDP_TIMEOUT
from tests.federation.conftest import query_of
from tests.federation.conftest import reason_of


def nothing_changed(platform) -> None:
    with platform.idp.app_context():
        for model in (Account, FederatedIdentity, BrowserSession):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0, model


def failures(platform) -> list[dict]:
    with platform.idp.app_context():
        return [
            e.details
            for e in db.session.scalars(
                select(AuditEvent).where(AuditEvent.event == "federation.failed")
            )
        ]


def offers_other_ways(page) -> None:
    assert "Autres moyens de vous connecter" in page.text
    assert 'href="/connexion' in page.text and 'href="/inscription/citoyen' in page.text
    assert "Se connecter avec un identifiant et un mot de passe" in page.text


def test_cancel_at_franceconnect_comes_back_to_the_other_ways(fc):
    factories = Factories(fc.idp)
    portal = factories.portal()
    browser = fc.browser()
    login = Flow(browser.client, portal).authorize()
    next_url = query_of(login.headers["Location"])["next"]
    browser.to_franceconnect(next_url)
    page = browser.cancel()
    assert page.status_code == 200 and reason_of(page) == "cancelled"
    assert "Connexion avec FranceConnect annulée" in page.text
    assert "pour accéder à Portail de test" in page.text
    offers_other_ways(page)
    # The other ways keep the portal's request.
    assert "/connexion?next=/authorize" in page.text
    nothing_changed(fc)
    assert failures(fc)[0]["reason"] == "cancelled"
    assert failures(fc)[0]["detail"] == "access_denied"


@pytest.mark.parametrize(
    ("identity", "reason", "status"),
    [
        ("erreur-bad-signature", "bad_signature", 400),
        ("erreur-wrong-nonce", "bad_nonce", 400),
        ("erreur-wrong-iss", "bad_issuer", 400),
        ("erreur-wrong-aud", "bad_token", 400),
        ("erreur-expired", "bad_token", 400),
        ("erreur-low-acr", "low_acr", 400),
        ("erreur-wrong-enc-key", "bad_token", 400),
        ("erreur-token-500", "upstream_error", 502),
        ("erreur-userinfo-other-sub", "bad_userinfo", 400),
    ],
)
def test_forged_or_failed_answers_are_refused(fc, identity, reason, status):
    browser = fc.browser()
    page = browser.fc_login(identity)
    assert page.status_code == status and reason_of(page) == reason
    offers_other_ways(page)
    nothing_changed(fc)
    assert [f["reason"] for f in failures(fc)] == [reason]


@pytest.mark.parametrize(
    ("identity", "detail"),
    [
        ("erreur-wrong-iss", "ID token: iss"),
        ("erreur-wrong-aud", "ID token: aud"),
        ("erreur-expired", "expired"),
        ("erreur-wrong-enc-key", "unexpected JWE"),
    ],
)
def test_forged_id_tokens_are_refused_for_the_right_reason(fc, identity, detail):
    page = fc.browser().fc_login(identity)
    assert "La réponse de FranceConnect n'a pas pu être vérifiée" in page.text
    assert detail in failures(fc)[0]["detail"]


def test_slow_franceconnect_times_out(fc):
    browser = fc.browser()
    browser.to_franceconnect()
    started = time.monotonic()
    page = browser.choose("erreur-token-slow")
    assert time.monotonic() - started < IDP_TIMEOUT + 1.5
    assert page.status_code == 502 and reason_of(page) == "timeout"
    assert "FranceConnect ne répond pas pour le moment" in page.text
    nothing_changed(fc)


def test_wrong_state_is_refused(fc):
    browser = fc.browser()
    browser.to_franceconnect()
    callback = browser.callback_url("angela")
    state = query_of(callback)["state"]
    page = browser.get(callback.replace(state, "0" * 64))
    assert page.status_code == 400 and reason_of(page) == "bad_state"
    offers_other_ways(page)
    nothing_changed(fc)
    assert [f["reason"] for f in failures(fc)] == ["bad_state"]


def test_replayed_callback_is_refused(fc):
    browser = fc.browser()
    browser.to_franceconnect()
    callback = browser.callback_url("louise")
    assert browser.get(callback).status_code == 302  # to the sign-up page
    page = browser.get(callback)
    assert page.status_code == 400 and reason_of(page) == "bad_state"


def test_callback_in_another_browser_is_refused(fc):
    """Login CSRF: a callback URL only works in the browser that started the round trip."""
    victim, attacker = fc.browser(), fc.browser()
    attacker.to_franceconnect()
    callback = attacker.callback_url("angela")
    page = victim.get(callback)
    assert page.status_code == 400 and reason_of(page) == "bad_state"
    nothing_changed(fc)


def test_wrong_iss_in_the_callback_is_refused(fc):
    browser = fc.browser()
    browser.to_franceconnect()
    callback = browser.callback_url("angela")
    page = browser.get(callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&x="))
    assert page.status_code == 400 and reason_of(page) == "bad_issuer"
    assert "La réponse de FranceConnect n'a pas pu être vérifiée" in page.text
    offers_other_ways(page)
    nothing_changed(fc)
    assert failures(fc) == [{"provider": "franceconnect", "reason": "bad_issuer",
                             "detail": "callback iss"}]  # fmt: skip


def test_callback_without_iss_is_refused(fc):
    browser = fc.browser()
    browser.to_franceconnect()
    callback = browser.callback_url("angela")
    iss = query_of(callback)["iss"]
    page = browser.get(callback.replace("&iss=" + quote(iss, safe=""), ""))
    assert page.status_code == 400 and reason_of(page) == "bad_issuer"


def test_upstream_error_in_the_callback(fc):
    browser = fc.browser()
    browser.to_franceconnect()
    callback = browser.callback_url("angela")
    state = query_of(callback)["state"]
    page = browser.get(
        f"{fc.idp_url}/federation/franceconnect/callback"
        f"?error=server_error&error_description=x&state={state}"
    )
    assert page.status_code == 400 and reason_of(page) == "refused"
    assert "FranceConnect n'a pas pu vous identifier." in page.text


def test_unreachable_franceconnect_at_start(make_app):
    port = free_port()  # nothing listens there
    app = make_app(
        ISSUER="http://127.0.0.1:5999",
        FRANCECONNECT_ISSUER=f"http://127.0.0.1:{port}/api/v2",
        FRANCECONNECT_CLIENT_ID=CLIENT_ID,
        FRANCECONNECT_CLIENT_SECRET=CLIENT_SECRET,
        FEDERATION_TIMEOUT=IDP_TIMEOUT,
    )
    page = app.test_client().get("/federation/franceconnect/start?next=/authorize?client_id=x")
    assert page.status_code == 502 and reason_of(page) == "unreachable"
    assert 'href="/connexion?next=/authorize?client_id%3Dx"' in page.text


def test_routes_are_absent_without_franceconnect(client):
    assert client.get("/federation/franceconnect/start").status_code == 404
    assert client.get("/federation/franceconnect/callback?state=x").status_code == 404
    assert client.get("/federation/jwks.json").status_code == 404


def test_continuation_pages_expire_without_a_verified_identity(fc):
    browser = fc.browser()
    assert browser.get("/federation/franceconnect/creer-mon-compte").status_code == 410
    assert browser.get("/federation/franceconnect/lier-mon-compte").status_code == 410


def test_token_endpoint_refusing_our_client_is_refused(fc, make_app):
    """invalid_client at the token endpoint (a wrong secret): a page, no change."""
    wrong = make_app(
        ISSUER=fc.idp_url,
        FRANCECONNECT_ISSUER=fc.issuer,
        FRANCECONNECT_CLIENT_ID=CLIENT_ID,
        FRANCECONNECT_CLIENT_SECRET="not-the-secret",
        FEDERATION_TIMEOUT=IDP_TIMEOUT,
    )
    browser = dataclasses.replace(fc, idp=wrong).browser()
    page = browser.fc_login("angela")
    assert page.status_code == 400 and reason_of(page) == "refused"
    assert failures(fc)[0]["detail"] == "token: invalid_client"
    nothing_changed(fc)


@pytest.mark.parametrize(
    ("issuer", "reason"),
    [
        ("{host}/api/v2/", "bad_issuer"),  # the discovery names another issuer
        ("{host}/api/v3", "upstream_error"),  # no discovery there (404)
    ],
)
def test_discovery_problems_stop_at_the_start(fc, make_app, issuer, reason):
    host = fc.issuer.removesuffix("/api/v2")
    app = make_app(
        ISSUER=fc.idp_url,
        FRANCECONNECT_ISSUER=issuer.format(host=host),
        FRANCECONNECT_CLIENT_ID=CLIENT_ID,
        FRANCECONNECT_CLIENT_SECRET=CLIENT_SECRET,
        FEDERATION_TIMEOUT=IDP_TIMEOUT,
    )
    page = app.test_client().get("/federation/franceconnect/start")
    assert reason_of(page) == reason
