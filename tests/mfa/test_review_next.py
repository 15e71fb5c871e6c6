"""Security review: the step-up page's `next` never leaves idp nor breaks the page, and a
portal's eidas3 minimum is never met by idp's own second factor."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select
from sqlalchemy import update

from idp.extensions import db
from idp.models import AuditEvent
from idp.oidc.models import BrowserSession
from tests.factories import Flow
from tests.factories import csrf_of
from tests.mfa.conftest import VERIFY
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import post_password
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify
from tests.oidc.helpers import id_token_claims

HOSTILE = [
    "//evil.example/x",
    "/\\evil.example",
    "https://evil.example/",
    "/\t/evil.example",
    "/mon-compte\r\nSet-Cookie: idp_session=forged",
    "/mon-compte\nx",
    "/mon-compte\x00",
]


@pytest.fixture
def two_factor_browser(mfa_app, browser, person):
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    assert verify(browser, totp_now(secret)).status_code == 302
    return browser


@pytest.mark.parametrize("target", HOSTILE)
def test_a_hostile_next_sends_to_the_account_page(two_factor_browser, target):
    response = two_factor_browser.get(f"{VERIFY}?next={quote(target, safe='')}")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in location and "Set-Cookie" not in location
    assert "idp_session=forged" not in response.headers.get("Set-Cookie", "")


def test_a_local_next_is_followed(two_factor_browser):
    response = two_factor_browser.get(f"{VERIFY}?next=/mon-compte/sessions")
    assert response.status_code == 302
    assert response.headers["Location"] == "/mon-compte/sessions"


def _follow_locally(browser, response):
    """Follow idp's own redirects; fail if one leaves for the portal."""
    for _ in range(6):
        if response.status_code != 302:
            return response
        location = response.headers["Location"]
        assert location.startswith("/"), f"sent to the portal: {location}"
        response = browser.get(location)
    raise AssertionError("redirect loop")


def test_a_portal_demanding_eidas3_gets_no_code_from_idps_own_second_factor(
    mfa_app, browser, person, factories
):
    # No code is even asked: the level is out of reach of any code (see
    # tests/oidc/test_acr_unmet.py for the way back to the portal).
    enable_totp(mfa_app, person.id)
    flow = Flow(browser, factories.portal(client_id="haut", min_acr="eidas3"))
    page = _follow_locally(browser, flow.login(flow.authorize(), person.email, person.password))
    assert page.status_code == 403
    assert "FranceConnect+" in page.text and 'name="code"' not in page.text
    assert browser.get(VERIFY).status_code == 302  # no pending login to type a code for
    with mfa_app.app_context():
        assert db.session.scalar(
            select(AuditEvent.id).where(AuditEvent.event == "mfa.level_unreachable")
        )
        assert not db.session.scalar(
            select(AuditEvent.id).where(AuditEvent.event == "authorization.code_issued")
        )


def test_a_portal_demanding_eidas3_accepts_an_eidas3_session(mfa_app, browser, person, factories):
    Flow(browser, factories.portal(client_id="simple")).tokens(person)
    with mfa_app.app_context():
        db.session.execute(update(BrowserSession).values(acr="eidas3", amr=["fc"]))
        db.session.commit()
    flow = Flow(browser, factories.portal(client_id="haut", min_acr="eidas3"))
    query = flow.follow_to_callback(flow.authorize())
    claims = id_token_claims(browser, flow.token(query["code"]).get_json())
    assert claims["acr"] == "eidas3"


def test_acr_values_eidas3_stay_a_request_for_two_factors(mfa_app, browser, person, factories):
    secret = enable_totp(mfa_app, person.id)
    flow = Flow(browser, factories.portal(client_id="souple"))
    flow.login(flow.authorize(acr_values="eidas3"), person.email, person.password)
    query = flow.follow_to_callback(verify(browser, totp_now(secret)))
    claims = id_token_claims(browser, flow.token(query["code"]).get_json())
    assert claims["acr"] == "eidas2"


def test_forgetting_a_device_id_out_of_range_is_not_found(mfa_app, browser, person):
    post_password(browser, person)
    token = csrf_of(browser.get("/mon-compte").text)
    response = browser.post(
        f"/mon-compte/double-authentification/appareils/{'9' * 25}/oublier",
        data={"csrf_token": token},
    )
    assert response.status_code == 404


def test_an_essential_acr_claim_for_eidas3_gets_no_eidas2_token(
    mfa_app, browser, person, factories
):
    # OIDC Core 5.5.1.1: an essential acr must be one of the requested values, or the
    # authentication fails; idp's own second factor reaches eidas2 only.
    import json

    enable_totp(mfa_app, person.id)
    flow = Flow(browser, factories.portal(client_id="essentiel"))
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["eidas3"]}}})
    page = _follow_locally(
        browser, flow.login(flow.authorize(claims=claims), person.email, person.password)
    )
    assert page.status_code == 403 and "FranceConnect+" in page.text
    assert 'name="code"' not in page.text


def test_an_essential_acr_claim_for_eidas2_or_eidas3_is_met_by_two_factors(
    mfa_app, browser, person, factories
):
    import json

    secret = enable_totp(mfa_app, person.id)
    flow = Flow(browser, factories.portal(client_id="essentiel2"))
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["eidas3", "eidas2"]}}})
    flow.login(flow.authorize(claims=claims), person.email, person.password)
    query = flow.follow_to_callback(verify(browser, totp_now(secret)))
    tokens = id_token_claims(browser, flow.token(query["code"]).get_json())
    assert tokens["acr"] == "eidas2"
