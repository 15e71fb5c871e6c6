"""Cancelling a pending deletion asks the second factor a login would ask: a stolen password
alone cannot give the account back against its owner's choice."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent
from tests.factories import PASSWORD
from tests.factories import csrf_of
from tests.lifecycle.conftest import post_login
from tests.lifecycle.test_deletion import CANCEL
from tests.lifecycle.test_deletion import request_deletion
from tests.lifecycle.test_deletion import status_of
from tests.mfa.conftest import VERIFY
from tests.mfa.conftest import enable_totp
from tests.mfa.conftest import totp_now
from tests.mfa.conftest import verify


def deleting_with_totp(lc_app, factories) -> tuple[object, str]:
    person = factories.account()
    request_deletion(lc_app, person)
    secret = enable_totp(lc_app, person.id)
    assert status_of(lc_app, person.id)[0] == "deleting"
    return person, secret


def cancel_form_token(page) -> str | None:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    return match.group(1) if match else None


def cancelled_events(app, account_id) -> int:
    with app.app_context():
        query = select(AuditEvent).where(
            AuditEvent.event == "account.deletion_cancelled", AuditEvent.account_id == account_id
        )
        return len(db.session.scalars(query).all())


def test_the_right_password_alone_leads_to_the_second_factor_not_to_cancel(
    lc_app, factories, smtp_server
):
    person, _secret = deleting_with_totp(lc_app, factories)
    client = lc_app.test_client()
    answer = post_login(client, person.email, PASSWORD)
    assert answer.status_code == 302 and answer.headers["Location"] == VERIFY
    assert "idp_session=" not in "".join(answer.headers.getlist("Set-Cookie"))
    factor_page = client.get(VERIFY)
    assert "annuler la suppression de votre compte" in factor_page.text
    # The cancel page is not reachable yet: back to the factor page.
    page = client.get(CANCEL)
    assert page.status_code == 302 and page.headers["Location"] == VERIFY
    # Nor its action, even with a valid CSRF token.
    token = csrf_of(client.get("/connexion").text)
    refused = client.post(CANCEL, data={"csrf_token": token})
    assert refused.status_code == 302 and refused.headers["Location"] == VERIFY
    assert status_of(lc_app, person.id)[0] == "deleting"
    assert cancelled_events(lc_app, person.id) == 0


def test_a_wrong_code_does_not_cancel(lc_app, factories, smtp_server):
    person, secret = deleting_with_totp(lc_app, factories)
    client = lc_app.test_client()
    post_login(client, person.email, PASSWORD)
    wrong = verify(client, "000000" if totp_now(secret) != "000000" else "111111")
    assert wrong.status_code == 200
    assert "Ce code est incorrect" in wrong.text
    assert client.get(CANCEL).headers["Location"] == VERIFY
    assert status_of(lc_app, person.id)[0] == "deleting"


def test_with_the_second_factor_the_deletion_is_cancelled(lc_app, factories, smtp_server):
    person, secret = deleting_with_totp(lc_app, factories)
    client = lc_app.test_client()
    post_login(client, person.email, PASSWORD)
    passed = verify(client, totp_now(secret))
    assert passed.status_code == 302 and passed.headers["Location"] == CANCEL
    # The factor opens no session: the account is still being deleted.
    assert "idp_session=" not in "".join(passed.headers.getlist("Set-Cookie"))
    assert client.get("/mon-compte").status_code == 302
    page = client.get(CANCEL)
    assert page.status_code == 200 and "Annuler la suppression" in page.text
    cancelled = client.post(CANCEL, data={"csrf_token": cancel_form_token(page)})
    assert cancelled.status_code == 302 and cancelled.headers["Location"].startswith("/connexion")
    assert status_of(lc_app, person.id) == ("active", None)
    assert cancelled_events(lc_app, person.id) == 1


def test_the_factor_page_of_a_cancel_is_not_a_login(lc_app, factories, smtp_server):
    """Passing the factor for a cancel gives no session and cannot be reused to log in."""
    person, secret = deleting_with_totp(lc_app, factories)
    client = lc_app.test_client()
    post_login(client, person.email, PASSWORD)
    verify(client, totp_now(secret))
    # Back on the factor page with nothing pending: the login page.
    assert client.get(VERIFY).headers["Location"].startswith("/connexion")
    assert client.get("/mon-compte").status_code == 302


def test_without_a_second_factor_the_password_still_leads_to_cancel(lc_app, factories, smtp_server):
    person = factories.account()
    request_deletion(lc_app, person)
    client = lc_app.test_client()
    assert post_login(client, person.email, PASSWORD).headers["Location"] == CANCEL
    assert client.get(CANCEL).status_code == 200
