"""Review finding: the professional-identifier match must not link a contradicting identity."""

from __future__ import annotations

from sqlalchemy import select

from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.models import Account
from tests.federation.test_professional import ANGELA_ID
from tests.federation.test_professional import LINK_PAGE
from tests.federation.test_professional import events
from tests.federation.test_professional import professional
from tests.federation.test_professional import psc_login


def test_an_identifier_held_by_an_account_of_another_person_is_not_offered(multi):
    """Pro Santé Connect says Angela DUBOIS; the account holding her RPPS is someone else's
    (a typing error, a relative): as from Mon compte, the identities are never merged and
    the account's names are never overwritten, whatever proofs follow."""
    account_id = professional(multi, ANGELA_ID, given_name="Paul", family_name="Lefèvre")
    browser, _next, page = psc_login(multi, "angela")
    assert page.status_code == 409 and 'name="password"' not in page.text
    assert 'data-reason="mismatch"' in page.text
    assert browser.client.get(LINK_PAGE).status_code == 410
    assert events(multi, "federation.link_offered") == []
    [refused] = events(multi, "federation.link_mismatch")
    assert refused.account_id == account_id and refused.details["fields"] == [
        "family_name",
        "given_name",
    ]
    with multi.idp.app_context():
        assert db.session.scalars(select(FederatedIdentity)).all() == []
        account = db.session.get(Account, account_id)
        assert (account.given_name, account.family_name) == ("Paul", "Lefèvre")
