"""Notification fixtures: a real SMTP server and an app that sends to it synchronously."""

from __future__ import annotations

import pytest

from tests.smtp import smtp_server  # noqa: F401


@pytest.fixture
def notify_app(make_app, smtp_server):  # noqa: F811
    """An app sending to the test SMTP server, at once after the commit."""
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)
