"""Progressive delays and temporary locks on login, without telling which accounts exist."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.auth import lockout
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from tests.enrolment.conftest import Walker
from tests.factories import PASSWORD
from tests.lifecycle.conftest import GENERIC
from tests.lifecycle.conftest import TOO_MANY
from tests.lifecycle.conftest import expire_locks
from tests.lifecycle.conftest import logged_in
from tests.lifecycle.conftest import post_login
from tests.lifecycle.conftest import time_passes
from tests.lifecycle.conftest import visible

WRONG = "Pas-le-bon-mot-de-passe-1"
RESET_LINK = re.compile(r"http://localhost/mot-de-passe-oublie/lien/[A-Za-z0-9_\-]+")


def fail_until_locked(app, client, identifier) -> list:
    """Five failures (delays after the third, waited out), the last one locks."""
    answers = []
    for attempt in range(5):
        if attempt >= 3:
            time_passes(app, 3600)
        answers.append(post_login(client, identifier, WRONG))
    return answers


def events(app, name):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()


def test_delays_and_lock_answer_alike_for_known_and_unknown_identifiers(
    lc_app, factories, smtp_server
):
    person = factories.account()
    seen = {}
    for identifier in (person.email, "personne@example.fr"):
        client = lc_app.test_client()
        answers = [post_login(client, identifier, WRONG) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert all(GENERIC in a.text for a in answers)
        # Delays: the fourth try at once is refused without checking the password.
        early = post_login(client, identifier, WRONG)
        assert early.status_code == 429 and TOO_MANY in early.text
        time_passes(lc_app, 3600)
        fourth = post_login(client, identifier, WRONG)
        assert fourth.status_code == 200 and GENERIC in fourth.text
        time_passes(lc_app, 3600)
        assert post_login(client, identifier, WRONG).status_code == 200  # locks
        time_passes(lc_app, 3600)
        locked = post_login(client, identifier, PASSWORD)
        assert locked.status_code == 429 and TOO_MANY in locked.text
        seen[identifier] = (visible(early.text), visible(locked.text), visible(fourth.text))
    known, unknown = seen.values()
    assert known == unknown
    # Only the owner of the real account is told, once.
    messages = smtp_server.wait(1)
    assert len(messages) == 1 and messages[0].rcpt_tos == [person.email]
    with lc_app.app_context():
        assert lockout.is_locked(db.session.get(Account, person.id))
    assert len(events(lc_app, "login.locked")) == 2


def test_lock_mail_says_when_where_how_long_and_how_to_unlock(
    lc_app, browser, factories, smtp_server
):
    person = factories.account()
    fail_until_locked(lc_app, browser, person.email)
    mail = smtp_server.wait(1)[0]
    assert mail.message["Subject"] == "Votre compte est temporairement bloqué"
    text = mail.part("plain")
    assert "127.0.0.0/24" in text and "pendant 20 minutes" in text
    assert "Ce n'était pas vous ?" in text
    link = RESET_LINK.search(text) or re.search(r"http://localhost/mot-de-passe-oublie\S*", text)
    assert link and link.group(0) in mail.part("html")


def test_a_lock_holds_for_the_other_identifiers_of_the_account(lc_app, browser, factories):
    person = factories.account(username="marie.curie")
    fail_until_locked(lc_app, browser, "marie.curie")
    refused = post_login(lc_app.test_client(), person.email, PASSWORD)
    # Refused like a wrong password: "Trop de tentatives" would tell which addresses are
    # the account's (tests/test_enumeration.py).
    assert refused.status_code == 200 and GENERIC in refused.text and not logged_in(refused)


def test_a_success_resets_the_failures(lc_app, browser, factories):
    person = factories.account()
    for _ in range(2):
        assert post_login(browser, person.email, WRONG).status_code == 200
    assert logged_in(post_login(lc_app.test_client(), person.email, PASSWORD))
    # Without the reset, the third of these would wait.
    answers = [post_login(browser, person.email, WRONG).status_code for _ in range(3)]
    assert answers == [200, 200, 200]


def test_the_lock_ends_after_its_duration(lc_app, browser, factories):
    person = factories.account()
    fail_until_locked(lc_app, browser, person.email)
    assert post_login(browser, person.email, PASSWORD).status_code == 429
    expire_locks(lc_app)
    # The failures count again from zero: a wrong password, then the right one, both heard.
    assert post_login(browser, person.email, WRONG).status_code == 200
    with lc_app.app_context():
        assert db.session.scalar(select(lockout.LoginThrottle.failures)) == 1
    assert logged_in(post_login(browser, person.email, PASSWORD))
    assert [e.details["reason"] for e in events(lc_app, "login.unlocked")] == ["expired"]


def test_a_password_reset_unlocks(lc_app, browser, factories, smtp_server):
    person = factories.account()
    fail_until_locked(lc_app, browser, person.email)
    walker = Walker(lc_app.test_client())
    walker.get("/mot-de-passe-oublie")
    walker.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "email"})
    reset = next(m for m in smtp_server.wait(2) if "/lien/" in m.part("plain"))
    link = RESET_LINK.search(reset.part("plain")).group(0).removeprefix("http://localhost")
    walker.get(link)
    done = walker.post(
        link, {"password": "Tulipe-Orange-93", "password_confirm": "Tulipe-Orange-93"}
    )
    assert done.status_code == 302
    assert logged_in(post_login(browser, person.email, "Tulipe-Orange-93"))
    assert [e.details["reason"] for e in events(lc_app, "login.unlocked")] == ["password_reset"]


def test_unlock_by_the_helpdesk(lc_app, browser, factories):
    person = factories.account()
    fail_until_locked(lc_app, browser, person.email)
    with lc_app.app_context():
        account = db.session.get(Account, person.id)
        assert lockout.is_locked(account)
        assert lockout.unlock(account) is True
        db.session.commit()
        assert not lockout.is_locked(account)
        assert lockout.unlock(account) is False  # nothing to do twice
    assert logged_in(post_login(browser, person.email, PASSWORD))
    assert [e.details["reason"] for e in events(lc_app, "login.unlocked")] == ["helpdesk"]


def test_the_state_never_holds_the_identifier_in_clear(lc_app, browser, factories):
    post_login(browser, "Secret.Person@Example.fr", WRONG)
    post_login(browser, " secret.person@example.fr ", WRONG)
    with lc_app.app_context():
        rows = db.session.scalars(select(lockout.LoginThrottle)).all()
        assert len(rows) == 1 and rows[0].failures == 2
        assert "secret" not in rows[0].key_hash and len(rows[0].key_hash) == 64


def test_operators_unlock_from_the_command_line(lc_app, browser, factories, runner):
    person = factories.account()
    fail_until_locked(lc_app, browser, person.email)
    assert "débloqué" in runner.invoke(args=["users", "unlock", person.email]).output
    assert logged_in(post_login(browser, person.email, PASSWORD))
    assert "n'était pas bloqué" in runner.invoke(args=["users", "unlock", person.email]).output
    assert "Compte inconnu" in runner.invoke(args=["users", "unlock", "x@example.fr"]).output
