"""Review findings on lockout, email and phone changes: each test failed before its fix."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.auth import lockout
from idp.auth import recovery_services
from idp.auth import services as auth_services
from idp.enrolment import validators
from idp.enrolment.services import add_identifier
from idp.errors import InvalidCredentials
from idp.extensions import db
from idp.models import Account
from idp.security import audit
from idp.security.verification import Verification
from tests.enrolment.conftest import Walker
from tests.factories import PASSWORD
from tests.lifecycle.conftest import time_passes
from tests.lifecycle.conftest import two_factor_session

WRONG = "Pas-le-bon-mot-de-passe-1"
NIR = "2 62 08 75 107 123 71"
NEW = "marie.nouvelle@example.fr"
CONFIRM = re.compile(r"http://localhost/mon-compte/adresse-electronique/confirmer/[A-Za-z0-9_\-]+")
RESET_LINK = re.compile(r"http://localhost/mot-de-passe-oublie/lien/[A-Za-z0-9_\-]+")


def test_a_nir_written_with_dots_or_dashes_counts_towards_the_same_lock(lc_app, factories):
    """Each way of writing one NIR used to have its own counter: the lock never came."""
    person = factories.account()
    with lc_app.app_context():
        add_identifier(db.session.get(Account, person.id), "nir", validators.nir(NIR))
        db.session.commit()
    variants = [
        "262087510712371",
        "2.62.08.75.107.123.71",
        "2-62-08-75-107-123-71",
        "2.62.08-75.107-123.71",
        "26208.75107.12371",
    ]
    for variant in variants:  # five failures: the lock threshold of lc_app
        time_passes(lc_app, 3600)  # the progressive delays are waited out
        with lc_app.test_request_context():
            with pytest.raises(InvalidCredentials):
                auth_services.authenticate(variant, WRONG, audit.Origin(), kind="nir")
            db.session.commit()
    with lc_app.test_request_context():
        assert lockout.is_locked(db.session.get(Account, person.id))
        with pytest.raises(lockout.Throttled):
            auth_services.authenticate("2 62 08 75 107 123 71", PASSWORD, audit.Origin(), "nir")
        with pytest.raises(lockout.Throttled):
            auth_services.authenticate("2.6.2.0.8.75107123-71", PASSWORD, audit.Origin(), "nir")


def _request_reset(app, email):
    walker = Walker(app.test_client())
    walker.get("/mot-de-passe-oublie")
    walker.post("/mot-de-passe-oublie", {"identifier": email, "channel": "email"})


def _ask_email_change(app, person, smtp_server, mails: int) -> str:
    """From a session that passed a second factor, ask to move the address to NEW; return
    the confirmation link mailed there (the `mails`-th message of the test at least)."""
    walker = two_factor_session(app, person)
    walker.get("/mon-compte/adresse-electronique")
    walker.post(
        "/mon-compte/adresse-electronique",
        {"email": NEW, "email_confirm": NEW, "current_password": PASSWORD},
    )
    to_new = next(m for m in smtp_server.wait(mails) if m.rcpt_tos == [NEW])
    return CONFIRM.search(to_new.part("plain")).group(0).removeprefix("http://localhost")


def _reset_link(app, person, smtp_server, mails: int) -> str:
    """Ask a password reset by mail; return the link (the `mails`-th message at least)."""
    _request_reset(app, person.email)
    reset = next(m for m in smtp_server.wait(mails) if RESET_LINK.search(m.part("plain")))
    return RESET_LINK.search(reset.part("plain")).group(0).removeprefix("http://localhost")


def test_a_reset_link_sent_to_the_former_address_dies_with_the_email_change(
    lc_app, factories, smtp_server
):
    """Whoever still reads the old mailbox (the reason to change it) must not reset the
    password with a link mailed there before the change."""
    person = factories.account()
    reset_link = _reset_link(lc_app, person, smtp_server, mails=1)
    confirm = _ask_email_change(lc_app, person, smtp_server, mails=3)
    confirmer = Walker(lc_app.test_client())
    confirmer.get(confirm)
    assert confirmer.post(confirm, {}).status_code == 200
    with lc_app.app_context():
        assert db.session.get(Account, person.id).email == NEW
    attacker = Walker(lc_app.test_client())
    page = attacker.client.get(reset_link)
    assert 'name="password"' not in page.text
    stolen = attacker.client.post(
        reset_link, data={"password": "Tulipe-Orange-93", "password_confirm": "Tulipe-Orange-93"}
    )
    assert stolen.status_code != 302
    with lc_app.app_context():
        account = db.session.get(Account, person.id)
        from idp.security.passwords import verify_password

        assert verify_password(account.password_hash, PASSWORD)[0]


def test_a_reset_code_sent_to_the_former_mobile_dies_with_the_phone_change(lc_app, factories):
    person = factories.account()
    with lc_app.test_request_context():
        account = db.session.get(Account, person.id)
        account.phone, account.phone_verified_at = "+33612345678", account.created_at
        from idp.security import verification

        verification.issue_code(
            recovery_services.CODE_PURPOSE,
            "+33612345678",
            recovery_services.LINK_LIFETIME,
            account_id=account.id,
            channel="sms",
        )
        from idp.account import phone_change

        issued = phone_change.request_change(account, "+33698765432", audit.Origin())
        phone_change.confirm(account, issued.secret, audit.Origin())
        db.session.commit()
        live = db.session.scalars(
            select(Verification).where(
                Verification.account_id == person.id,
                Verification.purpose == recovery_services.CODE_PURPOSE,
                Verification.superseded_at.is_(None),
                Verification.used_at.is_(None),
            )
        ).all()
        assert live == []


def test_erasure_forgets_the_addresses_a_change_was_asked_for(lc_app, factories, runner):
    """An address typed for a change never confirmed is the person's data too: its mails
    (recipient kept after sending) went with the erasure."""
    import datetime as dt

    from idp.models import utcnow
    from idp.notify.models import OutboxMessage
    from tests.lifecycle.test_deletion import request_deletion

    person = factories.account()
    walker = two_factor_session(lc_app, person)
    walker.get("/mon-compte/adresse-electronique")
    walker.post(
        "/mon-compte/adresse-electronique",
        {"email": NEW, "email_confirm": NEW, "current_password": PASSWORD},
    )
    with lc_app.test_request_context():
        from idp.account import phone_change

        phone_change.request_change(
            db.session.get(Account, person.id), "+33698765432", audit.Origin()
        )
        from idp import notify

        notify.send_sms("phone_change_code", to="+33698765432", code="123456", minutes=10)
        db.session.commit()
    request_deletion(lc_app, person)
    with lc_app.app_context():
        recipients = set(db.session.scalars(select(OutboxMessage.recipient)))
        assert {NEW, "+33698765432", person.email} <= recipients
        db.session.get(Account, person.id).deletion_scheduled_at = utcnow() - dt.timedelta(
            seconds=1
        )
        db.session.commit()
    assert "accounts_erased=1" in runner.invoke(args=["purge"]).output
    with lc_app.app_context():
        recipients = set(db.session.scalars(select(OutboxMessage.recipient)))
        assert not {NEW, "+33698765432", person.email} & recipients


def test_a_password_reset_cancels_an_email_change_waiting_for_its_link(
    lc_app, factories, smtp_server
):
    """A thief who got in (password and second factor) asks to move the address to their
    own mailbox; the owner, told at the old address, resets the password: the thief's
    confirmation link must die with it, or the account is theirs a minute later."""
    person = factories.account()
    confirm = _ask_email_change(lc_app, person, smtp_server, mails=2)  # the thief's
    reset_link = _reset_link(lc_app, person, smtp_server, mails=3)
    owner = Walker(lc_app.test_client())
    owner.get(reset_link)
    done = owner.post(
        reset_link, {"password": "Tulipe-Orange-93", "password_confirm": "Tulipe-Orange-93"}
    )
    assert done.status_code == 302
    confirmer = Walker(lc_app.test_client())
    page = confirmer.client.get(confirm)
    assert page.status_code == 410
    with lc_app.app_context():
        assert db.session.get(Account, person.id).email == person.email
