"""RFC 9068 JWT access tokens (IDP_ACCESS_TOKEN_FORMAT=jwt): revocation holds either way."""

from joserfc import jwt

from tests.factories import Flow


def test_jwt_access_token_is_rfc9068_and_still_revocable(make_app, factories):
    app = make_app(ACCESS_TOKEN_FORMAT="jwt")
    client = app.test_client()
    person = factories.account()
    portal = factories.portal()
    tokens = Flow(client, portal).tokens(person)
    keyset = app.extensions["idp_keys"].verification_keyset()
    decoded = jwt.decode(tokens["access_token"], keyset)
    assert decoded.header["typ"] == "at+jwt"
    claims = decoded.claims
    assert claims["iss"] == "http://localhost" and claims["client_id"] == portal.client_id
    assert claims["sub"] == person.sub and "openid" in claims["scope"].split()
    assert claims["exp"] - claims["iat"] == app.config["ACCESS_TOKEN_LIFETIME"]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/userinfo", headers=bearer).status_code == 200
    revoked = client.post(
        "/revoke", data={"token": tokens["access_token"]}, auth=(portal.client_id, portal.secret)
    )
    assert revoked.status_code == 200
    # A still-valid signature is not enough: the token was revoked.
    assert client.get("/userinfo", headers=bearer).status_code == 401


def test_client_credentials_jwt_subject_is_the_client(make_app, factories):
    app = make_app(ACCESS_TOKEN_FORMAT="jwt")
    portal = factories.portal(grants=["client_credentials"], redirect_uris=[], scope="openid")
    response = app.test_client().post(
        "/token", data={"grant_type": "client_credentials"}, auth=(portal.client_id, portal.secret)
    )
    keyset = app.extensions["idp_keys"].verification_keyset()
    assert jwt.decode(response.get_json()["access_token"], keyset).claims["sub"] == portal.client_id
