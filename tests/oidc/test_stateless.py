"""Two instances behind a load balancer: any step of a login may land on either one."""

from tests.factories import Flow
from tests.oidc.helpers import bearer
from tests.oidc.helpers import copy_cookies
from tests.oidc.helpers import id_token_claims


def test_alternate_instances_serve_one_login(app, make_app, factories):
    """authorize on A, login on B, code on A, token on B, userinfo on A."""
    other = make_app(
        SECRET_KEY=app.config["SECRET_KEY"],
        ISSUER=app.config["ISSUER"],
    )
    assert other is not app
    assert other.config["DATABASE_URL"] == app.config["DATABASE_URL"]
    assert other.config["KEYS_DIR"] == app.config["KEYS_DIR"]
    person = factories.account()
    portal = factories.portal()
    a, b = app.test_client(), other.test_client()
    flow_a, flow_b = Flow(a, portal), Flow(b, portal)
    flow_b.verifier, flow_b.challenge = flow_a.verifier, flow_a.challenge

    response = flow_a.authorize()  # A
    login_url = response.headers["Location"]
    assert login_url.startswith("/connexion")
    copy_cookies(a, b)
    response = flow_b.login(response, person.email, person.password)  # B
    assert response.status_code == 302, response.text[:300]
    copy_cookies(b, a)
    query = flow_a.follow_to_callback(response)  # A: back to /authorize, code issued
    assert query["state"] == flow_a.state

    token_response = flow_b.token(query["code"])  # B
    assert token_response.status_code == 200, token_response.text
    tokens = token_response.get_json()
    assert id_token_claims(b, tokens)["nonce"] == flow_a.nonce
    assert id_token_claims(a, tokens)["sub"] == person.sub

    info = a.get("/userinfo", headers=bearer(tokens["access_token"]))  # A
    assert info.status_code == 200, info.text
    assert info.get_json()["sub"] == person.sub


def test_session_opened_on_one_instance_is_seen_by_the_other(app, make_app, factories):
    other = make_app()
    person = factories.account()
    portal = factories.portal()
    a, b = app.test_client(), other.test_client()
    Flow(a, portal).tokens(person)
    copy_cookies(a, b)
    response = Flow(b, portal).authorize(prompt="none")
    assert response.status_code == 302
    assert "code=" in response.headers["Location"], response.headers["Location"]


def test_refresh_token_rotated_on_one_instance_is_refused_by_the_other(app, make_app, factories):
    other = make_app()
    person = factories.account()
    portal = factories.portal()
    a, b = app.test_client(), other.test_client()
    tokens = Flow(a, portal).tokens(person)
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    auth = (portal.client_id, portal.secret)
    assert a.post("/token", data=data, auth=auth).status_code == 200
    response = b.post("/token", data=data, auth=auth)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_prompt_login_asked_on_one_instance_is_satisfied_by_a_login_on_the_other(
    app, make_app, factories
):
    """The prompt=login marker travels in the signed session cookie, not in process memory."""
    other = make_app()
    person = factories.account()
    portal = factories.portal()
    a, b = app.test_client(), other.test_client()
    flow_a, flow_b = Flow(a, portal), Flow(b, portal)
    flow_a.tokens(person)
    response = flow_a.authorize(prompt="login")  # A
    assert response.headers["Location"].startswith("/connexion")
    copy_cookies(a, b)
    back = flow_b.login(response, person.email, person.password)  # B
    assert back.status_code == 302
    copy_cookies(b, a)
    assert flow_a.follow_to_callback(back)["code"]  # A
