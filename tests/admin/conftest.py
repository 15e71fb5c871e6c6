"""Console fixtures: operators with a role and a second-factor session, the SMTP server."""

from __future__ import annotations

import pytest

from idp.admin import services
from idp.auth import session as sso
from idp.extensions import db
from idp.models import Account
from idp.security import audit
from tests.factories import csrf_of
from tests.smtp import smtp_server  # noqa: F401


def open_browser_session(app, client, account_id, acr="eidas2", amr=("pwd", "otp")):
    """Seed an SSO session (as the second-factor login would open it) into a test client."""
    with app.app_context():
        account = db.session.get(Account, account_id)
        secret = sso.open_session(account, list(amr), acr, audit.Origin())[1]
        db.session.commit()
    client.set_cookie(sso.COOKIE, secret)
    return client


def make_operator(app, factories, email, roles=("admin",), **session):
    person = factories.account(email=email, given_name="Opé", family_name="RATEUR")
    with app.app_context():
        account = db.session.get(Account, person.id)
        for role in roles:
            services.grant_role(account, role)
        db.session.commit()
    client = open_browser_session(app, app.test_client(), person.id, **session)
    client.person = person
    return client


def post_form(client, url, data=None, page_url=None):
    """POST like the page does: with the CSRF token read from a console page."""
    token = csrf_of(client.get(page_url or f"/admin/personnes/{client.person.id}").text)
    return client.post(url, data={**(data or {}), "csrf_token": token})


@pytest.fixture
def admin(app, factories):
    return make_operator(app, factories, "admin@ars.example.fr", roles=("admin",))


@pytest.fixture
def helpdesk(app, factories):
    return make_operator(app, factories, "agent@ars.example.fr", roles=("helpdesk",))
