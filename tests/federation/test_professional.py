"""Pro Santé Connect gives no birthdate: an identity not linked yet finds its account by the
health professional's national identifier (SubjectNameID: "8" + RPPS, "0" + ADELI), then
the same two proofs as a FranceConnect link; never by a name or an email."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from sqlalchemy import delete
from sqlalchemy import select

from idp.enrolment.models import AccountIdentifier
from idp.enrolment.services import add_identifier
from idp.enrolment.services import identifier_hash
from idp.extensions import db
from idp.federation import services
from idp.federation.models import FederatedIdentity
from idp.models import Account
from idp.models import AuditEvent
from idp.oidc.models import BrowserSession
from tests.factories import PASSWORD
from tests.factories import Factories
from tests.factories import Flow
from tests.federation.conftest import PSC
from tests.federation.conftest import link_proof_path
from tests.federation.conftest import query_of
from tests.federation.test_upstreams import sign_up_with

LINK_PAGE = f"/federation/{PSC}/lier-mon-compte"
SIGNUP_PAGE = f"/federation/{PSC}/creer-mon-compte"
# The stand-in's national identifiers (identities.PROFESSIONAL_IDS).
ANGELA_ID = "810001234567"
JEAN_BAPTISTE_ID = "810004444444"  # sent as "8 1000 4444 444"
LOCAL_EMAIL = "dr.dubois@example.fr"


def events(platform, name: str) -> list[AuditEvent]:
    with platform.idp.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()
        db.session.expunge_all()
        return rows


def professional(platform, number: str | None, email=LOCAL_EMAIL, active=True, **kw) -> int:
    """A local account (password) holding a national identifier, not linked to PSC."""
    kw.setdefault("given_name", "Angela")
    kw.setdefault("family_name", "Dubois")
    person = Factories(platform.idp).account(email=email, active=active, **kw)
    if number:
        with platform.idp.app_context():
            add_identifier(db.session.get(Account, person.id), services.PROFESSIONAL_KIND, number)
            db.session.commit()
    return person.id


def psc_login(platform, identity: str):
    """From a pro-sante portal's login to Pro Santé Connect and back (first idp page)."""
    portal = Factories(platform.idp).portal(journey="pro-sante")
    browser = platform.browser()
    flow = Flow(browser.client, portal)
    next_url = query_of(flow.authorize().headers["Location"])["next"]
    browser.get(f"/federation/{PSC}/start?" + urlencode({"next": next_url}))
    browser.follow()
    page = browser.choose(identity)
    return browser, next_url, page


def identities(platform) -> list[tuple[int, str | None]]:
    with platform.idp.app_context():
        return [(r.account_id, r.upstream) for r in db.session.scalars(select(FederatedIdentity))]


def held_by(platform, number: str) -> list[int]:
    with platform.idp.app_context():
        return list(
            db.session.scalars(
                select(AccountIdentifier.account_id).where(
                    AccountIdentifier.kind == services.PROFESSIONAL_KIND,
                    AccountIdentifier.lookup_hash
                    == identifier_hash(services.PROFESSIONAL_KIND, number),
                )
            )
        )


def test_a_unique_identifier_match_links_after_the_password_and_the_mail(multi):
    account_id = professional(multi, ANGELA_ID)
    browser, next_url, page = psc_login(multi, "angela")
    # Not the sign-up page: the account holding this RPPS is offered, behind its proofs.
    assert browser.client.get(LINK_PAGE).status_code == 200
    assert page.status_code == 200 and 'name="password"' in page.text
    assert "Pro Santé Connect" in page.text and ANGELA_ID in page.text
    assert identities(multi) == []
    [offered] = events(multi, "federation.link_offered")
    assert offered.account_id == account_id
    assert offered.details["match"] == "professional_id"

    # A wrong password sends nothing; the right one mails the second proof.
    assert browser.submit(LINK_PAGE, {"password": "pas le bon"}).status_code == 200
    assert events(multi, "federation.link_email_sent") == []
    sent = browser.submit(LINK_PAGE, {"password": PASSWORD})
    assert sent.status_code == 302
    assert identities(multi) == []

    path = link_proof_path(multi, LOCAL_EMAIL)
    assert path.startswith(f"/federation/{PSC}/relier/")
    opened = browser.get(path)
    assert opened.status_code == 200 and "Relier votre compte à Pro Santé Connect" in opened.text
    linked = browser.submit(path, {"decision": "link"})
    assert linked.status_code == 302 and linked.headers["Location"] == next_url
    assert identities(multi) == [(account_id, PSC)]
    with multi.idp.app_context():
        session_row = db.session.scalar(select(BrowserSession))
        assert session_row.account_id == account_id and session_row.amr == ["psc"]

    # The next Pro Santé Connect login goes straight in.
    again, _next, _page = psc_login(multi, "angela")
    assert [e.account_id for e in events(multi, "federation.login")] == [account_id]
    assert len(events(multi, "federation.link_offered")) == 1


def test_the_identifier_is_compared_normalised(multi):
    account_id = professional(multi, JEAN_BAPTISTE_ID, given_name="Jean-Baptiste",
                              family_name="Santoni")  # fmt: skip
    browser, _next, page = psc_login(multi, "jean-baptiste")
    assert 'name="password"' in page.text
    assert [e.account_id for e in events(multi, "federation.link_offered")] == [account_id]


def test_no_match_creates_an_account_that_keeps_the_identifier(multi):
    browser, _next, page = psc_login(multi, "sofia")
    assert page.status_code == 200 and "Créer mon compte avec Pro Santé Connect" in page.text
    # No birth data from Pro Santé Connect: none shown, none made up.
    assert "Date de naissance" not in page.text and "Lieu de naissance" not in page.text
    sign_up_with(browser, PSC, "sofia@example.fr")
    [(account_id, upstream)] = identities(multi)
    assert upstream == PSC
    assert held_by(multi, "810005555555") == [account_id]
    with multi.idp.app_context():
        account = db.session.get(Account, account_id)
        assert (account.given_name, account.family_name, account.birthdate) == (
            "Sofia",
            "ROSSI",
            None,
        )
        # Pro Santé Connect certifies the names only: birthdate and gender stay editable.
        identity = db.session.scalar(select(FederatedIdentity))
        assert identity.certified_fields == ["family_name", "given_name"]
    assert [e.account_id for e in events(multi, "federation.professional_id_added")] == [account_id]

    # Pro Santé Connect's sub changes (or the link was removed): the identifier finds the
    # account again, through the proofs, instead of creating a second account.
    with multi.idp.app_context():
        db.session.execute(delete(FederatedIdentity))
        db.session.commit()
    other, _next, page = psc_login(multi, "sofia")
    assert "Créer mon compte" not in page.text
    assert [e.account_id for e in events(multi, "federation.link_offered")] == [account_id]
    with multi.idp.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Account)) == 1


def test_never_a_match_on_a_name_or_an_email_alone(multi):
    """Same names and the very email Pro Santé Connect gives, but no identifier on file
    (Camille has none at the stand-in) or another one (Angela): a new account, no link."""
    professional(multi, None, email="camille.petit@example.fr", given_name="Camille",
                 family_name="PETIT")  # fmt: skip
    professional(multi, "810007777777", birthdate=dt.date(1962, 8, 24))
    for identity in ("camille", "angela"):
        browser, _next, page = psc_login(multi, identity)
        assert "Créer mon compte avec Pro Santé Connect" in page.text, identity
        assert browser.client.get(LINK_PAGE).status_code == 410
    assert events(multi, "federation.link_offered") == []
    assert events(multi, "federation.match_ambiguous") == []


def test_an_identifier_on_an_inactive_account_is_not_offered_nor_moved(multi):
    """The identifier is held by an account that is not active (never activated): no link
    is offered to it; the new account does not take the identifier over (audited)."""
    pending = professional(multi, ANGELA_ID, active=False)
    browser, _next, page = psc_login(multi, "angela")
    assert "Créer mon compte avec Pro Santé Connect" in page.text
    sign_up_with(browser, PSC, "angela.pro@example.fr")
    [(created, _)] = identities(multi)
    assert created != pending
    assert held_by(multi, ANGELA_ID) == [pending]
    assert [e.account_id for e in events(multi, "federation.professional_id_conflict")] == [created]


def test_the_identifier_is_read_only_from_pro_sante_connect():
    def verified(provider: str, value) -> services.Verified:
        return services.Verified(
            provider=provider,
            issuer="https://psc.example",
            subject="s",
            claims={"SubjectNameID": value},
            id_token="",
            acr="eidas1",
            amr=["psc"],
        )

    assert services.professional_id(verified(PSC, " 8 1000 1234 567 ")) == ANGELA_ID
    assert services.professional_id(verified(PSC, "0751234567")) == "0751234567"
    assert services.professional_id(verified(PSC, 810001234567)) == ANGELA_ID
    for bad in ("", "abc", None, True, ["810001234567"], "8" * 60):
        assert services.professional_id(verified(PSC, bad)) is None
    # FranceConnect never identifies professionals, whatever it sends.
    assert services.professional_id(verified("franceconnect", ANGELA_ID)) is None
