"""Consent for portals registered with require_consent, remembered per portal and scope."""

import pytest

from tests.conftest import ISSUER
from tests.factories import Flow
from tests.oidc.helpers import error_redirect
from tests.oidc.helpers import form_of
from tests.oidc.helpers import redirect_query


@pytest.fixture
def person(factories):
    return factories.account()


@pytest.fixture
def portal(factories):
    return factories.portal(name="Portail citoyen", require_consent=True)


@pytest.fixture
def flow(client, portal):
    return Flow(client, portal)


def consent_page(flow, person, **params):
    """Authorize (logging in if needed) and return the consent page."""
    response = flow.authorize(**params)
    if response.headers.get("Location", "").startswith("/connexion"):
        response = flow.login(response, person.email, person.password)
        response = flow.client.get(response.headers["Location"])
    assert response.status_code == 200, (response.status_code, response.headers.get("Location"))
    assert "Portail citoyen" in response.text
    return response


def answer(flow, page, decision: str):
    action, csrf = form_of(page.text)
    assert action.startswith("/authorize/consent")
    return flow.client.post(action, data={"csrf_token": csrf, "decision": decision})


def test_portal_requiring_consent_shows_the_consent_page(flow, person):
    page = consent_page(flow, person)
    assert 'value="accept"' in page.text and 'value="deny"' in page.text


def test_accepting_returns_a_code_with_state_and_iss(flow, person):
    query = redirect_query(
        answer(flow, consent_page(flow, person), "accept"), flow.portal.redirect_uri
    )
    assert query["state"] == flow.state and query["iss"] == ISSUER
    assert flow.token(query["code"]).status_code == 200


def test_consent_is_remembered_next_time(flow, person):
    answer(flow, consent_page(flow, person), "accept")
    query = redirect_query(flow.authorize(), flow.portal.redirect_uri)
    assert query["code"]


def test_consent_for_fewer_scopes_does_not_cover_more(flow, person):
    answer(flow, consent_page(flow, person, scope="openid"), "accept")
    page = flow.authorize(scope="openid email")
    assert page.status_code == 200 and 'value="accept"' in page.text


def test_denying_redirects_with_access_denied_state_and_iss(flow, person):
    response = answer(flow, consent_page(flow, person), "deny")
    error_redirect(response, flow.portal, "access_denied", flow.state)


def test_denial_is_not_remembered(flow, person):
    answer(flow, consent_page(flow, person), "deny")
    page = flow.authorize()
    assert page.status_code == 200 and 'value="accept"' in page.text


def test_prompt_consent_shows_the_page_again(flow, person):
    answer(flow, consent_page(flow, person), "accept")
    page = flow.authorize(prompt="consent")
    assert page.status_code == 200 and 'value="accept"' in page.text


def test_prompt_none_without_consent_returns_consent_required(client, flow, person):
    flow.login(flow.authorize(), person.email, person.password)  # a session, no consent
    error_redirect(flow.authorize(prompt="none"), flow.portal, "consent_required", flow.state)


def test_prompt_none_with_remembered_consent_returns_code(flow, person):
    answer(flow, consent_page(flow, person), "accept")
    assert redirect_query(flow.authorize(prompt="none"), flow.portal.redirect_uri)["code"]


def test_consent_answer_without_csrf_token_is_refused(flow, person):
    action, _ = form_of(consent_page(flow, person).text)
    response = flow.client.post(action, data={"decision": "accept"})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_portal_without_require_consent_skips_the_page(client, factories, person):
    portal = factories.portal(require_consent=False)
    assert Flow(client, portal).code(person)
