"""Many people signing up from one address: a France Services counter or a pharmacy where an
adviser helps one person after another, a hospital's or a company's NAT, a mobile operator's
carrier-grade NAT. The address's limits are ceilings against mass abuse; what one sign-up
may send (codes, links) is limited per sign-up, so one person cannot spend the others' budget.
"""

from __future__ import annotations

import pytest

from tests.auth.test_limits_per_network import browser_at
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import code_in
from tests.enrolment.conftest import link_in
from tests.enrolment.test_citoyen import IDENTITY
from tests.enrolment.test_citoyen import PASSWORD
from tests.smtp import smtp_server  # noqa: F401

COUNTER = "192.0.2.77"


@pytest.fixture
def counter(make_app, smtp_server):  # noqa: F811
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False, RATELIMIT_ENABLED=True)


def _to_activation(app, i: int) -> Walker:
    """One person's citizen sign-up, from the address, up to the choice of activation."""
    walker = Walker(browser_at(app, COUNTER))
    assert walker.client.get("/inscription/citoyen").status_code == 302
    walker.get("/inscription/citoyen/profil")
    walker.post("/inscription/citoyen/profil", {"profile": "citoyen"})
    assert walker.page.status_code == 302, (i, walker.page.status_code)
    email = f"usager{i}@example.fr"
    identity = {
        **IDENTITY,
        "email": email,
        "email_confirm": email,
        "mobile": f"06 12 34 56 {i:02d}",
    }
    walker.get("/inscription/citoyen/identite")
    walker.post("/inscription/citoyen/identite", identity)
    assert walker.page.status_code == 302, (i, walker.page.status_code)
    walker.get("/inscription/citoyen/identifiant")
    walker.post(
        "/inscription/citoyen/identifiant",
        {"username": f"usager{i}", "password": PASSWORD, "password_confirm": PASSWORD,
         "cgu": "y", "rgpd": "y"},
    )  # fmt: skip
    assert walker.page.headers.get("Location") == "/inscription/citoyen/activation", i
    walker.get("/inscription/citoyen/activation")
    return walker


def test_people_signing_up_one_after_another_at_one_counter_all_get_their_code(
    counter,
    smtp_server,  # noqa: F811
):
    # More people than the old per-address limits let through in an hour (10 activations).
    sent = 0
    for i in range(15):
        walker = _to_activation(counter, i)
        channel = "sms" if i % 2 else "email"
        walker.post("/inscription/citoyen/activation", {"channel": channel})
        assert walker.page.status_code == 302, (i, walker.page.status_code)
        to = f"sms+336123456{i:02d}@sms.localhost" if channel == "sms" else f"usager{i}@example.fr"
        (message,) = [m for m in smtp_server.wait(sent + 1) if m.rcpt_tos == [to]]
        if channel == "sms":
            walker.get("/inscription/citoyen/code")
            walker.post("/inscription/citoyen/code", {"code": code_in(message)})
        else:
            link = link_in(message)
            walker.get(link)
            walker.post(link, {})
        assert walker.page.status_code == 302, (i, walker.page.status_code)
        sent = len(smtp_server.messages)  # with the mail asking an SMS-activated one to confirm


def test_one_sign_up_still_cannot_send_codes_without_end(counter, smtp_server):  # noqa: F811
    walker = _to_activation(counter, 1)
    statuses = [
        walker.post("/inscription/citoyen/activation", {"channel": "sms"}).status_code
        for _ in range(6)
    ]
    assert statuses == [302] * 5 + [429]
    assert len(smtp_server.wait(5)) == 5
    # The next person at the counter is not held back by it.
    other = _to_activation(counter, 2)
    assert other.post("/inscription/citoyen/activation", {"channel": "sms"}).status_code == 302


def test_the_address_has_a_ceiling_against_mass_sign_ups(make_app, smtp_server):  # noqa: F811
    app = make_app(
        SMTP_PORT=smtp_server.port,
        NOTIFY_ASYNC=False,
        RATELIMIT_ENABLED=True,
        SIGNUP_ADDRESS_RATE_LIMIT="3 per hour",
    )
    statuses = []
    for i in range(4):
        walker = _to_activation(app, i)
        statuses.append(
            walker.post("/inscription/citoyen/activation", {"channel": "sms"}).status_code
        )
    assert statuses == [302, 302, 302, 429]
    # Elsewhere is untouched.
    walker = Walker(browser_at(app, "198.51.100.4"))
    assert walker.client.get("/inscription/citoyen").status_code == 302
