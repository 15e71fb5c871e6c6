"""Many people behind one address (a hospital's, a company's or a mobile operator's NAT)
linking their FranceConnect identity or giving their NIR after a FranceConnect sign-up: the
per-address limits of those pages count what fails, not the people who get through.

Every browser of these tests comes from 127.0.0.1: one address for all.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from idp.extensions import db
from idp.extensions import limiter
from idp.registry.services import import_csv
from tests.factories import PASSWORD
from tests.federation.conftest import Platform
from tests.federation.conftest import _platform
from tests.federation.conftest import sign_up
from tests.federation.test_login import local_account
from tests.federation.test_proof import ANGELA_CARD
from tests.federation.test_proof import ANGELA_NIR
from tests.federation.test_proof import INSURED
from tests.federation.test_proof import LINK_PAGE
from tests.federation.test_proof import portal_login

PER_ADDRESS = 10  # "10 per minute" on both pages


@pytest.fixture(scope="module")
def limited(app, tmp_path_factory, fc_smtp) -> Iterator[Platform]:
    yield from _platform(app, tmp_path_factory, fc_smtp, "franceconnect", RATELIMIT_ENABLED=True)


@pytest.fixture(autouse=True)
def fresh_limits(limited) -> None:
    with limited.idp.app_context():
        limiter.reset()  # each test starts with the address's whole budget


def link_attempt(platform, password: str) -> int:
    browser = platform.browser()
    page = browser.fc_login("angela")
    assert 'name="password"' in page.text
    return browser.submit(LINK_PAGE, {"password": password}).status_code


def test_links_proved_from_one_address_do_not_spend_its_budget(limited):
    local_account(limited)
    # Fewer wrong passwords than the limit, one right, then more than the limit allows in all.
    statuses = [link_attempt(limited, "Wrong-1") for _ in range(PER_ADDRESS - 1)]
    statuses += [link_attempt(limited, PASSWORD) for _ in range(3)]
    assert statuses == [200] * (PER_ADDRESS - 1) + [302] * 3
    assert link_attempt(limited, "Wrong-1") == 200  # the tenth failure


def test_wrong_passwords_from_one_address_still_meet_its_limit(limited):
    local_account(limited)
    statuses = [link_attempt(limited, "Wrong-1") for _ in range(PER_ADDRESS + 1)]
    assert statuses == [200] * PER_ADDRESS + [429]


def nir_page(platform, identity: str, email: str):
    browser, _flow, _next = portal_login(platform, "ameli")
    browser.choose(identity)
    location = sign_up(browser, email).headers["Location"]
    browser.follow()
    return browser, location


def test_nirs_given_from_one_address_do_not_spend_its_budget(limited):
    with limited.idp.app_context():
        import_csv("insured", io.StringIO(INSURED))
        db.session.commit()
    angela, location = nir_page(limited, "angela", "angela@example.fr")
    wrong = {"nir": ANGELA_NIR, "card_serial": "0123456789 2"}
    statuses = [angela.submit(location, wrong).status_code for _ in range(PER_ADDRESS - 1)]
    right = angela.submit(location, {"nir": ANGELA_NIR, "card_serial": ANGELA_CARD})
    assert statuses == [200] * (PER_ADDRESS - 1) and right.status_code == 302
    # Someone else from the same address, mistyping once: the tenth failure, still answered.
    other, location = nir_page(limited, "pierre-paul", "pierre-paul@example.fr")
    assert other.submit(location, wrong).status_code == 200
    assert other.submit(location, wrong).status_code == 429  # the eleventh
