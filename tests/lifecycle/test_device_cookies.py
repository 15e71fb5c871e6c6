"""Device cookies: a stranger who locks an identifier does not lock its owner out (OWASP)."""

from __future__ import annotations

import base64
import json
import re
import time

from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from idp.auth import known_devices
from idp.auth import lockout
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from tests.enrolment.conftest import Walker
from tests.factories import PASSWORD
from tests.lifecycle.conftest import GENERIC
from tests.lifecycle.conftest import TOO_MANY
from tests.lifecycle.conftest import logged_in
from tests.lifecycle.conftest import post_login
from tests.lifecycle.conftest import time_passes
from tests.lifecycle.conftest import visible

WRONG = "Pas-le-bon-mot-de-passe-1"
NEW_PASSWORD = "Tulipe-Orange-93"
ATTACKER = "203.0.113.7"
OWNER = "198.51.100.9"
COOKIE = known_devices.COOKIE
RESET_LINK = re.compile(r"http://localhost/mot-de-passe-oublie/lien/[A-Za-z0-9_\-]+")


def browser_at(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def known_browser(app, person, ip: str = OWNER):
    """A browser that logged in to `person` once, then lost its session (the cookie stays)."""
    client = browser_at(app, ip)
    assert logged_in(post_login(client, person.email, person.password))
    client.delete_cookie("idp_session")
    assert client.get_cookie(COOKIE) is not None
    return client


def lock_from_elsewhere(app, identifier: str, password: str = WRONG):
    """A stranger's five failures (delays waited out): the last one locks the identifier."""
    attacker = browser_at(app, ATTACKER)
    for attempt in range(5):
        if attempt >= 3:
            time_passes(app, 3600)
        assert post_login(attacker, identifier, password).status_code == 200
    return attacker


def events(app, name):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()


def with_cookie(app, value: str, ip: str = OWNER):
    client = browser_at(app, ip)
    client.set_cookie(COOKIE, value)
    return client


def test_the_owners_usual_browser_logs_in_while_a_stranger_has_locked_the_identifier(
    lc_app, factories, smtp_server
):
    person = factories.account()
    usual = known_browser(lc_app, person)
    attacker = lock_from_elsewhere(lc_app, person.email)
    # The lock mail tells the owner that their usual browser still works.
    mail = smtp_server.wait(1)[0]
    assert "Depuis un navigateur où vous vous êtes déjà connecté(e)" in mail.part("plain")
    assert "Depuis un navigateur où vous vous êtes déjà connecté(e)" in mail.part("html")
    # Any other browser, even on the owner's network, is locked out.
    other = post_login(browser_at(lc_app, OWNER), person.email, PASSWORD)
    assert other.status_code == 429 and TOO_MANY in other.text
    assert logged_in(post_login(usual, person.email, PASSWORD))
    # The owner's success does not lift the lock the stranger earned.
    assert post_login(attacker, person.email, PASSWORD).status_code == 429
    with lc_app.app_context():
        assert lockout.is_locked(db.session.get(Account, person.id))
    succeeded = events(lc_app, "login.succeeded")
    assert [e.details["known_device"] for e in succeeded] == [False, True]


def test_an_unknown_browser_is_still_delayed_then_locked(lc_app, factories):
    person = factories.account()
    known_browser(lc_app, person)
    stranger = browser_at(lc_app, ATTACKER)
    answers = [post_login(stranger, person.email, WRONG).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]  # a delay after the third failure
    time_passes(lc_app, 3600)
    assert post_login(stranger, person.email, WRONG).status_code == 200
    time_passes(lc_app, 3600)
    assert post_login(stranger, person.email, WRONG).status_code == 200  # locks
    time_passes(lc_app, 3600)
    assert post_login(stranger, person.email, PASSWORD).status_code == 429


def _tampered(value: str, sub: str) -> str:
    """The cookie's signature kept, its content replaced."""
    _payload, signature = value.rsplit(".", 1)
    content = json.dumps([[sub, "chosen-nonce", int(time.time())]], separators=(",", ":"))
    payload = base64.urlsafe_b64encode(content.encode()).rstrip(b"=").decode()
    return f"{payload}.{signature}"


def test_a_forged_tampered_or_other_accounts_cookie_gives_no_bypass(lc_app, factories):
    person = factories.account()
    other = factories.account(email="pierre.curie@example.fr", given_name="Pierre")
    genuine = known_browser(lc_app, person).get_cookie(COOKIE).value
    others = known_browser(lc_app, other).get_cookie(COOKIE).value
    lock_from_elsewhere(lc_app, person.email)
    forged = URLSafeSerializer("not-the-secret-key-of-this-idp-at-all", salt=known_devices.SALT)
    cookies = {
        "forged": forged.dumps([[person.sub, "chosen-nonce", int(time.time())]]),
        "tampered": _tampered(genuine, person.sub),
        "other account": others,
        "garbage": "%%%not-a-cookie",
    }
    for name, value in cookies.items():
        refused = post_login(with_cookie(lc_app, value), person.email, PASSWORD)
        assert refused.status_code == 429 and TOO_MANY in refused.text, name
    assert logged_in(post_login(with_cookie(lc_app, genuine), person.email, PASSWORD))


def test_failures_from_a_known_browser_distrust_its_cookie(lc_app, factories, smtp_server):
    person = factories.account()
    usual = known_browser(lc_app, person)
    with lc_app.app_context():
        nonce = known_devices.read(usual.get_cookie(COOKIE).value)[0].nonce
    lock_from_elsewhere(lc_app, person.email)
    # Its own counter: no delay, no lock of the account, no second mail.
    answers = [post_login(usual, person.email, WRONG) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert all(GENERIC in a.text for a in answers)
    distrusted = events(lc_app, "login.device_distrusted")
    assert len(distrusted) == 1 and distrusted[0].account_id == person.id
    assert nonce not in json.dumps(distrusted[0].details)
    # Now an untrusted client like any other: the stranger's lock applies.
    refused = post_login(usual, person.email, PASSWORD)
    assert refused.status_code == 429 and TOO_MANY in refused.text
    time.sleep(0.2)
    assert len(smtp_server.messages) == 1


def test_a_known_browsers_success_resets_its_own_counter(lc_app, factories):
    person = factories.account()
    usual = known_browser(lc_app, person)
    for _ in range(4):
        assert post_login(usual, person.email, WRONG).status_code == 200
    assert logged_in(post_login(usual, person.email, PASSWORD))
    usual.delete_cookie("idp_session")
    for _ in range(4):
        assert post_login(usual, person.email, WRONG).status_code == 200
    assert logged_in(post_login(usual, person.email, PASSWORD))
    assert events(lc_app, "login.device_distrusted") == []


def _answers(client, identifier):
    """Three failures and one too early: statuses and pages, attribute values aside."""
    return [
        (r.status_code, visible(r.text))
        for r in (post_login(client, identifier, WRONG) for _ in range(4))
    ]


def test_a_cookie_changes_nothing_for_the_other_identifiers(lc_app, factories):
    holder = factories.account()
    first = factories.account(email="jean.dupont@example.fr", given_name="Jean")
    second = factories.account(email="paul.durand@example.fr", given_name="Paul")
    with_a_cookie = known_browser(lc_app, holder)
    without = browser_at(lc_app, OWNER)
    seen = [
        _answers(with_a_cookie, "personne.une@example.fr"),
        _answers(with_a_cookie, first.email),
        _answers(without, "personne.deux@example.fr"),
        _answers(without, second.email),
    ]
    assert seen[0][-1][0] == 429
    assert all(answers == seen[0] for answers in seen)


def test_the_browser_that_reset_the_password_gets_in_despite_a_new_lock(
    lc_app, factories, smtp_server
):
    person = factories.account()
    lock_from_elsewhere(lc_app, person.email)
    walker = Walker(browser_at(lc_app, OWNER))
    walker.get("/mot-de-passe-oublie")
    walker.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "email"})
    reset = next(m for m in smtp_server.wait(2) if "/lien/" in m.part("plain"))
    link = RESET_LINK.search(reset.part("plain")).group(0).removeprefix("http://localhost")
    walker.get(link)
    done = walker.post(link, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert done.status_code == 302
    # The stranger locks the identifier again right after the reset.
    lock_from_elsewhere(lc_app, person.email)
    assert post_login(browser_at(lc_app, OWNER), person.email, NEW_PASSWORD).status_code == 429
    assert logged_in(post_login(walker.client, person.email, NEW_PASSWORD))


def test_the_cookie_is_httponly_lax_long_lived_and_names_no_one(lc_app, make_app, factories):
    person = factories.account()
    response = post_login(lc_app.test_client(), person.email, person.password)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert f"Max-Age={180 * 86400}" in cookie
    assert "marie" not in cookie.lower() and str(person.id) != cookie.split("=")[1]
    secure = make_app(ISSUER="https://idp.example").test_client()
    response = post_login(secure, person.email, person.password)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE))
    assert "Secure" in cookie


def test_one_browser_keeps_the_last_five_accounts(lc_app, factories):
    people = [
        factories.account(email=f"personne{i}@example.fr", given_name=f"P{i}") for i in range(6)
    ]
    shared = browser_at(lc_app, OWNER)
    for person in people:
        assert logged_in(post_login(shared, person.email, PASSWORD))
        shared.delete_cookie("idp_session")
    lock_from_elsewhere(lc_app, people[0].email)
    lock_from_elsewhere(lc_app, people[1].email)
    # The oldest entry made room for the sixth account; the others still hold.
    assert post_login(shared, people[0].email, PASSWORD).status_code == 429
    assert logged_in(post_login(shared, people[1].email, PASSWORD))


def test_with_a_second_factor_the_known_browser_still_has_to_give_it(lc_app, factories):
    from tests.mfa.conftest import VERIFY
    from tests.mfa.conftest import enable_totp
    from tests.mfa.conftest import totp_now
    from tests.mfa.conftest import verify

    person = factories.account()
    secret = enable_totp(lc_app, person.id)
    usual = browser_at(lc_app, OWNER)
    password_step = post_login(usual, person.email, PASSWORD)
    assert password_step.status_code == 302 and password_step.headers["Location"] == VERIFY
    assert usual.get_cookie(COOKIE) is not None
    assert verify(usual, totp_now(secret)).status_code == 302
    assert usual.get("/mon-compte").status_code == 200
    usual.delete_cookie("idp_session")
    lock_from_elsewhere(lc_app, person.email)
    assert post_login(browser_at(lc_app, OWNER), person.email, PASSWORD).status_code == 429
    # The known browser passes the password step, and is asked for the second factor.
    again = post_login(usual, person.email, PASSWORD)
    assert again.status_code == 302 and again.headers["Location"] == VERIFY
    assert usual.get("/mon-compte").status_code != 200
