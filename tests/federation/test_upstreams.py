"""Several upstreams at once: FranceConnect for the citizen portals, FranceConnect+ for the
health portals, Pro Santé Connect for the professionals' space (each its own stand-in)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from idp.config import Defaults
from idp.config import validate_config
from idp.errors import ConfigError
from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.federation.upstreams import configured
from idp.federation.upstreams import offered
from idp.models import AuditEvent
from idp.oidc.models import BrowserSession
from tests.factories import POST_LOGOUT
from tests.factories import Factories
from tests.factories import Flow
from tests.federation.conftest import ANGELA_EMAIL
from tests.federation.conftest import PLUS
from tests.federation.conftest import PSC
from tests.federation.conftest import query_of
from tests.federation.conftest import reason_of

BUTTON = re.compile(r'data-upstream="([a-z-]+)"')


def portal_login_page(platform, journey: str):
    """A portal of `journey` sends the browser to idp's login page."""
    portal = Factories(platform.idp).portal(journey=journey)
    browser = platform.browser()
    flow = Flow(browser.client, portal)
    location = flow.authorize().headers["Location"]
    page = browser.get(location)
    assert page.status_code == 200
    return browser, flow, query_of(location)["next"], page


def sign_up_with(browser, upstream: str, email: str = ANGELA_EMAIL):
    page = browser.page
    assert page.status_code == 200 and "Créer mon compte avec" in page.text, page.text[:400]
    return browser.submit(
        f"/federation/{upstream}/creer-mon-compte",
        {"email": email, "email_confirm": email, "cgu": "y", "rgpd": "y"},
    )


def linked(platform) -> list[tuple[str | None, str, str | None]]:
    with platform.idp.app_context():
        return [
            (row.upstream, row.provider, row.acr)
            for row in db.session.scalars(select(FederatedIdentity))
        ]


def events(platform, name: str) -> list[AuditEvent]:
    with platform.idp.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return rows


@pytest.mark.parametrize(
    ("journey", "shown"),
    [
        ("citoyen", ["franceconnect"]),
        ("ameli", [PLUS]),
        ("mon-espace-sante", [PLUS]),
        ("pro-sante", [PSC]),
    ],
)
def test_each_portal_shows_the_button_of_its_upstream(multi, journey, shown):
    _browser, _flow, _next_url, page = portal_login_page(multi, journey)
    assert BUTTON.findall(page.text) == shown
    assert f'href="/federation/{shown[0]}/start?next=' in page.text
    if shown == [PLUS]:
        assert "fr-connect fr-connect--plus" in page.text
        assert "Qu’est-ce que FranceConnect+ ?" in page.text
    elif shown == [PSC]:
        assert "S'identifier avec Pro Santé Connect" in page.text
        assert "fr-connect" not in page.text.replace("fr-connect-group", "")
    else:
        assert "fr-connect--plus" not in page.text
        assert "Qu’est-ce que FranceConnect ?" in page.text


def test_the_login_page_without_a_portal_shows_the_default_upstream(multi):
    page = multi.browser().get("/connexion")
    assert BUTTON.findall(page.text) == ["franceconnect"]


def test_the_health_sign_up_page_offers_franceconnect_plus(multi):
    browser = multi.browser()
    page = browser.get("/inscription/ameli")
    page = browser.follow()
    assert BUTTON.findall(page.text) == [PLUS]


def test_each_upstream_has_its_own_callback_and_records_itself_on_the_link(multi):
    browser, flow, next_url, _page = portal_login_page(multi, "ameli")
    browser.get(f"/federation/{PLUS}/start?" + urlencode({"next": next_url}))
    authorize = browser.page.headers["Location"]
    assert authorize.startswith(multi.issuers[PLUS] + "/authorize?")
    sent = query_of(authorize)
    assert sent["redirect_uri"] == multi.idp_url + f"/federation/{PLUS}/callback"
    assert sent["acr_values"] == "eidas2"
    browser.follow()
    callback = browser.callback_url("angela")
    assert callback.startswith(multi.idp_url + f"/federation/{PLUS}/callback?")
    page = browser.get(callback)
    assert page.headers["Location"] == f"/federation/{PLUS}/creer-mon-compte"
    browser.follow()
    done = sign_up_with(browser, PLUS)
    # The health portal's journey asks for the NIR next, under the same upstream.
    assert done.headers["Location"].startswith(f"/federation/{PLUS}/assurance-maladie")
    assert linked(multi) == [(PLUS, "franceconnect-plus", "eidas2")]
    [created] = events(multi, "federation.account_created")
    assert created.details["provider"] == "franceconnect-plus"

    # The same person at FranceConnect (another platform, another sub) is another
    # identity: it does not log in to this account without the proof of a link.
    other = multi.browser()
    other.fc_login("angela")
    assert events(multi, "federation.login") == []
    assert linked(multi) == [(PLUS, "franceconnect-plus", "eidas2")]


def test_a_state_started_with_one_upstream_is_refused_by_another(multi):
    browser = multi.browser()
    browser.to_franceconnect()
    callback = browser.callback_url("angela")
    assert "/federation/franceconnect/callback?" in callback
    forged = callback.replace("/federation/franceconnect/", f"/federation/{PLUS}/")
    page = browser.get(forged)
    assert page.status_code == 400 and reason_of(page) == "bad_state"
    assert linked(multi) == []
    [failed] = events(multi, "federation.failed")
    assert (failed.details["provider"], failed.details["reason"]) == (PLUS, "bad_state")


def test_an_unknown_upstream_is_not_found(multi):
    browser = multi.browser()
    assert browser.get("/federation/inconnu/start").status_code == 404
    assert browser.get("/federation/inconnu/callback?state=x&code=y").status_code == 404


def test_logout_goes_through_the_upstream_of_the_session(multi):
    portal = Factories(multi.idp).portal(journey="citoyen")
    browser = multi.browser()
    browser.fc_login("pierre-paul", upstream=PLUS)
    sign_up_with(browser, PLUS, "pierre-paul@example.fr")
    flow = Flow(browser.client, portal)
    code = query_of(flow.authorize().headers["Location"])["code"]
    tokens = flow.token(code).get_json()
    with multi.idp.app_context():
        upstream_token = db.session.scalar(
            select(BrowserSession).where(BrowserSession.upstream_id_token.is_not(None))
        ).upstream_id_token
    assert upstream_token.count(".") == 4  # FranceConnect+ encrypts it

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
    location = out.headers["Location"]
    assert location.startswith(multi.issuers[PLUS] + "/session/end?")
    sent = query_of(location)
    assert sent["id_token_hint"] == upstream_token
    assert sent["post_logout_redirect_uri"] == multi.idp_url + f"/federation/{PLUS}/logged-out"
    back = browser.get(location)
    assert back.headers["Location"].startswith(multi.idp_url + f"/federation/{PLUS}/logged-out")
    final = browser.get(back.headers["Location"])
    assert final.headers["Location"] == POST_LOGOUT + "?state=fin"
    [started] = events(multi, "federation.logout_started")
    assert started.details["provider"] == PLUS


def test_pro_sante_connect_logs_in_with_its_own_settings(multi):
    browser, _flow, next_url, _page = portal_login_page(multi, "pro-sante")
    browser.get(f"/federation/{PSC}/start?" + urlencode({"next": next_url}))
    sent = query_of(browser.page.headers["Location"])
    assert sent["scope"] == "openid scope_all"
    assert sent["acr_values"] == "eidas1"
    assert "claims" not in sent
    browser.follow()
    # RS256 ID token, JSON userinfo: verified, then the sign-up page.
    page = browser.choose("sofia")
    assert page.status_code == 200 and "Créer mon compte avec Pro Santé Connect" in page.text
    assert "Identité certifiée par Pro Santé Connect" in page.text
    sign_up_with(browser, PSC, "sofia@example.fr")
    assert linked(multi) == [(PSC, "pro-sante-connect", "eidas1")]
    with multi.idp.app_context():
        session_row = db.session.scalar(select(BrowserSession))
        # Not "fc": the portal can tell a Pro Santé Connect login apart.
        assert (session_row.amr, session_row.acr) == (["psc"], "eidas1")


def test_discovery_lists_the_union_of_the_upstream_levels(multi):
    document = multi.browser().get("/.well-known/openid-configuration").get_json()
    assert set(document["acr_values_supported"]) == {"eidas1", "eidas2", "eidas3"}


def test_the_encryption_keys_are_published_when_an_upstream_encrypts(multi):
    keys = multi.browser().get("/federation/jwks.json").get_json()["keys"]
    assert keys and all(k["use"] == "enc" for k in keys)


# --- Configuration ----------------------------------------------------------------------------


def settings(**kw) -> dict:
    values = {k: v for k, v in vars(Defaults).items() if k.isupper()}
    values.update(SECRET_KEY="s" * 40, **kw)
    return values


FC = {
    "FRANCECONNECT_ISSUER": "https://oidc.franceconnect.gouv.fr/api/v2",
    "FRANCECONNECT_CLIENT_ID": "a",
    "FRANCECONNECT_CLIENT_SECRET": "b",
}
FC_PLUS = {
    "name": PLUS,
    "preset": PLUS,
    "issuer": "https://auth.franceconnect.gouv.fr/api/v2",
    "client_id": "c",
    "client_secret": "d",
    "journeys": ["ameli"],
}


@pytest.mark.parametrize(
    ("upstreams", "message"),
    [
        ("[{", "JSON"),
        ('{"name": "x"}', "liste"),
        ([{**FC_PLUS, "name": "franceconnect"}], "même nom"),
        ([{**FC_PLUS, "name": "Bad Name"}], "name"),
        ([{**FC_PLUS, "name": "jwks.json"}], "name"),
        ([{**FC_PLUS, "issuer": "http://fc.example/api/v2"}], "https"),
        ([{**FC_PLUS, "client_secret": ""}], "client_secret"),
        ([{**FC_PLUS, "acr": "eidas1"}], "acr"),
        ([{**FC_PLUS, "token_auth": "client_secret_basic"}], "token_auth"),
        ([{**FC_PLUS, "preset": "fc-v1"}], "preset"),
        ([{**FC_PLUS, "secret": "x"}], "inconnues"),
    ],
)
def test_unsafe_upstreams_fail_at_start_up(upstreams, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(settings(UPSTREAMS=upstreams, **FC))


def test_pro_sante_connect_may_use_client_secret_basic():
    psc = {**FC_PLUS, "name": PSC, "preset": PSC, "acr": "eidas1", "journeys": ["pro-sante"]}
    found = configured(settings(UPSTREAMS=[{**psc, "token_auth": "client_secret_basic"}], **FC))
    assert [(u.name, u.token_auth) for u in found] == [
        ("franceconnect", "client_secret_post"),
        (PSC, "client_secret_basic"),
    ]
    assert found[1].scopes == "openid scope_all"


def test_an_upstream_is_offered_where_named_else_where_none_is():
    fc, plus = configured(settings(UPSTREAMS=[{**FC_PLUS, "clients": "portail-x"}], **FC))
    upstreams = [fc, plus]
    assert offered(upstreams, None, "citoyen") == [fc]
    assert offered(upstreams, "other", "ameli") == [plus]
    assert offered(upstreams, "portail-x", "citoyen") == [plus]
    assert offered(upstreams, None, None) == [fc]
    assert offered([plus], None, "citoyen") == []


def test_the_check_command_covers_every_upstream(multi):
    checked = multi.idp.test_cli_runner().invoke(args=["federation", "check"])
    assert checked.exit_code == 0, checked.output
    for name in ("franceconnect", PLUS, PSC):
        assert f"[{name}] issuer: {multi.issuers[name]}" in checked.output
