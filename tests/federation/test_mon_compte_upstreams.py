"""Mon compte with several upstreams: one row each (brand, "Relier", "Délier" when another
way to log in remains) on per-upstream routes; the RGPD export lists the linked ones."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from idp.enrolment.models import AccountIdentifier
from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.models import Account
from tests.account.conftest import login
from tests.factories import Factories
from tests.federation.conftest import PLUS
from tests.federation.conftest import PSC
from tests.federation.conftest import passed_second_factor
from tests.federation.test_professional import events
from tests.federation.test_professional import psc_login
from tests.federation.test_upstreams import sign_up_with

ROW = re.compile(r'data-upstream-row="([a-z-]+)"')
ANGELA = {"given_name": "Angela", "family_name": "Dubois"}


def section(page) -> str:
    return page.text.split('id="franceconnect"')[1].split("</section>")[0]


def row(page, name: str) -> str:
    return section(page).split(f'data-upstream-row="{name}"')[1].split("data-upstream-row")[0]


def linked(platform) -> list[tuple[int, str | None]]:
    with platform.idp.app_context():
        return sorted(
            (r.account_id, r.upstream) for r in db.session.scalars(select(FederatedIdentity))
        )


def logged_in(platform, **kw):
    person = Factories(platform.idp).account(**kw)
    browser = platform.browser()
    login(browser.client, person)
    passed_second_factor(platform, person)  # linking adds a way in: it needs two factors
    browser.get("/mon-compte")
    return browser, person


def link_from_mon_compte(browser, upstream: str, identity: str):
    start = browser.submit(f"/federation/{upstream}/relier-mon-compte", {})
    assert start.status_code == 302, start.text[:300]
    assert "Je choisis une identité de test" in browser.follow().text
    page = browser.choose(identity)  # back on Mon compte, with its message
    assert page.status_code == 200 and "<h1>Mon compte</h1>" in page.text, page.text[:300]
    return page


def test_every_configured_upstream_has_its_row_and_links_on_its_own_route(multi):
    browser, person = logged_in(multi, **ANGELA)
    page = browser.page
    assert ROW.findall(section(page)) == ["franceconnect", PLUS, PSC]
    for name, brand in (
        ("franceconnect", "FranceConnect"),
        (PLUS, "FranceConnect+"),
        (PSC, "Pro Santé Connect"),
    ):
        assert f'action="/federation/{name}/relier-mon-compte"' in row(page, name)
        assert f"Relier mon compte à {brand}</button>" in row(page, name)
        assert "Délier" not in row(page, name)

    page = link_from_mon_compte(browser, PSC, "angela")
    assert "Votre compte est maintenant relié à Pro Santé Connect." in page.text
    assert linked(multi) == [(person.id, PSC)]
    assert "Votre compte est relié à Pro Santé Connect depuis le" in row(page, PSC)
    assert f'action="/mon-compte/{PSC}/delier"' in row(page, PSC)
    assert "Relier mon compte à FranceConnect</button>" in row(page, "franceconnect")
    # Linking from Mon compte keeps the national identifier for the next logins.
    with multi.idp.app_context():
        assert (
            db.session.scalar(
                select(AccountIdentifier.display).where(AccountIdentifier.account_id == person.id)
            )
            == "810001234567"
        )

    page = link_from_mon_compte(browser, "franceconnect", "angela")
    assert linked(multi) == [(person.id, "franceconnect"), (person.id, PSC)]
    assert "Délier FranceConnect</button>" in row(page, "franceconnect")

    # Unlinking one upstream leaves the other one linked.
    done = browser.submit(f"/mon-compte/{PSC}/delier", {})
    assert done.status_code == 302 and done.headers["Location"].endswith("#franceconnect")
    page = browser.get("/mon-compte")
    assert "Pro Santé Connect n&#39;est plus relié à votre compte." in page.text
    assert linked(multi) == [(person.id, "franceconnect")]
    assert "Relier mon compte à Pro Santé Connect</button>" in row(page, PSC)
    [unlinked] = events(multi, "federation.unlinked")
    assert (unlinked.account_id, unlinked.details["upstream"]) == (person.id, PSC)


def test_the_rows_follow_the_account_journey(multi):
    with multi.idp.app_context():
        person = Factories(multi.idp).account(**ANGELA)
        db.session.get(Account, person.id).journey = "pro-sante"
        db.session.commit()
    browser = multi.browser()
    login(browser.client, person)
    page = browser.get("/mon-compte")
    assert ROW.findall(section(page)) == [PSC]
    assert "Relier mon compte à FranceConnect" not in page.text


def test_unlinking_needs_another_way_to_log_in(multi):
    """An account created through Pro Santé Connect has no password: it cannot unlink it,
    until FranceConnect is linked too; then either one can go, not both."""
    browser, _next, _page = psc_login(multi, "angela")
    sign_up_with(browser, PSC, "angela.pro@example.fr")
    page = browser.get("/mon-compte")
    assert "Vous ne pouvez pas délier Pro Santé Connect" in row(page, PSC)
    assert "Délier Pro Santé Connect</button>" not in page.text
    refused = browser.submit(f"/mon-compte/{PSC}/delier", {})
    assert refused.status_code == 302
    page = browser.get("/mon-compte")
    assert "Pro Santé Connect n&#39;a pas été délié" in page.text
    [(account_id, _)] = linked(multi)
    [event] = events(multi, "federation.unlink_refused")
    assert event.details["upstream"] == PSC

    page = link_from_mon_compte(browser, "franceconnect", "angela")
    assert linked(multi) == [(account_id, "franceconnect"), (account_id, PSC)]
    assert "Délier Pro Santé Connect</button>" in row(page, PSC)
    assert "Délier FranceConnect</button>" in row(page, "franceconnect")
    browser.submit(f"/mon-compte/{PSC}/delier", {})
    page = browser.get("/mon-compte")
    assert linked(multi) == [(account_id, "franceconnect")]
    assert "Vous ne pouvez pas délier FranceConnect" in row(page, "franceconnect")


def test_unlinking_an_unknown_upstream_or_without_csrf(multi):
    browser, _ = logged_in(multi, **ANGELA)
    link_from_mon_compte(browser, PSC, "angela")
    assert browser.submit("/mon-compte/inconnu/delier", {}).status_code == 404
    assert browser.client.post(f"/mon-compte/{PSC}/delier", data={}).status_code == 400
    assert len(linked(multi)) == 1


def test_the_export_lists_linked_identities_with_their_upstream(multi):
    browser, person = logged_in(multi, **ANGELA)
    link_from_mon_compte(browser, PSC, "angela")
    link_from_mon_compte(browser, "franceconnect", "angela")
    response = browser.submit("/mon-compte/mes-donnees", {})
    assert response.status_code == 200
    data = json.loads(response.data)
    found = {i["upstream"]: i for i in data["linked_identities"]}
    assert set(found) == {"franceconnect", PSC}
    assert found[PSC]["provider"] == "pro-sante-connect"
    assert found[PSC]["issuer"] == multi.issuers[PSC]
    assert found[PSC]["claims"]["SubjectNameID"] == "810001234567"
    assert found["franceconnect"]["claims"]["birthdate"] == "1962-08-24"
    assert all(i["linked_at"] and i["subject"] for i in found.values())
    # Never a token: the raw upstream ID token is not part of the identity.
    assert all("id_token" not in i for i in data["linked_identities"])
