"""An independent, strict relying party (pyoidc, PyPI ``oic``) against idp over real HTTP.

Every other client-side check of the suite uses Authlib, the library the server is built
on, so a misreading of the specs shared by both would go unseen. pyoidc is a separate
implementation that verifies what it receives: discovery and the JWKS, the ID token's
signature against that JWKS, ``iss``, ``aud``, ``exp``, ``iat`` and ``nonce``, the ``iss``
authorization response parameter (RFC 9207) against the discovered issuer, the userinfo
``sub`` against the ID token's. ``at_hash`` is checked with pyoidc's own ``left_hash``
(``c_hash`` only exists in the hybrid flow, which idp does not offer).

idp runs as its own app (issuer ``http://127.0.0.1:<port>``) in a werkzeug server thread,
on the database and keys of the session ``app`` fixture, so that ``clean_tables`` empties
what these tests create, on SQLite and on PostgreSQL alike. The person's browser is a
``requests`` session that follows idp's own redirects and stops at the portal's
redirect_uri, which is never contacted.

OpenID conformance modules covered: oidcc-server, oidcc-server-client-secret-post,
oidcc-ensure-request-with-valid-pkce-succeeds, oidcc-userinfo-get,
oidcc-userinfo-post-header, oidcc-userinfo-post-body, oidcc-refresh-token,
oidcc-rp-initiated-logout, oidcc-idtoken-signature (a tampered signature is refused),
and oidcc-server again with an ES256 signing key.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests
from jwkest import BadSignature  # pyoidc's JOSE library (a dev dependency: never skipped)
from jwkest import jws
from oic import rndstr
from oic.oauth2.message import ErrorResponse
from oic.oauth2.message import VerificationError
from oic.oic import Client
from oic.oic.message import AccessTokenResponse
from oic.oic.message import AuthorizationResponse
from oic.oic.message import EndSessionRequest
from oic.oic.message import RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from idp import create_app
from idp.extensions import db
from idp.oidc.keys import KeyStore
from idp.oidc.models import Client as ClientModel
from tests.conftest import dispose
from tests.conftest import free_port
from tests.conftest import make_config
from tests.e2e.conftest import ServerThread
from tests.factories import POST_LOGOUT
from tests.factories import Factories
from tests.factories import Person
from tests.factories import Portal
from tests.factories import csrf_of

HOST = "127.0.0.1"
SCOPE = ["openid", "profile", "email"]


@dataclass
class LiveIdp:
    issuer: str
    app: object


def serve(app, tmp_path_factory, **overrides) -> Iterator[LiveIdp]:
    """idp with a loopback issuer on the test database, served until the generator ends."""
    port = free_port()
    issuer = f"http://{HOST}:{port}"
    config = {
        "DATABASE_URL": app.config["DATABASE_URL"],
        "KEYS_DIR": app.config["KEYS_DIR"],
        **overrides,
    }
    live_app = create_app(make_config(tmp_path_factory, ISSUER=issuer, **config))
    try:
        with ServerThread(live_app, port):
            yield LiveIdp(issuer, live_app)
    finally:
        dispose(live_app)


@pytest.fixture(scope="module")
def live_idp(app, tmp_path_factory) -> Iterator[LiveIdp]:
    yield from serve(app, tmp_path_factory)


@pytest.fixture
def es256_idp(app, tmp_path_factory) -> Iterator[LiveIdp]:
    """idp whose only signing key is an ES256 (P-256) key."""
    keys_dir = tmp_path_factory.mktemp("es256-keys")
    KeyStore(keys_dir).generate("ES256")
    yield from serve(app, tmp_path_factory, KEYS_DIR=str(keys_dir))


@pytest.fixture
def person(factories) -> Person:
    return factories.account()


@pytest.fixture
def browsers() -> Iterator[Callable[[], requests.Session]]:
    """New browsers (cookie jars) for the person, closed after the test."""
    opened: list[requests.Session] = []

    def open_one() -> requests.Session:
        opened.append(requests.Session())
        return opened[-1]

    yield open_one
    for browser in opened:
        browser.close()


def register(app, method: str = "client_secret_basic") -> Portal:
    """A confidential portal registered with idp's own factory."""
    portal = Factories(app).portal()
    if method != "client_secret_basic":
        with app.app_context():
            row = db.session.scalar(db.select(ClientModel).filter_by(client_id=portal.client_id))
            row.token_endpoint_auth_method = method
            db.session.commit()
    return portal


def relying_party(live: LiveIdp, portal: Portal, method: str, alg: str = "RS256") -> Client:
    """pyoidc, configured from discovery (and its JWKS) and a static registration."""
    rp = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    info = rp.provider_config(live.issuer)
    assert info["issuer"] == live.issuer
    assert rp.keyjar.get_verify_key(owner=live.issuer), "no verification key from jwks_uri"
    rp.store_registration_info(
        RegistrationResponse(
            client_id=portal.client_id,
            client_secret=portal.secret,
            redirect_uris=[portal.redirect_uri],
            post_logout_redirect_uris=[POST_LOGOUT],
            token_endpoint_auth_method=method,
            id_token_signed_response_alg=alg,
        )
    )
    rp.redirect_uris = [portal.redirect_uri]
    rp.post_logout_redirect_uris = [POST_LOGOUT]
    return rp


@dataclass
class Login:
    """What the portal holds after the redirect back: state, nonce, PKCE verifier, query."""

    state: str
    nonce: str
    verifier: str
    query: str


def follow(browser: requests.Session, response, stop_at: str) -> str:
    """Follow idp's redirects; return the first Location that leaves for `stop_at`."""
    for _ in range(8):
        assert response.status_code in (302, 303), (response.status_code, response.text[:300])
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(stop_at):
            return location
        response = browser.get(location, allow_redirects=False)
    raise AssertionError("too many redirects")


def log_in(rp: Client, browser: requests.Session, person: Person) -> Login:
    """Authorization request (state, nonce, PKCE S256), then the login form, as a browser."""
    state, nonce = rndstr(24), rndstr(24)
    pkce, verifier = rp.add_code_challenge()
    assert pkce["code_challenge_method"] == "S256"
    request = rp.construct_AuthorizationRequest(
        request_args={
            "response_type": "code",
            "scope": SCOPE,
            "redirect_uri": rp.redirect_uris[0],
            "state": state,
            "nonce": nonce,
            **pkce,
        }
    )
    url = request.request(rp.authorization_endpoint)
    response = browser.get(url, allow_redirects=False)
    login_url = urljoin(url, response.headers["Location"])
    assert urlsplit(login_url).path == "/connexion", login_url
    page = browser.get(login_url)
    assert page.status_code == 200
    response = browser.post(
        login_url,
        data={
            "identifier": person.email,
            "password": person.password,
            "csrf_token": csrf_of(page.text),
        },
        allow_redirects=False,
    )
    location = follow(browser, response, rp.redirect_uris[0])
    return Login(state, nonce, verifier, urlsplit(location).query)


def code_flow(rp: Client, browser: requests.Session, person: Person, method: str):
    """Log in, let pyoidc check the authorization response and redeem the code."""
    login = log_in(rp, browser, person)
    authz = rp.parse_response(AuthorizationResponse, info=login.query, sformat="urlencoded")
    assert authz["state"] == login.state
    assert authz["iss"] == rp.provider_info["issuer"]  # RFC 9207 §2
    tokens = rp.do_access_token_request(
        state=login.state,
        request_args={"code_verifier": login.verifier, "redirect_uri": rp.redirect_uris[0]},
        authn_method=method,
    )
    assert isinstance(tokens, AccessTokenResponse), tokens.to_dict()
    id_token = tokens["id_token"]  # verified by pyoidc: signature, iss, aud, exp, iat
    # The checks pyoidc leaves to the RP (OIDC Core 3.1.3.7): issuer, audience, nonce.
    rp.verify_id_token(id_token, {"nonce": login.nonce, "response_type": ["code"]})
    assert id_token["nonce"] == login.nonce
    # at_hash is optional in the code flow; when present it must match (OIDC Core 3.1.3.8).
    if "at_hash" in id_token:
        hash_alg = "HS" + id_token.jws_header["alg"][-3:]
        assert id_token["at_hash"] == jws.left_hash(tokens["access_token"], hash_alg)
    return login, tokens


def token_call(rp: Client, endpoint: str, **data) -> requests.Response:
    """POST to an endpoint of the discovery document with HTTP Basic client authentication."""
    return requests.post(
        rp.provider_info[endpoint],
        data=data,
        auth=(rp.client_id, rp.client_secret),
        timeout=5,
    )


def introspect(rp: Client, token: str, hint: str) -> dict:
    response = token_call(rp, "introspection_endpoint", token=token, token_type_hint=hint)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def end_session(
    rp: Client, browser: requests.Session, id_token_hint: str, state: str
) -> tuple[str, bool]:
    """RP-initiated logout; confirm on idp's page if it asks. The way back, and whether
    idp asked."""
    request = rp.construct_EndSessionRequest(
        request=EndSessionRequest,
        request_args={
            "id_token_hint": id_token_hint,
            "post_logout_redirect_uri": rp.post_logout_redirect_uris[0],
            "state": state,
        },
    )
    url = request.request(rp.provider_info["end_session_endpoint"])
    response = browser.get(url, allow_redirects=False)
    confirmed = response.status_code == 200
    if confirmed:  # idp asks the person to confirm (RP-Initiated §6)
        action = re.search(r'<form method="post" action="([^"]+)"', response.text)
        assert action, response.text[:300]
        response = browser.post(
            urljoin(url, html.unescape(action.group(1))),
            data={"csrf_token": csrf_of(response.text)},
            allow_redirects=False,
        )
    return follow(browser, response, rp.post_logout_redirect_uris[0]), confirmed


def assert_logged_out(rp: Client, browser: requests.Session) -> None:
    """prompt=none now answers login_required (OIDC Core 3.1.2.6), iss checked by pyoidc."""
    request = rp.construct_AuthorizationRequest(
        request_args={
            "response_type": "code",
            "scope": SCOPE,
            "redirect_uri": rp.redirect_uris[0],
            "state": rndstr(8),
            "prompt": "none",
        }
    )
    response = browser.get(request.request(rp.authorization_endpoint), allow_redirects=False)
    location = follow(browser, response, rp.redirect_uris[0])
    answer = rp.parse_response(
        AuthorizationResponse, info=urlsplit(location).query, sformat="urlencoded"
    )
    assert answer["error"] == "login_required", answer.to_dict()


def tamper(jwt: str) -> str:
    """Flip one bit of the signature, keeping the JWT well formed."""
    header, payload, signature = jwt.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01
    return ".".join([header, payload, base64.urlsafe_b64encode(raw).rstrip(b"=").decode()])


# the whole life of a login ----------------------------------------------------------------
def test_strict_rp_logs_in_refreshes_calls_userinfo_revokes_introspects_and_logs_out(
    live_idp, person, browsers
):
    """oidcc-server, oidcc-ensure-request-with-valid-pkce-succeeds, oidcc-userinfo-get,
    oidcc-userinfo-post-header, oidcc-userinfo-post-body, oidcc-refresh-token,
    oidcc-rp-initiated-logout; RFC 7009, RFC 7662, RFC 9207 (client_secret_basic)."""
    portal = register(live_idp.app)
    rp = relying_party(live_idp, portal, "client_secret_basic")
    browser = browsers()
    login, tokens = code_flow(rp, browser, person, "client_secret_basic")
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["id_token"]["sub"] == person.sub
    assert tokens["id_token"]["aud"] == [portal.client_id]

    # UserInfo: GET and POST with the bearer header, POST with the token in the form body
    # (RFC 6750 §2.1, §2.2); pyoidc checks that sub equals the ID token's (OIDC Core 5.3.2).
    ways = [
        {"method": "GET"},
        {"method": "POST", "behavior": "use_authorization_header"},
        {"method": "POST"},
    ]
    for way in ways:
        info = rp.do_user_info_request(state=login.state, **way)
        assert "error" not in info, info.to_dict()
        assert info["sub"] == person.sub
        assert info["email"] == person.email

    # Refresh: a new refresh token (rotation, RFC 9700 §4.14.2); the old one is refused
    # at the end (presenting it earlier would revoke the whole family, as reuse).
    first_refresh = tokens["refresh_token"]
    refreshed = rp.do_access_token_refresh(state=login.state, authn_method="client_secret_basic")
    assert isinstance(refreshed, AccessTokenResponse), refreshed.to_dict()
    assert refreshed["refresh_token"] != first_refresh
    assert refreshed["access_token"] != tokens["access_token"]
    if "id_token" in refreshed:  # OIDC Core 12.2: same iss, sub, aud as the first one
        for claim in ("iss", "sub", "aud"):
            assert refreshed["id_token"][claim] == tokens["id_token"][claim]
    access = refreshed["access_token"]
    info = rp.do_user_info_request(method="GET", token=access)
    assert info["sub"] == person.sub

    # Introspection (RFC 7662): both tokens active and described.
    refresh = refreshed["refresh_token"]
    answer = introspect(rp, access, "access_token")
    assert answer["active"] is True, answer
    assert answer["client_id"] == portal.client_id
    assert answer.get("sub", person.sub) == person.sub
    assert introspect(rp, refresh, "refresh_token")["active"] is True

    # Revoking the refresh token (RFC 7009 §2.1) also ends the access tokens of its grant.
    revoked = token_call(rp, "revocation_endpoint", token=refresh, token_type_hint="refresh_token")
    assert revoked.status_code == 200, revoked.text
    assert introspect(rp, refresh, "refresh_token") == {"active": False}
    assert introspect(rp, access, "access_token") == {"active": False}
    refused = rp.do_user_info_request(method="GET", token=access)
    assert isinstance(refused, ErrorResponse), refused.to_dict()
    assert refused["error"] == "invalid_token"
    for spent in (refresh, first_refresh):  # revoked; rotated away before that
        again = token_call(rp, "token_endpoint", grant_type="refresh_token", refresh_token=spent)
        assert again.status_code == 400, again.text
        assert again.json()["error"] == "invalid_grant"

    # RP-initiated logout with the ID token as hint, in the same browser.
    id_token_hint = (refreshed if "id_token_jwt" in refreshed else tokens)["id_token_jwt"]
    logout_state = rndstr(16)
    back, confirmed = end_session(rp, browser, id_token_hint, logout_state)
    assert back == f"{POST_LOGOUT}?state={logout_state}"
    assert not confirmed, "a hint from the current session needs no confirmation (§2)"
    assert_logged_out(rp, browser)


def test_strict_rp_logout_with_a_hint_from_another_session_is_confirmed_first(
    live_idp, person, browsers
):
    """oidcc-rp-initiated-logout: the hint names another session, so idp asks the person
    (RP-Initiated Logout §6), then ends this session and comes back with the state."""
    portal = register(live_idp.app)
    rp = relying_party(live_idp, portal, "client_secret_basic")
    _, elsewhere = code_flow(rp, browsers(), person, "client_secret_basic")
    browser = browsers()
    code_flow(rp, browser, person, "client_secret_basic")
    state = rndstr(16)
    back, confirmed = end_session(rp, browser, elsewhere["id_token_jwt"], state)
    assert confirmed
    assert back == f"{POST_LOGOUT}?state={state}"
    assert_logged_out(rp, browser)


def test_strict_rp_authenticates_with_client_secret_post(live_idp, person, browsers):
    """oidcc-server-client-secret-post, oidcc-refresh-token (client_secret_post)."""
    portal = register(live_idp.app, "client_secret_post")
    rp = relying_party(live_idp, portal, "client_secret_post")
    login, tokens = code_flow(rp, browsers(), person, "client_secret_post")
    refreshed = rp.do_access_token_refresh(state=login.state, authn_method="client_secret_post")
    assert isinstance(refreshed, AccessTokenResponse), refreshed.to_dict()
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    info = rp.do_user_info_request(method="GET", state=login.state)
    assert info["sub"] == person.sub

    # Revoking the access token alone (RFC 7009 §2): inactive, refused by userinfo.
    access = refreshed["access_token"]
    assert introspect(rp, access, "access_token")["active"] is True
    revoked = token_call(rp, "revocation_endpoint", token=access, token_type_hint="access_token")
    assert revoked.status_code == 200, revoked.text
    assert introspect(rp, access, "access_token") == {"active": False}
    refused = rp.do_user_info_request(method="GET", token=access)
    assert isinstance(refused, ErrorResponse), refused.to_dict()
    assert refused["error"] == "invalid_token"


# what the strict RP refuses -----------------------------------------------------------------
def test_strict_rp_refuses_an_id_token_with_a_tampered_signature(live_idp, person, browsers):
    """oidcc-idtoken-signature: pyoidc really verifies against idp's JWKS."""
    portal = register(live_idp.app)
    rp = relying_party(live_idp, portal, "client_secret_basic")
    _, tokens = code_flow(rp, browsers(), person, "client_secret_basic")
    genuine = tokens["id_token_jwt"]
    answer = {"access_token": "x", "token_type": "Bearer", "id_token": genuine}
    # The same parsing as the token response: the genuine token passes...
    parsed = rp.parse_response(AccessTokenResponse, info=json.dumps(answer), sformat="json")
    assert parsed["id_token"]["sub"] == person.sub
    # ...one flipped bit of its signature does not.
    forged = json.dumps({**answer, "id_token": tamper(genuine)})
    with pytest.raises(BadSignature):
        rp.parse_response(AccessTokenResponse, info=forged, sformat="json")


def test_authorization_response_iss_is_the_issuer_and_another_is_refused(
    live_idp, person, browsers
):
    """RFC 9207 §2.4: the RP compares iss with the discovered issuer (mix-up defence)."""
    portal = register(live_idp.app)
    rp = relying_party(live_idp, portal, "client_secret_basic")
    assert rp.provider_info["authorization_response_iss_parameter_supported"] is True
    login = log_in(rp, browsers(), person)
    query = dict(parse_qsl(login.query))
    assert query["iss"] == live_idp.issuer
    forged = urlencode({**query, "iss": "https://attacker.example"})
    with pytest.raises(VerificationError, match="Issuer mismatch"):
        rp.parse_response(AuthorizationResponse, info=forged, sformat="urlencoded")


# another signing algorithm --------------------------------------------------------------------
def test_strict_rp_verifies_an_es256_signed_id_token(es256_idp, person, browsers):
    """oidcc-server with an ES256 key: discovery, JWKS (EC P-256) and ID token agree."""
    portal = register(es256_idp.app)
    rp = relying_party(es256_idp, portal, "client_secret_basic", alg="ES256")
    assert rp.provider_info["id_token_signing_alg_values_supported"] == ["ES256"]
    login, tokens = code_flow(rp, browsers(), person, "client_secret_basic")
    assert tokens["id_token"].jws_header["alg"] == "ES256"
    info = rp.do_user_info_request(method="GET", state=login.state)
    assert info["sub"] == person.sub
