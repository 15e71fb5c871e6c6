"""A level idp's own factors never reach (eidas3, FranceConnect+ only): no code is asked,
the person is offered FranceConnect+ or the way back, and the portal hears
`unmet_authentication_requirements` (OIDC Core 5.5.1.1, OpenID conformance idea
"oidcc-claims-essential"; OpenID Connect Unmet Authentication Requirements 1.0)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from idp.extensions import db
from idp.models import AuditEvent
from idp.oidc.models import BrowserSession
from idp.security.verification import Verification
from tests.conftest import ISSUER
from tests.factories import REDIRECT
from tests.factories import Flow
from tests.federation.test_upstreams import FC
from tests.federation.test_upstreams import FC_PLUS as UPSTREAM_FC_PLUS
from tests.federation.test_upstreams import PLUS
from tests.mfa.conftest import VERIFY
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import logged_in
from tests.mfa.conftest import post_password
from tests.mfa.conftest import set_phone
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify
from tests.oidc.helpers import form_of
from tests.oidc.helpers import redirect_query
from tests.smtp import smtp_server  # noqa: F401

ESSENTIAL_EIDAS3 = json.dumps({"id_token": {"acr": {"essential": True, "values": ["eidas3"]}}})
# FranceConnect+ offered on the portal "sante" only (not by journey).
FC_PLUS = {k: v for k, v in UPSTREAM_FC_PLUS.items() if k != "journeys"} | {"clients": ["sante"]}
BUTTON = re.compile(r'data-upstream="([a-z-]+)"')


def events(app, name: str) -> list[dict]:
    with app.app_context():
        return [
            {"account_id": row.account_id, "client_id": row.client_id, **(row.details or {})}
            for row in db.session.scalars(
                select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)
            )
        ]


def assert_no_code_asked(app, browser, smtp) -> None:
    """No code page, no code issued or sent, no pending login."""
    assert not events(app, "mfa.required") and not events(app, "mfa.code_sent")
    with app.app_context():
        assert not db.session.scalar(select(func.count(Verification.id)))
    assert not smtp.messages  # neither a mail nor an SMS (the dev SMS backend mails)
    response = browser.get(VERIFY)
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def go_back(browser, page):
    """Press "Revenir sur <portal>" on the page."""
    action, csrf = form_of(page.text)
    return browser.post(action, data={"csrf_token": csrf})


def assert_unmet_at_portal(response, flow) -> None:
    query = redirect_query(response, REDIRECT)
    assert query.pop("error") == "unmet_authentication_requirements"
    assert "FranceConnect+" in query.pop("error_description")
    assert query == {"state": flow.state, "iss": ISSUER}  # and no code


def test_a_portal_demanding_eidas3_asks_no_code_and_offers_the_way_back(
    mfa_app,
    browser,
    person,
    factories,
    smtp_server,  # noqa: F811
):
    enable_totp(mfa_app, person.id)
    set_phone(mfa_app, person.id)
    portal = factories.portal(client_id="haut", name="Mon espace santé", min_acr="eidas3")
    flow = Flow(browser, portal)
    page = flow.login(flow.authorize(), person.email, person.password)
    assert page.status_code == 403
    assert "Ce service exige une connexion avec FranceConnect+" in page.text
    assert "Revenir sur Mon espace santé" in page.text
    assert 'name="code"' not in page.text
    assert_no_code_asked(mfa_app, browser, smtp_server)
    # The account's own settings want a second factor: no session opened on the password.
    assert not logged_in(browser)
    with mfa_app.app_context():
        assert not db.session.scalar(select(func.count(BrowserSession.id)))
    assert [e["required"] for e in events(mfa_app, "mfa.level_unreachable")] == ["eidas3"]

    assert_unmet_at_portal(go_back(browser, page), flow)
    [back] = events(mfa_app, "authorization.unmet_requirements")
    assert (back["account_id"], back["client_id"], back["required"]) == (None, "haut", "eidas3")


def test_an_essential_eidas3_claim_from_a_two_factor_session_asks_no_code(
    mfa_app,
    browser,
    person,
    factories,
    smtp_server,  # noqa: F811
):
    """oidcc-claims-essential: an essential acr idp cannot meet fails the authentication."""
    secret = enable_totp(mfa_app, person.id)
    post_password(browser, person)
    assert verify(browser, totp_now(secret)).status_code == 302
    flow = Flow(browser, factories.portal(client_id="essentiel", name="Portail essentiel"))
    page = flow.authorize(claims=ESSENTIAL_EIDAS3)
    assert page.status_code == 403  # straight from /authorize: no step-up page
    assert "Ce service exige une connexion avec FranceConnect+" in page.text
    assert "Revenir sur Portail essentiel" in page.text
    assert not events(mfa_app, "mfa.code_sent") and not smtp_server.messages
    assert browser.get(VERIFY).status_code == 302  # nothing pending there either

    assert_unmet_at_portal(go_back(browser, page), flow)
    [back] = events(mfa_app, "authorization.unmet_requirements")
    assert back["account_id"] == person.id and back["client_id"] == "essentiel"
    assert logged_in(browser)  # the idp session itself stays


def test_a_password_session_gets_no_code_for_eidas3_even_from_the_step_up_page(
    mfa_app,
    browser,
    person,
    factories,
    smtp_server,  # noqa: F811
):
    set_phone(mfa_app, person.id)
    post_password(browser, person)  # one factor (no app): a session at eidas1
    flow = Flow(browser, factories.portal(client_id="haut", min_acr="eidas3"))
    response = flow.authorize()
    assert response.status_code == 403 and "FranceConnect+" in response.text
    next_url = "/authorize?" + urlencode(flow.params())
    step_up = browser.get(VERIFY + "?" + urlencode({"next": next_url}))
    assert step_up.status_code == 403 and "Recevoir un code" not in step_up.text
    asked = browser.post(
        VERIFY + "?" + urlencode({"next": next_url, "methode": "sms"}),
        data={"action": "send", "csrf_token": form_of(step_up.text)[1]},
    )
    assert asked.status_code == 403
    assert not events(mfa_app, "mfa.code_sent") and not smtp_server.messages
    assert_unmet_at_portal(go_back(browser, step_up), flow)


def test_prompt_none_with_a_level_out_of_reach_answers_interaction_required(
    mfa_app, browser, person, factories
):
    """oidcc-prompt-none-logged-in: with prompt=none no page may be shown, the portal gets
    the error; without it, the page (never a step-up)."""
    post_password(browser, person)
    flow = Flow(browser, factories.portal(client_id="haut", min_acr="eidas3"))
    query = redirect_query(flow.authorize(prompt="none"), REDIRECT)
    assert query == {"error": "interaction_required", "state": flow.state, "iss": ISSUER}
    page = flow.authorize(claims=ESSENTIAL_EIDAS3)
    assert page.status_code == 403 and 'action="/authorize/unmet?' in page.text


def test_the_way_back_refuses_a_tampered_request(mfa_app, browser, person, factories):
    flow = Flow(browser, factories.portal(client_id="haut", min_acr="eidas3"))
    page = flow.login(flow.authorize(), person.email, person.password)
    action, csrf = form_of(page.text)
    path, query = action.split("?", 1)
    params = dict(parse_qsl(query))
    assert path == "/authorize/unmet" and params["client_id"] == "haut"
    for tampered in (
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT + "/x"},
        {"client_id": "inconnu"},
    ):
        response = browser.post(
            path + "?" + urlencode(params | tampered), data={"csrf_token": csrf}
        )
        assert response.status_code == 400 and "Location" not in response.headers
        assert "Le portail a envoyé une demande de connexion invalide" in response.text
    # A POST without the CSRF token of this browser does nothing either.
    response = browser.post(action, data={})
    assert response.status_code == 400 and "Location" not in response.headers
    response = mfa_app.test_client().post(action, data={"csrf_token": csrf})
    assert response.status_code == 400 and "Location" not in response.headers
    assert not events(mfa_app, "authorization.unmet_requirements")


def test_the_way_back_sends_no_error_for_a_level_within_reach(mfa_app, browser, person, factories):
    """The route cannot be used to make a portal believe a reachable level was refused."""
    post_password(browser, person)
    flow = Flow(browser, factories.portal(client_id="simple"))
    csrf = form_of(flow.authorize(claims=ESSENTIAL_EIDAS3).text)[1]
    params = flow.params(acr_values="eidas2")
    response = browser.post("/authorize/unmet?" + urlencode(params), data={"csrf_token": csrf})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/authorize"
    assert not events(mfa_app, "authorization.unmet_requirements")


def test_an_eidas3_session_goes_on_to_the_code_from_the_way_back(
    mfa_app, browser, person, factories
):
    post_password(browser, person)
    flow = Flow(browser, factories.portal(client_id="haut", min_acr="eidas3"))
    page = flow.authorize()
    with mfa_app.app_context():  # meanwhile, a FranceConnect+ login
        db.session.execute(update(BrowserSession).values(acr="eidas3", amr=["fc"]))
        db.session.commit()
    query = flow.follow_to_callback(go_back(browser, page))
    assert "code" in query and query["state"] == flow.state
    assert flow.token(query["code"]).status_code == 200


@pytest.fixture
def federated(make_app, smtp_server):  # noqa: F811
    """FranceConnect (v2, eidas1) offered everywhere, FranceConnect+ on the portal "sante"."""
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False, UPSTREAMS=[FC_PLUS], **FC)


@pytest.mark.parametrize(("client_id", "shown"), [("sante", [PLUS]), ("citoyen", [])])
def test_only_an_upstream_giving_eidas3_is_offered(federated, factories, person, client_id, shown):
    browser = federated.test_client()
    flow = Flow(browser, factories.portal(client_id=client_id, min_acr="eidas3"))
    page = flow.login(flow.authorize(), person.email, person.password)
    assert page.status_code == 403
    assert BUTTON.findall(page.text) == shown
    # The official DSFR FranceConnect+ button (the brand's rules), not a plain one.
    assert ("fr-connect fr-connect--plus" in page.text) == bool(shown)
    assert "Revenir sur Portail de test" in page.text
    if shown:
        link = re.search(r'href="(/federation/franceconnect-plus/start\?[^"]+)"', page.text)
        assert link, page.text
        next_url = dict(parse_qsl(urlsplit(link.group(1).replace("&amp;", "&")).query))["next"]
        assert dict(parse_qsl(urlsplit(next_url).query))["client_id"] == client_id
