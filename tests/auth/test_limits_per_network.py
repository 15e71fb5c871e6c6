"""Per-identifier rate limits count per client network: a stranger spends only their own."""

from __future__ import annotations

import pytest

from idp.auth import recovery
from idp.auth.limits import network_of
from tests.enrolment.conftest import Walker
from tests.factories import PASSWORD
from tests.factories import csrf_of

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.9"


@pytest.fixture(autouse=True)
def quick_answers(monkeypatch):
    monkeypatch.setattr(recovery, "MIN_ANSWER_SECONDS", 0)


def browser_at(app, ip: str, forwarded_for: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    if forwarded_for:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def post_login(client, identifier, password):
    page = client.get("/connexion")
    return client.post(
        "/connexion",
        data={"identifier": identifier, "password": password, "csrf_token": csrf_of(page.text)},
    )


@pytest.fixture
def limited(make_app):
    return make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="100 per minute",
        LOGIN_ACCOUNT_RATE_LIMIT="3 per 15 minutes",
    )


def test_two_networks_have_independent_login_budgets_for_one_identifier(limited, factories):
    person = factories.account()
    attacker = browser_at(limited, ATTACKER)
    statuses = [post_login(attacker, person.email, "Wrong-guess-1").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # Another machine of the attacker's /24 shares its budget, even with the right password.
    neighbour = browser_at(limited, "203.0.113.250")
    assert post_login(neighbour, person.email.upper(), PASSWORD).status_code == 429
    # The owner, elsewhere, still logs in.
    owner = post_login(browser_at(limited, OWNER), person.email, PASSWORD)
    assert owner.status_code == 302


def test_ipv6_addresses_are_grouped_by_48(limited, factories):
    person = factories.account()
    for host in ("2001:db8:1:a::1", "2001:db8:1:b::2", "2001:db8:1:ffff::3"):
        assert post_login(browser_at(limited, host), person.email, "Wrong").status_code == 200
    same_48 = post_login(browser_at(limited, "2001:db8:1:1234::9"), person.email, PASSWORD)
    assert same_48.status_code == 429
    other_48 = post_login(browser_at(limited, "2001:db8:2::1"), person.email, PASSWORD)
    assert other_48.status_code == 302


def test_the_per_ip_limit_still_holds_across_identifiers(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = browser_at(app, ATTACKER)
    statuses = [post_login(client, f"p{i}@example.fr", "x").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert post_login(browser_at(app, OWNER), "p9@example.fr", "x").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_counts(make_app, factories):
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="100 per minute",
        LOGIN_ACCOUNT_RATE_LIMIT="3 per 15 minutes",
        TRUSTED_PROXIES=1,
    )
    person = factories.account()
    attacker = browser_at(app, "10.0.0.2", forwarded_for=ATTACKER)
    statuses = [post_login(attacker, person.email, "Wrong").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    owner = browser_at(app, "10.0.0.2", forwarded_for=OWNER)
    assert post_login(owner, person.email, PASSWORD).status_code == 302


def test_a_stranger_cannot_spend_the_owners_password_reset_budget(make_app, factories, smtp_server):
    app = make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False, RATELIMIT_ENABLED=True)
    person = factories.account()
    attacker = Walker(browser_at(app, ATTACKER))
    attacker.get("/mot-de-passe-oublie")
    codes = [
        attacker.post(
            "/mot-de-passe-oublie", {"identifier": person.email, "channel": "email"}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    owner = Walker(browser_at(app, OWNER))
    owner.get("/mot-de-passe-oublie")
    sent = owner.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "email"})
    assert sent.status_code == 200
    assert len(smtp_server.wait(4)) == 4  # three for the stranger's requests, one for the owner


def test_reset_requests_for_one_identifier_have_a_ceiling_over_all_networks(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    codes = []
    for network in range(34):  # 3 requests from each of 34 networks: 102
        walker = Walker(browser_at(app, f"192.0.{network}.1"))
        walker.get("/identifiant-oublie")
        codes += [
            walker.post("/identifiant-oublie", {"email": "bombe@example.fr"}).status_code
            for _ in range(3)
        ]
    assert codes[:100] == [200] * 100 and codes[100:] == [429, 429]


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.77", "192.0.2.0/24"),
        ("::ffff:192.0.2.77", "192.0.2.0/24"),
        ("2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
        ("not an address", None),
        (None, None),
    ],
)
def test_network_of(address, network):
    assert network_of(address) == network
