"""Many people behind one address (a hospital's or a company's NAT, a mobile operator's
carrier-grade NAT): the per-address limits count what fails, not the people who log in.

A password sprayer from that address still meets the limit after a few failures; the
per-identifier limits and locks (tests/auth/test_limits_per_network.py, test_lockout.py)
still bound what one identifier may try, successes included.
"""

from __future__ import annotations

import pytest

from tests.auth.test_limits_per_network import browser_at
from tests.auth.test_limits_per_network import post_login
from tests.enrolment.conftest import Walker
from tests.factories import PASSWORD
from tests.mfa.conftest import VERIFY
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify
from tests.smtp import smtp_server  # noqa: F401

HOSPITAL = "192.0.2.10"


@pytest.fixture
def shared(make_app, smtp_server):  # noqa: F811
    return make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="3 per minute",
        SMTP_PORT=smtp_server.port,
        NOTIFY_ASYNC=False,
    )


def test_people_logging_in_from_one_address_do_not_spend_its_budget(shared, factories):
    people = [factories.account(email=f"agent{i}@chu.example.fr") for i in range(6)]
    statuses = [post_login(browser_at(shared, HOSPITAL), p.email, PASSWORD) for p in people]
    assert [r.status_code for r in statuses] == [302] * 6


def test_failures_from_one_address_still_meet_its_limit(shared, factories):
    person = factories.account()
    sprayer = browser_at(shared, HOSPITAL)
    statuses = [post_login(sprayer, f"p{i}@example.fr", "Guess-1").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    # While the limit holds, nobody from that address gets in; elsewhere is untouched.
    assert post_login(browser_at(shared, HOSPITAL), person.email, PASSWORD).status_code == 429
    assert post_login(browser_at(shared, "198.51.100.9"), person.email, PASSWORD).status_code == 302


def test_second_factors_passed_from_one_address_do_not_spend_its_budget(shared, factories):
    # One more than the page's per-address limit (30 per 10 minutes), all from one address.
    for i in range(31):
        browser, secret = _waiting_for_a_code(shared, factories, f"interne{i}@ars.example.fr")
        assert verify(browser, totp_now(secret)).status_code == 302, i


def _waiting_for_a_code(app, factories, email: str):
    person = factories.account(email=email)
    secret = enable_totp(app, person.id)
    browser = browser_at(app, HOSPITAL)
    assert post_login(browser, person.email, PASSWORD).headers["Location"] == VERIFY
    return browser, secret


def test_wrong_codes_from_one_address_still_meet_its_limit(shared, factories):
    # 30 wrong codes from the address (3 each: below each login's own limit of failures).
    for i in range(10):
        browser, _ = _waiting_for_a_code(shared, factories, f"essai{i}@example.fr")
        assert {verify(browser, "000000").status_code for _ in range(3)} == {200}
    browser, secret = _waiting_for_a_code(shared, factories, "suivant@example.fr")
    assert verify(browser, totp_now(secret)).status_code == 429


def test_people_asking_for_their_password_from_one_address_are_all_answered(
    shared,
    factories,
    smtp_server,  # noqa: F811
):
    # More people than the old per-address limit (5 per 15 minutes) let through.
    people = [factories.account(email=f"soignant{i}@chu.example.fr") for i in range(8)]
    for person in people:
        walker = Walker(browser_at(shared, HOSPITAL))
        walker.get("/mot-de-passe-oublie")
        answer = walker.post(
            "/mot-de-passe-oublie", {"identifier": person.email, "channel": "email"}
        )
        assert answer.status_code == 200 and "Trop de tentatives" not in answer.text
    assert sorted(m.rcpt_tos[0] for m in smtp_server.wait(8)) == sorted(p.email for p in people)


def test_recovery_requests_from_one_address_still_meet_a_ceiling(make_app, smtp_server):  # noqa: F811
    app = make_app(
        RATELIMIT_ENABLED=True,
        RECOVERY_ADDRESS_RATE_LIMIT="3 per 15 minutes",
        SMTP_PORT=smtp_server.port,
        NOTIFY_ASYNC=False,
    )
    walker = Walker(browser_at(app, HOSPITAL))
    walker.get("/mot-de-passe-oublie")
    codes = [
        walker.post(
            "/mot-de-passe-oublie", {"identifier": f"p{i}@example.fr", "channel": "email"}
        ).status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]
