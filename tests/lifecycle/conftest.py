"""Lockout, email change and deletion fixtures: the real SMTP server, small thresholds."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import update

from idp.auth import recovery
from idp.auth.lockout import LoginThrottle
from idp.extensions import db
from tests.enrolment.conftest import Walker
from tests.factories import csrf_of
from tests.factories import mark_second_factor_passed
from tests.smtp import smtp_server  # noqa: F401

GENERIC = "Identifiant ou mot de passe incorrect."
TOO_MANY = "Trop de tentatives de connexion."


@pytest.fixture(autouse=True)
def quick_answers(monkeypatch):
    # The minimum answer time of the recovery pages has its own (statistical) test.
    monkeypatch.setattr(recovery, "MIN_ANSWER_SECONDS", 0)


@pytest.fixture(autouse=True)
def background_threads_done(make_app):
    """Let idp's delivery threads (mail, back-channel) end before the apps are disposed."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("idp-") and thread is not threading.current_thread():
            thread.join(timeout=15)


@pytest.fixture
def lc_app(make_app, smtp_server):  # noqa: F811
    return make_app(
        SMTP_PORT=smtp_server.port,
        NOTIFY_ASYNC=False,
        LOGIN_DELAY_AFTER=3,
        LOGIN_LOCK_THRESHOLD=5,
        LOGIN_LOCK_DURATION=1200,
    )


@pytest.fixture
def browser(lc_app):
    return lc_app.test_client()


def post_login(client, identifier, password, next_url=None):
    url = "/connexion" + (f"?next={next_url}" if next_url else "")
    page = client.get(url)
    return client.post(
        url, data={"identifier": identifier, "password": password, "csrf_token": csrf_of(page.text)}
    )


def logged_in(response) -> bool:
    return response.status_code == 302 and "idp_session=" in "".join(
        response.headers.getlist("Set-Cookie")
    )


def visible(html: str) -> str:
    """The page without attribute values (CSRF token, typed identifier)."""
    return re.sub(r'value="[^"]*"', "", html)


def time_passes(app, seconds: int) -> None:
    """Move every failure `seconds` into the past (the delays are measured from it)."""
    import datetime as dt

    with app.app_context():
        for row in db.session.scalars(db.select(LoginThrottle)):
            row.last_failure_at -= dt.timedelta(seconds=seconds)
        db.session.commit()


def expire_locks(app) -> None:
    import datetime as dt

    from idp.models import utcnow

    with app.app_context():
        db.session.execute(
            update(LoginThrottle).values(locked_until=utcnow() - dt.timedelta(seconds=1))
        )
        db.session.commit()


def login_session(app, person) -> Walker:
    """A browser logged in as `person`, as a Walker on Mon compte."""
    client = app.test_client()
    assert logged_in(post_login(client, person.email, person.password))
    walker = Walker(client)
    walker.get("/mon-compte")
    return walker


def two_factor_session(app, person) -> Walker:
    """A browser on Mon compte whose session already passed a second factor (eidas2)."""
    walker = login_session(app, person)
    mark_second_factor_passed(app, person.id)
    return walker
