"""idp behind a TLS-terminating reverse proxy on another host (an ingress, a load balancer):
gunicorn receives plain http, and the proxy says what the browser or portal used in
X-Forwarded-Proto. With IDP_TRUSTED_PROXIES that header is believed (Werkzeug's ProxyFix,
with the client address from X-Forwarded-For); without it, it is ignored, so nobody can
claim https from outside, and Authlib refuses plain http to a host other than loopback."""

from __future__ import annotations

import pytest

from tests.factories import Factories

ISSUER = "https://idp.example.fr"
FROM_PROXY = {"X-Forwarded-Proto": "https"}


@pytest.fixture
def behind_proxy(make_app):
    return make_app(ISSUER=ISSUER, TRUSTED_PROXIES=1)


def _grant(app, headers):
    portal = Factories(app).portal(grants=["client_credentials"])
    return app.test_client().post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=(portal.client_id, portal.secret),
        base_url="http://10.0.0.12:8000",  # what the proxy connects to
        headers={"X-Forwarded-For": "203.0.113.5", **headers},
    )


def test_a_portal_gets_its_token_through_the_proxy(behind_proxy):
    response = _grant(behind_proxy, FROM_PROXY)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["token_type"].lower() == "bearer"


def test_without_trusted_proxies_a_forwarded_https_is_not_believed(make_app):
    app = make_app(ISSUER=ISSUER)
    response = _grant(app, FROM_PROXY)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
