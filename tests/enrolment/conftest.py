"""Sign-up fixtures: an app that mails a real SMTP server synchronously, and a portal."""

from __future__ import annotations

import re

import pytest

from tests.factories import csrf_of
from tests.smtp import smtp_server  # noqa: F401

LINK = re.compile(r"http://localhost/activation/[A-Za-z0-9_\-]+")
SMS_CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def signup_app(make_app, smtp_server):  # noqa: F811
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)


@pytest.fixture
def browser(signup_app):
    return signup_app.test_client()


class Walker:
    """Posts the real forms of a journey, CSRF token included."""

    def __init__(self, client):
        self.client = client
        self.page = None
        self.token = None

    def get(self, url):
        self.page = self.client.get(url)
        if 'name="csrf_token"' in self.page.text:
            self.token = csrf_of(self.page.text)
        return self.page

    def post(self, url, data, follow=False):
        """Post like the page would; the CSRF token is the session's, seen on any page."""
        if self.token is None:
            self.get(url)
        self.page = self.client.post(
            url, data={**data, "csrf_token": self.token}, follow_redirects=follow
        )
        if 'name="csrf_token"' in self.page.text:
            self.token = csrf_of(self.page.text)
        return self.page


def link_in(message) -> str:
    text = message.part("plain")
    found = LINK.search(text)
    assert found, text
    assert found.group(0) in message.part("html"), "the full link must be in the HTML part too"
    return found.group(0).removeprefix("http://localhost")


def code_in(message) -> str:
    found = SMS_CODE.search(message.part("plain"))
    assert found
    return found.group(1)
