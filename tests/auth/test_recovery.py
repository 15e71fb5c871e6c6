"""Forgotten password and forgotten identifier, through the real pages and a real SMTP server."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import select
from sqlalchemy import update

from idp.auth import recovery
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.oidc.models import BrowserSession
from idp.security.verification import Verification
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import code_in
from tests.factories import PASSWORD
from tests.factories import Flow
from tests.factories import csrf_of

NEW = "Tulipe-Orange-93"
PHONE = "+33612345678"
SMS_TO = "sms+33612345678@sms.localhost"
RESET_LINK = re.compile(r"http://localhost/mot-de-passe-oublie/lien/[A-Za-z0-9_\-]+[^\s\"<]*")
LOCKED_OUT = "Vous n'avez plus accès à votre adresse e-mail ni à votre téléphone ?"


@pytest.fixture(autouse=True)
def quick_answers(monkeypatch):
    # The padding of the answers has its own test.
    monkeypatch.setattr(recovery, "MIN_ANSWER_SECONDS", 0)


@pytest.fixture
def rec_app(make_app, smtp_server):
    return make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False)


@pytest.fixture
def browser(rec_app):
    return rec_app.test_client()


def update_account(app, account_id, **values):
    with app.app_context():
        db.session.execute(update(Account).where(Account.id == account_id).values(**values))
        db.session.commit()


def post_login(client, identifier, password):
    page = client.get("/connexion")
    return client.post(
        "/connexion",
        data={"identifier": identifier, "password": password, "csrf_token": csrf_of(page.text)},
    )


def logs_in(client, identifier, password) -> bool:
    response = post_login(client, identifier, password)
    return response.status_code == 302 and "idp_session=" in "".join(
        response.headers.getlist("Set-Cookie")
    )


def reset_link(message) -> str:
    found = RESET_LINK.search(message.part("plain"))
    assert found, message.part("plain")
    link = found.group(0)
    assert link.replace("&", "&amp;") in message.part("html")
    return link.removeprefix("http://localhost")


def ask_link(walker, identifier, next_url=None):
    url = "/mot-de-passe-oublie" + (f"?next={next_url}" if next_url else "")
    walker.get(url)
    return walker.post(url, {"identifier": identifier, "channel": "email"})


def new_password(walker, url, password=NEW, confirm=None):
    walker.get(url)
    return walker.post(url, {"password": password, "password_confirm": confirm or password})


def visible(html: str) -> str:
    return re.sub(r'value="[^"]*"', "", html)


def test_login_page_links_to_both_recoveries_keeping_next(client):
    page = client.get("/connexion?next=/compte")
    assert 'href="/mot-de-passe-oublie?next=/compte"' in page.text
    assert 'href="/identifiant-oublie?next=/compte"' in page.text
    assert "Mot de passe oublié ?" in page.text and "Identifiant oublié ?" in page.text


def test_both_pages_explain_the_locked_out_path(client):
    for url in ("/mot-de-passe-oublie", "/identifiant-oublie"):
        page = client.get(url)
        assert page.status_code == 200
        assert LOCKED_OUT in page.text
        assert "justificatif d'identité" in page.text


def test_reset_by_link_ends_every_session_and_token(rec_app, browser, factories, smtp_server):
    person = factories.account()
    portal = factories.portal()
    elsewhere = rec_app.test_client()
    tokens = Flow(elsewhere, portal).tokens(person)
    walker = Walker(browser)

    answer = ask_link(walker, person.email.upper(), next_url="/compte")
    assert answer.status_code == 200 and "Consultez votre messagerie" in answer.text
    mail = smtp_server.wait(1)[0]
    assert mail.rcpt_tos == [person.email]
    assert "valable 60 minutes" in mail.part("plain")
    link = reset_link(mail)
    token = link.split("?")[0].rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits in base64url

    form = walker.get(link)
    assert form.status_code == 200
    assert form.headers["Referrer-Policy"] == "no-referrer"
    assert "Votre mot de passe doit contenir :" in form.text and "data-password-policy" in form.text
    done = walker.post(link, {"password": NEW, "password_confirm": NEW})
    assert done.status_code == 302
    assert done.headers["Location"] == "/connexion?next=/compte"
    landing = browser.get(done.headers["Location"])
    assert "Votre mot de passe a été modifié. Vous pouvez vous connecter." in landing.text
    assert "idp_session=" not in "".join(done.headers.getlist("Set-Cookie"))  # not logged in

    changed = smtp_server.wait(2)[1]
    assert changed.message["Subject"] == "Votre mot de passe a été modifié"
    assert "Si ce n'est pas vous" in changed.part("plain")
    assert "http://localhost/mot-de-passe-oublie" in changed.part("plain")

    refreshed = elsewhere.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(portal.client_id, portal.secret),
    )
    assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_grant"
    userinfo = elsewhere.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 401
    with rec_app.app_context():
        sessions = db.session.scalars(
            select(BrowserSession).where(BrowserSession.account_id == person.id)
        ).all()
        assert sessions and all(row.ended_at is not None for row in sessions)

    assert not logs_in(rec_app.test_client(), person.email, PASSWORD)
    assert logs_in(rec_app.test_client(), person.email, NEW)

    with rec_app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        names = [e.event for e in events]
        assert "password_reset.requested" in names and "password_reset.completed" in names
        assert "session.ended" in names
        dumped = repr([(e.event, e.details) for e in events])
        assert NEW not in dumped and token not in dumped


def test_reset_by_sms_code(rec_app, browser, factories, smtp_server):
    person = factories.account()
    update_account(rec_app, person.id, phone=PHONE, phone_verified_at=utcnow())
    walker = Walker(browser)
    walker.get("/mot-de-passe-oublie")
    asked = walker.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "sms"})
    assert asked.status_code == 302 and asked.headers["Location"] == "/mot-de-passe-oublie/code"
    sms = smtp_server.wait(1)[0]
    assert sms.rcpt_tos == [SMS_TO]
    code = code_in(sms)

    page = walker.get("/mot-de-passe-oublie/code")
    assert "Saisissez le code reçu par SMS" in page.text
    wrong = walker.post(
        "/mot-de-passe-oublie/code", {"code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 200 and "Ce code est incorrect" in wrong.text
    right = walker.post("/mot-de-passe-oublie/code", {"code": code})
    assert right.status_code == 302
    assert right.headers["Location"] == "/mot-de-passe-oublie/nouveau"

    done = new_password(walker, "/mot-de-passe-oublie/nouveau")
    assert done.status_code == 302 and done.headers["Location"] == "/connexion"
    assert logs_in(rec_app.test_client(), person.email, NEW)
    assert not logs_in(rec_app.test_client(), person.email, PASSWORD)
    # The right code allowed one change only.
    assert browser.get("/mot-de-passe-oublie/nouveau").status_code == 410
    assert smtp_server.wait(2)[1].rcpt_tos == [person.email]  # "votre mot de passe a été modifié"


def test_sms_code_attempts_are_limited(rec_app, browser, factories, smtp_server):
    person = factories.account()
    update_account(rec_app, person.id, phone=PHONE, phone_verified_at=utcnow())
    walker = Walker(browser)
    walker.get("/mot-de-passe-oublie")
    walker.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "sms"})
    code = code_in(smtp_server.wait(1)[0])
    wrong = "000000" if code != "000000" else "111111"
    walker.get("/mot-de-passe-oublie/code")
    for _ in range(5):
        walker.post("/mot-de-passe-oublie/code", {"code": wrong})
    late = walker.post("/mot-de-passe-oublie/code", {"code": code})
    assert late.status_code == 200 and "Ce code est incorrect" in late.text
    assert browser.get("/mot-de-passe-oublie/nouveau").status_code == 410


def test_unknown_account_gets_the_same_answer(rec_app, factories, smtp_server):
    person = factories.account()
    update_account(rec_app, person.id, phone=PHONE, phone_verified_at=utcnow())
    for channel in ("email", "sms"):
        answers = []
        for identifier in (person.email, "nobody@example.fr"):
            walker = Walker(rec_app.test_client())
            walker.get("/mot-de-passe-oublie")
            answer = walker.post(
                "/mot-de-passe-oublie", {"identifier": identifier, "channel": channel}
            )
            if channel == "sms":
                assert answer.status_code == 302
                location = answer.headers["Location"]
                answer = walker.get(location)
                answers.append((302, location, visible(answer.text)))
            else:
                answers.append((answer.status_code, None, visible(answer.text)))
        assert answers[0] == answers[1]
    # One link and one SMS for the account; nothing for the unknown identifier.
    assert len(smtp_server.wait(2)) == 2
    time.sleep(0.2)
    assert len(smtp_server.messages) == 2


def test_answers_take_the_same_minimum_time(rec_app, factories, smtp_server, monkeypatch):
    monkeypatch.setattr(recovery, "MIN_ANSWER_SECONDS", 0.3)
    person = factories.account()
    durations = []
    for identifier in (person.email, "nobody@example.fr"):
        walker = Walker(rec_app.test_client())
        walker.get("/mot-de-passe-oublie")
        started = time.monotonic()
        walker.post("/mot-de-passe-oublie", {"identifier": identifier, "channel": "email"})
        durations.append(time.monotonic() - started)
    assert all(d >= 0.3 for d in durations), durations


def test_a_link_works_once(rec_app, browser, factories, smtp_server):
    person = factories.account()
    walker = Walker(browser)
    ask_link(walker, person.email)
    link = reset_link(smtp_server.wait(1)[0])
    assert new_password(walker, link).status_code == 302
    again = browser.get(link)
    assert again.status_code == 410 and "Ce lien n'est plus valable" in again.text
    replay = walker.post(
        link, {"password": "Autre-Tulipe-71", "password_confirm": "Autre-Tulipe-71"}
    )
    assert replay.status_code == 410
    assert logs_in(rec_app.test_client(), person.email, NEW)


def test_a_newer_link_replaces_the_older_one(rec_app, browser, factories, smtp_server):
    person = factories.account()
    walker = Walker(browser)
    ask_link(walker, person.email)
    ask_link(walker, person.email)
    first, second = (reset_link(m) for m in smtp_server.wait(2))
    assert browser.get(first).status_code == 410
    assert browser.get(second).status_code == 200


def test_an_expired_link_is_refused(rec_app, browser, factories, smtp_server):
    person = factories.account()
    walker = Walker(browser)
    ask_link(walker, person.email)
    link = reset_link(smtp_server.wait(1)[0])
    with rec_app.app_context():
        row = db.session.scalar(select(Verification).where(Verification.account_id == person.id))
        assert abs(row.expires_at - row.created_at - dt.timedelta(hours=1)) < dt.timedelta(
            seconds=5
        )
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
    assert browser.get(link).status_code == 410
    assert new_password(walker, link).status_code == 410
    assert logs_in(rec_app.test_client(), person.email, PASSWORD)


def test_new_password_follows_the_policy_of_the_accounts_journey(
    rec_app, browser, factories, smtp_server
):
    person = factories.account()
    update_account(rec_app, person.id, journey="ars-interne")
    walker = Walker(browser)
    ask_link(walker, person.email)
    link = reset_link(smtp_server.wait(1)[0])
    page = walker.get(link)
    assert "10 caractères minimum" in page.text
    short = new_password(walker, link, "Zq8#Lm2!x")  # 9 characters: enough for citoyen
    assert short.status_code == 200 and "Saisissez au moins 10 caractères." in short.text
    personal = new_password(walker, link, "Curie-Marie-2024")
    assert personal.status_code == 200 and "fr-message--error" in personal.text
    differ = new_password(walker, link, NEW, "Tulipe-Orange-94")
    assert "Les deux mots de passe ne sont pas identiques." in differ.text
    assert logs_in(rec_app.test_client(), person.email, PASSWORD)  # unchanged
    assert new_password(walker, link).status_code == 302  # the link still works


def test_identifier_reminder_sends_the_username_or_says_it_is_the_email(
    rec_app, browser, factories, smtp_server
):
    with_username = factories.account(username="MCurie")
    only_email = factories.account(email="pierre.curie@example.fr", given_name="Pierre")
    answers = []
    for email in (with_username.email, only_email.email.upper(), "nobody@example.fr"):
        walker = Walker(rec_app.test_client())
        walker.get("/identifiant-oublie")
        answer = walker.post("/identifiant-oublie", {"email": email})
        answers.append((answer.status_code, visible(answer.text)))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 200 and "Consultez votre messagerie" in answers[0][1]
    first, second = smtp_server.wait(2)
    assert first.rcpt_tos == [with_username.email]
    assert first.message["Subject"] == "Votre identifiant de connexion"
    assert "Votre identifiant : mcurie" in first.part("plain")
    assert "Votre identifiant : mcurie" in first.part("html")
    assert second.rcpt_tos == [only_email.email]
    assert "votre adresse e-mail" in second.part("plain")
    time.sleep(0.2)
    assert len(smtp_server.messages) == 2


def test_forms_are_rate_limited_per_identifier_and_per_ip(make_app, factories, smtp_server):
    app = make_app(
        SMTP_PORT=smtp_server.port,
        NOTIFY_ASYNC=False,
        RATELIMIT_ENABLED=True,
        RECOVERY_ADDRESS_RATE_LIMIT="5 per 15 minutes",
    )
    walker = Walker(app.test_client())
    walker.get("/mot-de-passe-oublie")
    codes = [
        walker.post("/mot-de-passe-oublie", {"identifier": ident, "channel": "email"}).status_code
        for ident in (
            "Marie@Example.fr",
            "marie@example.fr ",
            " MARIE@example.fr",
            "marie@example.fr",
        )
    ]
    assert codes == [200, 200, 200, 429]
    assert "Trop de tentatives" in walker.page.text
    # Other identifiers from the same address: 5 per 15 minutes in all.
    codes = [
        walker.post(
            "/mot-de-passe-oublie", {"identifier": f"p{i}@example.fr", "channel": "email"}
        ).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]

    other = Walker(app.test_client())
    other.get("/identifiant-oublie")
    codes = [
        other.post("/identifiant-oublie", {"email": "marie@example.fr"}).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/mot-de-passe-oublie", {"identifier": "marie.curie@example.fr", "channel": "email"}),
        ("/identifiant-oublie", {"email": "marie.curie@example.fr"}),
    ],
)
def test_forms_refuse_a_post_without_csrf_token(
    rec_app, browser, factories, smtp_server, url, data
):
    factories.account()
    browser.get(url)
    response = browser.post(url, data=data)
    assert response.status_code == 400
    assert smtp_server.messages == []


def test_code_and_new_password_forms_refuse_a_post_without_csrf_token(
    rec_app, browser, factories, smtp_server
):
    person = factories.account()
    walker = Walker(browser)
    ask_link(walker, person.email)
    link = reset_link(smtp_server.wait(1)[0])
    assert browser.post(link, data={"password": NEW, "password_confirm": NEW}).status_code == 400
    assert logs_in(rec_app.test_client(), person.email, PASSWORD)
    walker.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "sms"})
    assert browser.post("/mot-de-passe-oublie/code", data={"code": "123456"}).status_code == 400


def test_code_page_without_a_request_goes_back_to_the_form(browser):
    response = browser.get("/mot-de-passe-oublie/code")
    assert response.status_code == 302 and response.headers["Location"] == "/mot-de-passe-oublie"


def test_portal_logging_in_with_finess_finds_the_account_by_finess(
    rec_app, browser, factories, smtp_server
):
    from urllib.parse import quote

    from idp.enrolment.services import add_identifier

    person = factories.account()
    with rec_app.app_context():
        add_identifier(db.session.get(Account, person.id), "finess", "750712184")
        db.session.commit()
    portal = factories.portal(journey="pro-sante")
    next_url = quote(f"/authorize?client_id={portal.client_id}", safe="")
    page = browser.get(f"/mot-de-passe-oublie?next={next_url}")
    assert "Votre N° FINESS, 9 chiffres." in page.text
    walker = Walker(browser)
    walker.token = csrf_of(page.text)
    url = f"/mot-de-passe-oublie?next={next_url}"
    walker.post(url, {"identifier": person.email, "channel": "email"})  # not a FINESS
    answer = walker.post(url, {"identifier": "75 071 218 4", "channel": "email"})
    assert answer.status_code == 200
    mail = smtp_server.wait(1)[0]
    assert mail.rcpt_tos == [person.email] and len(smtp_server.messages) == 1
    link = reset_link(mail)
    assert f"client_id%3D{portal.client_id}" in link or f"client_id={portal.client_id}" in link
    done = new_password(walker, link)
    assert done.headers["Location"].startswith("/connexion?next=")


def test_sms_request_keeps_no_readable_identifier_in_the_cookie(rec_app, browser, factories):
    import base64
    import zlib

    person = factories.account()
    walker = Walker(browser)
    walker.get("/mot-de-passe-oublie")
    walker.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "sms"})
    cookie = browser.get_cookie("idp_flask").value
    payload = cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if cookie.startswith("."):
        raw = zlib.decompress(raw)
    assert b"recovery" in raw and person.email.encode() not in raw


def test_recovery_templates_render_in_both_parts(rec_app):
    from idp.notify.mail import render_mail
    from idp.notify.sms import SMS_MAX_LENGTH
    from idp.notify.sms import render_sms

    link = "http://localhost/mot-de-passe-oublie/lien/abc"
    with rec_app.test_request_context():
        reset = render_mail("password_reset", link=link, given_name="Marie", minutes=60)
        changed = render_mail("password_changed", given_name=None, reset_url=link)
        reminder = render_mail(
            "identifier_reminder", username=None, given_name="Marie", login_url=link
        )
        sms = render_sms("password_reset_code", code="123456", minutes=10, portal_name="Portail")
    assert reset[0] == "Choisissez un nouveau mot de passe"
    assert changed[0] == "Votre mot de passe a été modifié"
    assert reminder[0] == "Votre identifiant de connexion"
    for _subject, text, html in (reset, changed, reminder):
        assert link in text and link in html
    assert "Bonjour Marie," in reset[1] and "60 minutes" in reset[2]
    assert "Si ce n'est pas vous" in changed[1] and "Si ce n'est pas vous" in changed[2]
    assert "votre adresse e-mail" in reminder[1] and "votre adresse e-mail" in reminder[2]
    assert "123456" in sms and "10 min" in sms and len(sms) <= SMS_MAX_LENGTH
