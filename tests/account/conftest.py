"""Mon compte fixtures: logged-in browsers and the real SMTP server of tests/smtp.py."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.models import BrowserSession
from tests.factories import csrf_of
from tests.smtp import smtp_server  # noqa: F401


def login(client, person, password=None):
    """Log a test client in through the real login page."""
    page = client.get("/connexion")
    response = client.post(
        "/connexion",
        data={
            "identifier": person.email,
            "password": password or person.password,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert response.status_code == 302, response.text[:500]
    return client


def post_form(client, url, data=None, page_url="/mon-compte"):
    """POST like the page does: with the session's CSRF token, read from a page."""
    token = csrf_of(client.get(page_url).text)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def live_session_ids(app, account_id) -> list[int]:
    with app.app_context():
        rows = db.session.scalars(
            select(BrowserSession).where(BrowserSession.account_id == account_id)
        ).all()
        return [row.id for row in rows if row.is_live]


@pytest.fixture
def person(factories):
    return factories.account()


@pytest.fixture
def browser(client, person):
    return login(client, person)
