"""The FranceConnect stand-in itself, over HTTP: what it accepts, refuses and returns."""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import urlencode

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.federation.standin import StandinRefused
from idp.federation.standin import __main__ as standin_main
from idp.federation.standin import create_standin_app
from idp.federation.standin import standin_config
from tests.federation.conftest import CHOOSE
from tests.federation.conftest import CLIENT_ID
from tests.federation.conftest import CLIENT_SECRET
from tests.federation.conftest import query_of

SUB = re.compile(r"[0-9a-f]{64}v1")


def authorize_params(platform, **overrides) -> dict:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": platform.idp_url + "/federation/franceconnect/callback",
        "scope": "openid given_name family_name birthdate",
        "state": secrets.token_hex(32),
        "nonce": secrets.token_hex(32),
        "acr_values": "eidas1" if platform.preset == "franceconnect" else "eidas2",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize(platform, **overrides) -> requests.Response:
    query = urlencode(authorize_params(platform, **overrides))
    return requests.get(f"{platform.issuer}/authorize?{query}", allow_redirects=False, timeout=5)


def code_for(platform, identity="angela", **overrides) -> tuple[str, dict]:
    params = authorize_params(platform, **overrides)
    response = requests.get(
        f"{platform.issuer}/authorize?{urlencode(params)}", allow_redirects=True, timeout=5
    )
    action = CHOOSE.search(response.text).group(1)
    base = platform.issuer.split("/api/")[0]
    chosen = requests.post(
        base + action, data={"identity": identity}, allow_redirects=False, timeout=5
    )
    back = query_of(chosen.headers["Location"])
    assert back["state"] == params["state"] and back["iss"] == platform.issuer
    return back["code"], params


def redeem(platform, code, params, **overrides) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": params["redirect_uri"],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **overrides,
    }
    return requests.post(f"{platform.issuer}/token", data=data, timeout=5)


def keyset(platform) -> KeySet:
    return KeySet.import_key_set(requests.get(f"{platform.issuer}/jwks", timeout=5).json())


def test_discovery_of_both_platforms(fc, fc_plus):
    doc = requests.get(f"{fc.issuer}/.well-known/openid-configuration", timeout=5).json()
    assert doc["issuer"] == fc.issuer
    assert doc["token_endpoint"] == fc.issuer + "/token"
    assert doc["end_session_endpoint"] == fc.issuer + "/session/end"
    assert doc["acr_values_supported"] == ["eidas1"]
    assert "client_secret_basic" not in doc["token_endpoint_auth_methods_supported"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert "id_token_encryption_alg_values_supported" not in doc
    plus = requests.get(f"{fc_plus.issuer}/.well-known/openid-configuration", timeout=5).json()
    assert plus["acr_values_supported"] == ["eidas2", "eidas3"]
    assert plus["id_token_signing_alg_values_supported"] == ["ES256"]
    assert "RSA-OAEP-256" in plus["id_token_encryption_alg_values_supported"]
    assert plus["userinfo_encryption_enc_values_supported"] == ["A256GCM"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "unknown"},
        {"redirect_uri": "https://evil.example/cb"},
        {"nonce": None},
        {"state": "too-short"},
        {"acr_values": None},
        {"acr_values": "eidas3"},
        {"response_type": "token"},
        {"scope": "profile"},
        {"prompt": "none"},
        {"claims": "{not json"},
    ],
)
def test_malformed_authorize_shows_a_page_and_never_redirects(fc, overrides):
    response = authorize(fc, **overrides)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "Une erreur est survenue" in response.text


def test_unknown_scope_comes_back_as_invalid_scope(fc):
    response = authorize(fc, scope="openid address")
    assert response.status_code == 303
    assert query_of(response.headers["Location"])["error"] == "invalid_scope"


def test_token_endpoint_accepts_client_secret_post_only(fc):
    code, params = code_for(fc)
    basic = requests.post(
        f"{fc.issuer}/token",
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": params["redirect_uri"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )  # fmt: skip
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    assert redeem(fc, code, params, client_secret="wrong").status_code == 401


def test_code_is_single_use_bound_and_short_lived(fc):
    code, params = code_for(fc)
    assert redeem(fc, code, params, redirect_uri="https://other.example/cb").status_code == 400
    code, params = code_for(fc)
    assert redeem(fc, code, params).status_code == 200
    assert redeem(fc, code, params).json()["error"] == "invalid_grant"
    code, params = code_for(fc)
    fc.state.codes[code]["expires"] = time.time() - 1  # 30 s have passed
    assert redeem(fc, code, params).json()["error"] == "invalid_grant"


def test_id_token_and_signed_userinfo(fc):
    code, params = code_for(fc, "marie-helene", scope="openid birth preferred_username")
    token = redeem(fc, code, params).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 60
    assert "refresh_token" not in token
    claims = jwt.decode(token["id_token"], keyset(fc), algorithms=["ES256"]).claims
    assert SUB.fullmatch(claims["sub"]) and claims["aud"] == CLIENT_ID
    assert claims["nonce"] == params["nonce"] and claims["acr"] == "eidas1"
    assert claims["exp"] - claims["iat"] == 60
    info = requests.get(
        f"{fc.issuer}/userinfo",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert info.headers["Content-Type"].startswith("application/jwt")
    body = jwt.decode(info.text, keyset(fc), algorithms=["ES256"]).claims
    assert body["sub"] == claims["sub"]
    assert body["birthplace"] == "33063" and body["preferred_username"] == "DURAND"
    assert "given_name" not in body and "email" not in body  # only what the scopes ask
    # The same person gets the same pairwise sub on every login.
    code, params = code_for(fc, "marie-helene")
    again = jwt.decode(redeem(fc, code, params).json()["id_token"], keyset(fc)).claims
    assert again["sub"] == claims["sub"]


def test_expired_access_token_is_refused_at_userinfo(fc):
    code, params = code_for(fc)
    token = redeem(fc, code, params).json()["access_token"]
    fc.state.access_tokens[token]["expires"] = time.time() - 1
    info = requests.get(
        f"{fc.issuer}/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert info.status_code == 401


def test_fc_plus_tokens_are_encrypted_for_the_client(fc_plus):
    code, params = code_for(fc_plus)
    token = redeem(fc_plus, code, params).json()
    assert token["id_token"].count(".") == 4
    info = requests.get(
        f"{fc_plus.issuer}/userinfo",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert info.text.count(".") == 4 and info.headers["Content-Type"].startswith("application/jwt")


def test_session_end_checks_the_hint_and_the_registered_uri(fc):
    code, params = code_for(fc)
    id_token = redeem(fc, code, params).json()["id_token"]
    registered = fc.idp_url + "/federation/franceconnect/logged-out"

    def end(**query):
        return requests.get(
            f"{fc.issuer}/session/end?{urlencode(query)}", allow_redirects=False, timeout=5
        )

    assert (
        end(id_token_hint="x.y.z", post_logout_redirect_uri=registered, state="s").status_code
        == 400
    )
    assert (
        end(
            id_token_hint=id_token, post_logout_redirect_uri="https://evil.example/", state="s"
        ).status_code
        == 400
    )
    ok = end(id_token_hint=id_token, post_logout_redirect_uri=registered, state="s" * 32)
    assert ok.status_code == 303 and ok.headers["Location"] == registered + "?state=" + "s" * 32


def test_the_stand_in_is_refused_in_production():
    with pytest.raises(StandinRefused):
        create_standin_app({**standin_config("http://127.0.0.1:5000", 5200), "env": "production"})


def test_command_line_serves_the_stand_in_for_an_idp(monkeypatch, capsys):
    served = {}

    def run_simple(host, port, app, threaded):
        served.update(host=host, port=port, app=app)

    monkeypatch.setattr(standin_main, "run_simple", run_simple)
    standin_main.main(
        ["--port", "5299", "--preset", "franceconnect-plus", "--idp", "http://127.0.0.1:5000"]
    )
    state = served["app"].extensions["standin"]
    assert served["port"] == 5299 and state.preset == "franceconnect-plus"
    client = state.clients["idp-local"]
    assert client["redirect_uris"] == ["http://127.0.0.1:5000/federation/franceconnect/callback"]
    assert client["jwks_uri"] == "http://127.0.0.1:5000/federation/jwks.json"
    out = capsys.readouterr().out
    assert "IDP_FRANCECONNECT_ISSUER=http://127.0.0.1:5299/api/v2" in out
    assert "IDP_FRANCECONNECT_PRESET=franceconnect-plus" in out
