"""Step-up: a portal's minimum acr, acr_values or an essential acr claim force a second
factor on a session that has one; prompt=none and max_age keep their meaning."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from sqlalchemy import update

from idp.extensions import db
from idp.oidc.models import BrowserSession
from tests.factories import Flow
from tests.factories import csrf_of
from tests.mfa.conftest import VERIFY
from tests.mfa.conftest import ask_code
from tests.mfa.conftest import code_in
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify
from tests.oidc.helpers import id_token_claims


def _step_up_url(response) -> str:
    assert response.status_code == 302, response.text[:300]
    location = response.headers["Location"]
    assert location.startswith(VERIFY + "?next="), location
    return location


def test_acr_values_eidas2_steps_up_a_password_session_with_a_mail_code(
    mfa_app, browser, person, factories, smtp_server
):
    flow = Flow(browser, factories.portal())
    first = id_token_claims(browser, flow.tokens(person))  # one factor is enough here
    assert (first["acr"], first["amr"]) == ("eidas1", ["pwd"])

    url = _step_up_url(flow.authorize(acr_values="eidas2"))
    page = browser.get(url)
    assert "demande une vérification supplémentaire" in page.text
    ask_code(browser, "mail", url=url)
    [mail] = smtp_server.wait(1)
    query = flow.follow_to_callback(verify(browser, code_in(mail.part("plain")), url=url))
    claims = id_token_claims(browser, flow.token(query["code"]).get_json())
    assert claims["acr"] == "eidas2"
    assert claims["amr"] == ["pwd", "mail"]
    assert claims["auth_time"] == first["auth_time"]  # the password time, kept

    # The session now has two factors: no prompt again.
    query = flow.follow_to_callback(flow.authorize(acr_values="eidas2"))
    assert id_token_claims(browser, flow.token(query["code"]).get_json())["acr"] == "eidas2"


def test_portal_minimum_acr_asks_the_app_at_login(mfa_app, browser, person, factories):
    secret = enable_totp(mfa_app, person.id)
    browser.delete_cookie("idp_device")
    flow = Flow(browser, factories.portal(min_acr="eidas2"))
    response = flow.login(flow.authorize(), person.email, person.password)
    assert response.headers["Location"] == VERIFY
    query = flow.follow_to_callback(verify(browser, totp_now(secret)))
    claims = id_token_claims(browser, flow.token(query["code"]).get_json())
    assert (claims["acr"], claims["amr"]) == ("eidas2", ["pwd", "otp"])


def test_portal_minimum_acr_steps_up_a_session_opened_for_another_portal(
    mfa_app, browser, person, factories, smtp_server
):
    plain = Flow(browser, factories.portal(client_id="plain"))
    assert id_token_claims(browser, plain.tokens(person))["acr"] == "eidas1"

    strict = Flow(browser, factories.portal(client_id="strict", min_acr="eidas2"))
    url = _step_up_url(strict.authorize())
    ask_code(browser, "mail", url=url)
    [mail] = smtp_server.wait(1)
    query = strict.follow_to_callback(verify(browser, code_in(mail.part("plain")), url=url))
    claims = id_token_claims(browser, strict.token(query["code"]).get_json())
    assert (claims["acr"], claims["amr"]) == ("eidas2", ["pwd", "mail"])


def test_essential_acr_claim_forces_the_second_factor(mfa_app, browser, person, factories):
    flow = Flow(browser, factories.portal())
    flow.tokens(person)
    wanted = {"id_token": {"acr": {"essential": True, "values": ["eidas2"]}}}
    _step_up_url(flow.authorize(claims=json.dumps(wanted)))
    # A voluntary acr claim (not essential) does not.
    voluntary = {"id_token": {"acr": {"values": ["eidas2"]}}}
    query = flow.follow_to_callback(flow.authorize(claims=json.dumps(voluntary)))
    assert id_token_claims(browser, flow.token(query["code"]).get_json())["acr"] == "eidas1"


def test_prompt_none_with_too_low_an_acr_returns_interaction_required(browser, person, factories):
    flow = Flow(browser, factories.portal())
    flow.tokens(person)
    response = flow.authorize(prompt="none", acr_values="eidas2")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(flow.portal.redirect_uri)
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["interaction_required"]
    assert query["state"] == [flow.state]


def test_max_age_still_forces_a_new_login_on_a_two_factor_session(
    mfa_app, browser, person, factories
):
    secret = enable_totp(mfa_app, person.id)
    flow = Flow(browser, factories.portal(min_acr="eidas2"))
    flow.login(flow.authorize(), person.email, person.password)
    first_query = flow.follow_to_callback(verify(browser, totp_now(secret)))
    first = id_token_claims(browser, flow.token(first_query["code"]).get_json())
    time.sleep(1.1)
    response = flow.authorize(max_age="1")
    assert response.headers["Location"].startswith("/connexion?")  # the password again
    assert flow.login(response, person.email, person.password).headers["Location"] == VERIFY
    query = flow.follow_to_callback(verify(browser, totp_now(secret, steps=1)))
    second = id_token_claims(browser, flow.token(query["code"]).get_json())
    assert second["auth_time"] > first["auth_time"]
    assert second["acr"] == "eidas2"


def test_step_up_page_sends_back_only_to_local_paths(browser, person, factories, smtp_server):
    Flow(browser, factories.portal()).tokens(person)
    url = ask_code(browser, "mail", url=VERIFY + "?next=https://evil.example/")
    [mail] = smtp_server.wait(1)
    response = verify(browser, code_in(mail.part("plain")), url=url)
    assert response.status_code == 302
    assert response.headers["Location"] == "/mon-compte"


def test_step_up_without_a_session_goes_to_the_login_page(client):
    response = client.get(VERIFY + "?next=/mon-compte")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")


def test_discovery_lists_eidas2(client):
    assert (
        "eidas2"
        in client.get("/.well-known/openid-configuration").get_json()["acr_values_supported"]
    )


def test_cli_sets_and_removes_a_portal_minimum_acr(runner, client, person, factories):
    result = runner.invoke(
        args=[
            "clients", "create", "--name", "Strict", "--client-id", "strict",
            "--redirect-uri", "https://portal.example/callback", "--min-acr", "eidas2",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = runner.invoke(args=["clients", "show", "strict"])
    assert json.loads(shown.output)["min_acr"] == "eidas2"
    refused = runner.invoke(args=["clients", "update", "strict", "--min-acr", "eidas9"])
    assert refused.exit_code != 0
    assert runner.invoke(args=["clients", "update", "strict", "--min-acr", ""]).exit_code == 0
    assert json.loads(runner.invoke(args=["clients", "show", "strict"]).output)["min_acr"] is None


def test_five_wrong_codes_at_step_up_end_the_session(mfa_app, browser, person, factories):
    flow = Flow(browser, factories.portal())
    flow.tokens(person)  # a password-only session
    enable_totp(mfa_app, person.id)
    url = _step_up_url(flow.authorize(acr_values="eidas2"))
    for _ in range(4):
        assert verify(browser, "000000", url=url).status_code == 200
    ended = verify(browser, "000000", url=url)
    assert ended.status_code == 403
    assert "Trop de codes incorrects" in ended.text
    assert browser.get("/mon-compte").status_code == 302  # logged out


def _set_session_level(app, acr: str, amr: list[str]) -> None:
    with app.app_context():
        db.session.execute(update(BrowserSession).values(acr=acr, amr=amr))
        db.session.commit()


def test_franceconnect_level_is_kept_and_eidas2_from_it_needs_no_step_up(
    mfa_app, browser, person, factories
):
    Flow(browser, factories.portal(client_id="plain")).tokens(person)
    strict = Flow(browser, factories.portal(client_id="strict", min_acr="eidas2"))
    _set_session_level(mfa_app, "eidas1", ["fc"])
    _step_up_url(strict.authorize())
    _set_session_level(mfa_app, "eidas2", ["fc"])
    query = strict.follow_to_callback(strict.authorize())
    claims = id_token_claims(browser, strict.token(query["code"]).get_json())
    assert (claims["acr"], claims["amr"]) == ("eidas2", ["fc"])


def test_session_has_second_factor(app_ctx):
    from idp.mfa.services import session_has_second_factor
    from idp.oidc.models import BrowserSession as Row

    assert not session_has_second_factor(None)
    assert not session_has_second_factor(Row(acr="eidas1", amr=["pwd"]))
    assert not session_has_second_factor(Row(acr="https://other.example/loa", amr=["fc"]))
    assert session_has_second_factor(Row(acr="eidas2", amr=["pwd", "otp"]))
    assert session_has_second_factor(Row(acr="eidas3", amr=["fc"]))


def test_the_consent_answer_cannot_skip_the_step_up(browser, person, factories):
    flow = Flow(browser, factories.portal(require_consent=True))
    page = flow.client.get(
        flow.login(flow.authorize(), person.email, person.password).headers["Location"]
    )
    action = re.search(r'action="(/authorize/consent[^"]+)"', page.text)[1].replace("&amp;", "&")
    response = browser.post(
        action + "&acr_values=eidas2", data={"csrf_token": csrf_of(page.text), "decision": "accept"}
    )
    _step_up_url(response)


def test_codes_sent_and_typed_are_limited(make_app, smtp_server, factories):
    limited = make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False, RATELIMIT_ENABLED=True)
    browser = limited.test_client()
    person = factories.account()
    flow = Flow(browser, factories.portal())
    flow.tokens(person)
    url = _step_up_url(flow.authorize(acr_values="eidas2")) + "&methode=mail"
    token = csrf_of(browser.get(url).text)
    answers = [browser.post(url, data={"action": "send", "csrf_token": token}) for _ in range(11)]
    assert [a.status_code for a in answers[:5]] == [302] * 5
    assert "Trop de codes ont été envoyés" in answers[5].text  # five mails an hour
    assert answers[10].status_code == 429  # ten answers per account in ten minutes
    assert len(smtp_server.wait(5)) == 5
