"""The recovery pages answer in the same time whether or not an account matches."""

from __future__ import annotations

import statistics
import time

import pytest

from idp.auth import recovery
from tests.factories import csrf_of


@pytest.fixture
def timed_app(make_app, smtp_server, monkeypatch):  # noqa: F811
    # Production-like: mails leave from a background thread; answers are padded.
    monkeypatch.setattr(recovery, "MIN_ANSWER_SECONDS", 0.2)
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=True)


@pytest.mark.parametrize(
    ("url", "field", "extra"),
    [
        ("/mot-de-passe-oublie", "identifier", {"channel": "email"}),
        ("/identifiant-oublie", "email", {}),
    ],
)
def test_recovery_timing_does_not_reveal_whether_the_account_exists(
    timed_app, factories, smtp_server, url, field, extra
):
    person = factories.account(email="timing@example.fr", username="timing")
    client = timed_app.test_client()
    token = csrf_of(client.get(url).text)

    def measure(value):
        start = time.perf_counter()
        response = client.post(url, data={field: value, "csrf_token": token, **extra})
        assert response.status_code == 200
        return time.perf_counter() - start

    measure("warm-up@example.fr")
    known, unknown = [], []
    for _ in range(12):  # interleaved, so that load on the machine hits both series alike
        known.append(measure(person.email))
        unknown.append(measure("absent@example.fr"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.8 < ratio < 1.25, (known, unknown)
    assert min(known + unknown) >= 0.2
    # The known account did receive its mails: the test measured the real work.
    assert len(smtp_server.wait(12, timeout=20)) >= 12
