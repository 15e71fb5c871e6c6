"""FranceConnect+: eidas2, ID token and userinfo encrypted (JWE) for idp's published keys."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

from sqlalchemy import select

from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.models import Account
from idp.oidc.models import BrowserSession
from tests.factories import POST_LOGOUT
from tests.factories import Factories
from tests.factories import Flow
from tests.federation.conftest import fc_session_with_portal_tokens
from tests.federation.conftest import query_of
from tests.federation.conftest import reason_of
from tests.federation.conftest import sign_up
from tests.federation.test_failures import failures
from tests.federation.test_failures import nothing_changed


def test_idp_publishes_its_encryption_keys(fc_plus):
    jwks = fc_plus.browser().get("/federation/jwks.json").get_json()
    assert jwks["keys"], jwks
    key = jwks["keys"][0]
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "enc", "RSA-OAEP-256")
    assert "d" not in key and "p" not in key  # public parts only


def test_fc_plus_login_decrypts_and_verifies_the_identity(fc_plus):
    browser = fc_plus.browser()
    start = browser.get("/federation/franceconnect/start")
    assert query_of(start.headers["Location"])["acr_values"] == "eidas2"
    page = browser.follow()
    assert "eidas2" in page.text
    page = browser.choose("angela")
    assert page.status_code == 200 and "Angela Claire Louise" in page.text
    sign_up(browser, "angela.plus@example.fr")
    with fc_plus.idp.app_context():
        row = db.session.scalar(select(BrowserSession))
        assert row.acr == "eidas2" and row.amr[:1] == ["fc"] and "mfa" in row.amr
        assert row.upstream_id_token.count(".") == 4  # the JWE, kept as received
        identity = db.session.scalar(select(FederatedIdentity))
        assert identity.provider == "franceconnect-plus" and identity.acr == "eidas2"
        assert db.session.scalar(select(Account)).family_name == "DUBOIS"


def test_fc_plus_too_low_a_level_is_refused(fc_plus):
    page = fc_plus.browser().fc_login("erreur-low-acr")
    assert page.status_code == 400 and reason_of(page) == "low_acr"
    assert "Niveau de sécurité insuffisant" in page.text
    nothing_changed(fc_plus)
    assert [f["reason"] for f in failures(fc_plus)] == ["low_acr"]


def test_fc_plus_forged_signature_is_refused_after_decryption(fc_plus):
    page = fc_plus.browser().fc_login("erreur-bad-signature")
    assert reason_of(page) == "bad_signature"


def test_fc_plus_answer_encrypted_for_another_key_is_refused(fc_plus):
    page = fc_plus.browser().fc_login("erreur-wrong-enc-key")
    assert page.status_code == 400 and reason_of(page) == "bad_token"
    assert "La réponse de FranceConnect+ n'a pas pu être vérifiée" in page.text
    assert "Autres moyens de vous connecter" in page.text
    nothing_changed(fc_plus)
    assert [(f["reason"], f["detail"][:4]) for f in failures(fc_plus)] == [("bad_token", "JWE:")]


def test_fc_plus_logout_sends_the_encrypted_id_token_back(fc_plus):
    browser, _, tokens = fc_session_with_portal_tokens(fc_plus, "sofia")
    out = browser.get(
        "/logout?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": POST_LOGOUT,
                "state": "fin",
            }
        )
    )
    assert query_of(out.headers["Location"])["id_token_hint"].count(".") == 4
    back = browser.get(out.headers["Location"])
    final = browser.get(back.headers["Location"])
    assert final.headers["Location"] == POST_LOGOUT + "?state=fin"


def test_discovery_lists_the_levels_passed_through(fc_plus, fc):
    plus = fc_plus.browser().get("/.well-known/openid-configuration").get_json()
    assert plus["acr_values_supported"] == ["eidas1", "eidas2", "eidas3"]
    # FranceConnect v2 passes eidas1 only (eidas2 is idp's own second factor).
    assert (
        "eidas3"
        not in fc.browser()
        .get("/.well-known/openid-configuration")
        .get_json()["acr_values_supported"]
    )


def test_a_portal_needing_eidas3_gets_it_through_fc_plus(fc_plus):
    """The FranceConnect+ button of a portal that needs eidas3 asks FranceConnect+ for
    eidas3 (not the configured eidas2, which would come back too low), and the portal's ID
    token carries it (conformance idea: oidcc-claims-essential / acr)."""
    portal = Factories(fc_plus.idp).portal(min_acr="eidas3")
    browser = fc_plus.browser()
    flow = Flow(browser.client, portal)
    next_url = query_of(flow.authorize().headers["Location"])["next"]
    start = browser.get("/federation/franceconnect/start?" + urlencode({"next": next_url}))
    assert query_of(start.headers["Location"])["acr_values"] == "eidas3"
    browser.follow()
    browser.choose("angela")
    sign_up(browser, "angela.trois@example.fr")
    with fc_plus.idp.app_context():
        assert db.session.scalar(select(BrowserSession.acr)) == "eidas3"
    code = query_of(flow.authorize().headers["Location"])["code"]
    tokens = flow.token(code).get_json()
    claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
    assert claims["acr"] == "eidas3"


def test_without_a_portal_fc_plus_is_asked_its_configured_level(fc_plus):
    start = fc_plus.browser().get("/federation/franceconnect/start?next=/mon-compte")
    assert query_of(start.headers["Location"])["acr_values"] == "eidas2"
