"""Discovery metadata and JWKS, as a portal reads them (Config OP)."""

from urllib.parse import urlsplit

from joserfc import jwt

from tests.conftest import ISSUER
from tests.factories import Flow
from tests.oidc.helpers import jwks


def metadata(client) -> dict:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_discovery_issuer_equals_configured_issuer(app, client):
    """oidcc-discovery-endpoint-verification"""
    data = metadata(client)
    assert data["issuer"] == app.config["ISSUER"] == ISSUER
    for name, value in data.items():
        if name.endswith(("_endpoint", "_uri")):
            assert value.startswith(ISSUER + "/"), (name, value)


def test_discovery_declares_what_a_code_flow_portal_needs(client):
    """oidcc-discovery-endpoint-verification"""
    data = metadata(client)
    assert "openid" in data["scopes_supported"]
    assert data["response_types_supported"] == ["code"]
    assert set(data["subject_types_supported"]) == {"public", "pairwise"}
    assert "RS256" in data["id_token_signing_alg_values_supported"]
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert data["claims_parameter_supported"] is True
    assert data["request_parameter_supported"] is False
    assert data["request_uri_parameter_supported"] is False
    assert {"client_secret_basic", "client_secret_post", "none"} <= set(
        data["token_endpoint_auth_methods_supported"]
    )
    assert {"sub", "iss", "auth_time", "acr", "email", "address"} <= set(data["claims_supported"])


def test_discovery_advertises_authorization_response_iss_parameter(client):
    """RFC 9207 §3: the portal then requires `iss` on every authorization response."""
    assert metadata(client)["authorization_response_iss_parameter_supported"] is True


def test_discovery_advertises_logout_support(client):
    """oidcc-rp-initiated-logout-discovery-endpoint-verification,
    oidcc-backchannel-logout-discovery-endpoint-verification"""
    data = metadata(client)
    assert data["end_session_endpoint"] == ISSUER + "/logout"
    assert data["backchannel_logout_supported"] is True
    assert data["backchannel_logout_session_supported"] is True


def test_every_advertised_endpoint_answers(client):
    """oidcc-discovery-endpoint-verification: each endpoint exists and handles a bare request."""
    data = metadata(client)
    calls = {
        "authorization_endpoint": ("GET", 400),
        "token_endpoint": ("POST", 400),
        "userinfo_endpoint": ("GET", 401),
        "jwks_uri": ("GET", 200),
        "end_session_endpoint": ("GET", 200),
        "revocation_endpoint": ("POST", 401),
        "introspection_endpoint": ("POST", 401),
    }
    answers = {}
    for name, (method, _) in calls.items():
        path = urlsplit(data[name]).path
        answers[name] = client.open(path, method=method).status_code
    assert answers == {name: status for name, (_, status) in calls.items()}


def test_jwks_publishes_public_signing_keys_with_kid(client):
    """oidcc-discovery-endpoint-verification (ValidateServerJWKs)"""
    data = metadata(client)
    response = client.get(urlsplit(data["jwks_uri"]).path)
    assert response.status_code == 200
    keys = response.get_json()["keys"]
    assert keys
    for key in keys:
        assert key["kid"] and key["use"] == "sig"
        assert key["alg"] in data["id_token_signing_alg_values_supported"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "private key material published"
    assert len({key["kid"] for key in keys}) == len(keys)


def test_jwks_keys_verify_an_id_token(client, factories):
    """oidcc-idtoken-signature, oidcc-idtoken-rs256: the ID token verifies with the JWKS."""
    tokens = Flow(client, factories.portal()).tokens(factories.account())
    keyset = jwks(client)
    token = jwt.decode(tokens["id_token"], keyset)
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] in {key.kid for key in keyset.keys}
    assert token.claims["iss"] == metadata(client)["issuer"]
