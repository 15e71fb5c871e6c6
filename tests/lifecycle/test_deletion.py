"""Deleting an account (RGPD): re-authentication, grace period, cancellation, erasure."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import select

from idp.enrolment.models import AccountIdentifier
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.oidc.models import BackchannelDelivery
from idp.oidc.models import BrowserSession
from idp.oidc.models import Token
from tests.factories import PASSWORD
from tests.factories import Flow
from tests.lifecycle.conftest import GENERIC
from tests.lifecycle.conftest import logged_in
from tests.lifecycle.conftest import login_session
from tests.lifecycle.conftest import post_login

PAGE = "/mon-compte/suppression"
CANCEL = "/mon-compte/suppression/annuler"


def refresh(client, portal, tokens):
    return client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )


def status_of(app, account_id):
    with app.app_context():
        account = db.session.get(Account, account_id)
        return account.status, account.deletion_scheduled_at


def portal_with_tokens(lc_app, factories, person):
    portal = factories.portal(backchannel_logout_uri="http://127.0.0.1:9/logout")
    client = lc_app.test_client()
    tokens = Flow(client, portal).tokens(person)
    assert refresh(client, portal, tokens).status_code == 200
    return portal, client, tokens


def request_deletion(lc_app, person, password=PASSWORD):
    walker = login_session(lc_app, person)
    assert 'href="/mon-compte/suppression"' in walker.page.text
    walker.get(PAGE)
    return walker, walker.post(PAGE, {"current_password": password})


def test_deletion_needs_the_password(lc_app, factories, smtp_server):
    person = factories.account()
    walker, refused = request_deletion(lc_app, person, password="Pas-le-bon-1")
    assert refused.status_code == 200 and "Le mot de passe est incorrect." in refused.text
    assert status_of(lc_app, person.id) == ("active", None)
    assert walker.get("/mon-compte").status_code == 200  # still logged in
    assert 'autocomplete="current-password"' in walker.get(PAGE).text


def test_deletion_ends_sessions_revokes_tokens_and_only_offers_to_cancel(
    lc_app, factories, smtp_server
):
    person = factories.account()
    portal, portal_client, tokens = portal_with_tokens(lc_app, factories, person)
    walker, done = request_deletion(lc_app, person)
    assert done.status_code == 200 and "La suppression de votre compte est programmée" in done.text
    assert "idp_session=;" in "".join(done.headers.getlist("Set-Cookie"))
    status, when = status_of(lc_app, person.id)
    assert status == "deleting"
    assert abs(when - (utcnow() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)
    # Every session ended (the portal is told by back-channel), every token revoked.
    with lc_app.app_context():
        live = db.session.scalar(
            select(func.count(BrowserSession.id)).where(
                BrowserSession.account_id == person.id, BrowserSession.ended_at.is_(None)
            )
        )
        assert live == 0
        assert db.session.scalar(
            select(BackchannelDelivery).where(BackchannelDelivery.client_id == portal.client_id)
        )
    assert refresh(portal_client, portal, tokens).json["error"] == "invalid_grant"
    assert walker.get("/mon-compte").status_code == 302
    mail = smtp_server.wait(1)[0]
    assert mail.rcpt_tos == [person.email]
    day = when.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y")
    assert day in mail.part("plain") and "Annuler la suppression" in mail.part("plain")
    # A portal sends the person to log in: the right password only leads to "cancel".
    flow = Flow(lc_app.test_client(), portal)
    answer = flow.login(flow.authorize(), person.email, PASSWORD)
    assert answer.status_code == 302 and answer.headers["Location"] == CANCEL
    assert "idp_session=" not in "".join(answer.headers.getlist("Set-Cookie"))
    page = flow.client.get(CANCEL)
    assert "Annuler la suppression" in page.text
    assert flow.client.get("/mon-compte").status_code == 302  # no session for anything else
    # A wrong password says nothing about the deletion.
    wrong = post_login(lc_app.test_client(), person.email, "Pas-le-bon-1")
    assert wrong.status_code == 200 and GENERIC in wrong.text


def test_cancelling_gives_the_account_back(lc_app, factories, smtp_server):
    person = factories.account()
    request_deletion(lc_app, person)
    client = lc_app.test_client()
    assert post_login(client, person.email, PASSWORD).headers["Location"] == CANCEL
    page = client.get(CANCEL)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    assert client.post(CANCEL, data={}).status_code == 400  # CSRF
    cancelled = client.post(CANCEL, data={"csrf_token": token})
    assert cancelled.status_code == 302 and cancelled.headers["Location"].startswith("/connexion")
    assert status_of(lc_app, person.id) == ("active", None)
    assert logged_in(post_login(client, person.email, PASSWORD))
    assert [m.message["Subject"] for m in smtp_server.wait(2)][1] == (
        "La suppression de votre compte est annulée"
    )
    # Without a right password first, the cancel page sends back to the login page.
    assert lc_app.test_client().get(CANCEL).headers["Location"] == "/connexion"


def test_purge_after_the_grace_period_erases_personal_data(lc_app, factories, smtp_server, runner):
    person = factories.account(username="marie.c", birthdate=dt.date(1967, 11, 7))
    child = factories.account(email="enfant@example.fr", given_name="Ève")
    with lc_app.app_context():
        db.session.get(Account, child.id).managed_by_id = person.id
        db.session.add(
            AccountIdentifier(account_id=person.id, kind="ine", lookup_hash="x" * 64, display="1")
        )
        db.session.commit()
    portal, portal_client, tokens = portal_with_tokens(lc_app, factories, person)
    request_deletion(lc_app, person)
    # Within the grace period, purge erases nothing.
    assert "accounts_erased=0" in runner.invoke(args=["purge"]).output
    with lc_app.app_context():
        account = db.session.get(Account, person.id)
        account.deletion_scheduled_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
    assert "accounts_erased=1" in runner.invoke(args=["purge"]).output
    with lc_app.app_context():
        account = db.session.get(Account, person.id)
        assert account.status == "deleted" and account.sub == person.sub
        for column in (
            "email",
            "username",
            "given_name",
            "family_name",
            "birthdate",
            "password_hash",
            "phone",
            "email_verified_at",
        ):
            assert getattr(account, column) is None, column
        for model in (AccountIdentifier, Token, BrowserSession):
            assert not db.session.scalar(select(model).where(model.account_id == person.id))
        audit_rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.account_id == person.id)
        ).all()
        assert {"login.succeeded", "account.deletion_requested"} <= {a.event for a in audit_rows}
        assert all(a.ip is None and a.user_agent is None and not a.details for a in audit_rows)
        kept_child = db.session.get(Account, child.id)
        assert kept_child.managed_by_id is None and kept_child.email == "enfant@example.fr"
    assert refresh(portal_client, portal, tokens).json["error"] == "invalid_grant"
    assert GENERIC in post_login(lc_app.test_client(), person.email, PASSWORD).text
    # The address can be used again for a new account.
    factories.account(email=person.email)


def test_an_account_without_password_confirms_with_a_code_by_mail(lc_app, factories, smtp_server):
    person = factories.account()
    walker = login_session(lc_app, person)
    with lc_app.app_context():
        db.session.get(Account, person.id).password_hash = None
        db.session.commit()
    page = walker.get(PAGE)
    assert 'autocomplete="one-time-code"' in page.text and "Recevoir un code" in page.text
    walker.post("/mon-compte/suppression/code", {})
    code = re.search(r"^\s*([A-Za-z0-9]{8})\s*$", smtp_server.wait(1)[0].part("plain"), re.M)
    assert code
    wrong = walker.post(PAGE, {"code": "AAAAAAAA" if code.group(1) != "AAAAAAAA" else "BBBBBBBB"})
    assert "Ce code est incorrect" in wrong.text
    assert status_of(lc_app, person.id)[0] == "active"
    done = walker.post(PAGE, {"code": code.group(1)})
    assert "La suppression de votre compte est programmée" in done.text
    assert status_of(lc_app, person.id)[0] == "deleting"
