"""The logout chain: a FranceConnect session logs out through FranceConnect's /session/end."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent
from idp.oidc.models import BrowserSession
from idp.oidc.models import Token
from tests.factories import PASSWORD
from tests.factories import POST_LOGOUT
from tests.factories import Factories
from tests.factories import Flow
from tests.federation.conftest import fc_session_with_portal_tokens
from tests.federation.conftest import query_of
from tests.federation.conftest import sign_up


def logout_events(platform) -> list[AuditEvent]:
    with platform.idp.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.event.like("federation.logout%"))
                .order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        return rows


def test_rp_initiated_logout_goes_through_franceconnect_and_back_to_the_portal(fc):
    browser, flow, tokens = fc_session_with_portal_tokens(fc)
    with fc.idp.app_context():
        upstream_token = db.session.scalar(select(BrowserSession)).upstream_id_token

    out = browser.get(
        "/logout?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": POST_LOGOUT,
                "state": "bye-42",
            }
        )
    )
    assert out.status_code == 302
    location = out.headers["Location"]
    assert location.startswith(fc.issuer + "/session/end?")
    sent = query_of(location)
    assert sent["id_token_hint"] == upstream_token
    assert re.fullmatch(r"[0-9a-f]{64}", sent["state"])
    assert sent["post_logout_redirect_uri"] == fc.idp_url + "/federation/franceconnect/logged-out"
    # idp's own session already ended before leaving for FranceConnect.
    with fc.idp.app_context():
        row = db.session.scalar(select(BrowserSession))
        assert row.ended_at is not None and row.upstream_id_token is None
        assert all(t.revoked_at is not None for t in db.session.scalars(select(Token)))

    back = browser.get(location)  # FranceConnect's /session/end
    assert back.status_code == 303
    assert back.headers["Location"].startswith(fc.idp_url + "/federation/franceconnect/logged-out")
    final = browser.get(back.headers["Location"])
    assert final.status_code == 302
    assert final.headers["Location"] == POST_LOGOUT + "?state=bye-42"
    assert browser.client.get_cookie("idp_session") is None
    events = logout_events(fc)
    assert [e.event for e in events] == ["federation.logout_started", "federation.logout_returned"]
    assert events[1].details["state"] == "ok"
    # Logged out: the portal's next silent request needs a login.
    again = flow.authorize(prompt="none")
    assert query_of(again.headers["Location"])["error"] == "login_required"


def test_local_logout_goes_through_franceconnect_even_when_it_drops_the_state(fc):
    browser, _, _ = fc_session_with_portal_tokens(fc, "jean-baptiste")
    fc.state.logout_without_state = True
    try:
        browser.get("/deconnexion")
        out = browser.submit("/deconnexion", {})
        assert out.status_code == 302 and out.headers["Location"].startswith(fc.issuer)
        back = browser.get(out.headers["Location"])
        assert "state=" not in back.headers["Location"]
        final = browser.get(back.headers["Location"])
    finally:
        fc.state.logout_without_state = False
    assert final.status_code == 200 and "Vous êtes déconnecté." in final.text
    assert browser.client.get_cookie("idp_session") is None
    with fc.idp.app_context():
        assert db.session.scalar(select(BrowserSession)).ended_at is not None
    assert logout_events(fc)[-1].details["state"] == "missing"


def test_missing_state_from_franceconnect_still_ends_a_live_session(fc):
    browser = fc.browser()
    browser.fc_login("camille")
    sign_up(browser, "camille@example.fr")
    with fc.idp.app_context():
        assert db.session.scalar(select(BrowserSession)).ended_at is None
    page = browser.get("/federation/franceconnect/logged-out")
    assert page.status_code == 200 and "Vous êtes déconnecté." in page.text
    with fc.idp.app_context():
        assert db.session.scalar(select(BrowserSession)).ended_at is not None
    assert browser.client.get_cookie("idp_session") is None


def test_a_password_session_logs_out_without_franceconnect(fc):
    factories = Factories(fc.idp)
    person = factories.account()
    portal = factories.portal()
    browser = fc.browser()
    flow = Flow(browser.client, portal)
    tokens = flow.tokens(person)
    assert person.password == PASSWORD
    out = browser.get(
        "/logout?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": POST_LOGOUT,
                "state": "s",
            }
        )
    )
    assert out.headers["Location"] == POST_LOGOUT + "?state=s"
    assert logout_events(fc) == []
