"""Changing the mobile phone from Mon compte: an SMS code to the new number (dev SMS backend,
read from the real SMTP server), the current password, limits, a mail to the owner."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import select
from sqlalchemy import update

from idp.account import phone_change
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.security.verification import Verification
from tests.factories import PASSWORD
from tests.lifecycle.conftest import login_session as one_factor_session
from tests.lifecycle.conftest import two_factor_session as login_session

PAGE = "/mon-compte/telephone-mobile"
CODE_PAGE = PAGE + "/code"
OLD = "+33611111111"
NEW_TYPED = "07.98.76.54.32"
NEW = "+33798765432"
SMS_NEW = "sms+33798765432@sms.localhost"


def with_phone(app, person, phone=OLD):
    with app.app_context():
        db.session.execute(
            update(Account)
            .where(Account.id == person.id)
            .values(phone=phone, phone_verified_at=utcnow() - dt.timedelta(days=30))
        )
        db.session.commit()


def ask(walker, phone=NEW_TYPED, password=PASSWORD):
    walker.get(PAGE)
    return walker.post(PAGE, {"phone": phone, "current_password": password})


def sms_code(smtp_server, count, to=SMS_NEW) -> str:
    message = smtp_server.wait(count)[count - 1]
    assert message.rcpt_tos == [to]
    found = re.search(r"\b(\d{6})\b", message.message.get_content())
    assert found, message.message.get_content()
    return found.group(1)


def account(app, account_id) -> Account:
    with app.app_context():
        return db.session.get(Account, account_id)


def events(app, account_id) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent.event)
                .where(AuditEvent.account_id == account_id, AuditEvent.event.like("phone_change.%"))
                .order_by(AuditEvent.id)
            )
        )


def test_mon_compte_links_to_the_phone_page_with_autocomplete(lc_app, factories):
    person = factories.account()
    with_phone(lc_app, person)
    walker = login_session(lc_app, person)
    assert "06 11 11 11 11" in walker.page.text
    assert f'href="{PAGE}"' in walker.page.text
    page = walker.get(PAGE).text
    assert 'autocomplete="tel"' in page and 'autocomplete="current-password"' in page
    assert 'name="csrf_token"' in page


def test_phone_change_end_to_end(lc_app, factories, smtp_server):
    person = factories.account()
    with_phone(lc_app, person)
    walker = login_session(lc_app, person)
    sent = ask(walker)
    assert sent.status_code == 302 and sent.headers["Location"].endswith(CODE_PAGE)
    code = sms_code(smtp_server, 1)
    page = walker.get(CODE_PAGE)
    assert "07 ** ** ** 32" in page.text and 'autocomplete="one-time-code"' in page.text
    # Nothing changes before the code is typed.
    assert account(lc_app, person.id).phone == OLD
    done = walker.post(CODE_PAGE, {"code": code})
    assert done.status_code == 302 and done.headers["Location"].endswith("/mon-compte#identite")
    changed = account(lc_app, person.id)
    assert changed.phone == NEW
    assert changed.phone_verified_at > utcnow() - dt.timedelta(minutes=1)
    notice = smtp_server.wait(2)[1]
    assert notice.rcpt_tos == [person.email]
    assert "07 ** ** ** 32" in notice.part("plain") and "07 ** ** ** 32" in notice.part("html")
    assert (
        "votre numéro de téléphone mobile a été modifié" in walker.get("/mon-compte").text.lower()
    )
    assert events(lc_app, person.id) == ["phone_change.requested", "phone_change.completed"]
    # The code is single-use.
    assert walker.get(CODE_PAGE).status_code == 302


def test_an_account_without_phone_adds_one_and_it_becomes_an_sms_factor(
    lc_app, factories, smtp_server
):
    from idp.mfa.services import code_destinations

    person = factories.account()
    walker = login_session(lc_app, person)
    assert "Ajouter un numéro de téléphone mobile" in walker.page.text
    ask(walker, phone="+33 7 98 76 54 32")
    walker.get(CODE_PAGE)
    walker.post(CODE_PAGE, {"code": sms_code(smtp_server, 1)})
    with lc_app.app_context():
        assert code_destinations(db.session.get(Account, person.id))["sms"] == NEW


def test_wrong_password_sends_nothing_and_is_audited(lc_app, factories, smtp_server):
    person = factories.account()
    walker = login_session(lc_app, person)
    refused = ask(walker, password="pas-le-bon")
    assert refused.status_code == 200 and "Le mot de passe actuel est incorrect." in refused.text
    assert smtp_server.messages == []
    assert events(lc_app, person.id) == ["phone_change.refused"]
    assert walker.get(CODE_PAGE).status_code == 302  # no pending change


def test_invalid_or_landline_numbers_are_refused_in_french(lc_app, factories, smtp_server):
    person = factories.account()
    walker = login_session(lc_app, person)
    for typed, message in (
        ("12345", "Numéro de téléphone invalide"),
        ("01 23 45 67 89", "Indiquez un numéro de mobile (06 ou 07)."),
        ("", "Indiquez votre numéro de téléphone."),
        ("x" * 5000, "Numéro de téléphone invalide"),
    ):
        page = ask(walker, phone=typed)
        assert page.status_code == 200 and message in page.text, typed[:20]
    assert smtp_server.messages == []


def test_the_same_number_is_refused(lc_app, factories, smtp_server):
    person = factories.account()
    with_phone(lc_app, person, NEW)
    walker = login_session(lc_app, person)
    page = ask(walker)
    assert "C'est déjà le numéro de téléphone mobile de votre compte." in html.unescape(page.text)
    assert smtp_server.messages == []


def test_wrong_codes_are_limited_then_the_code_stops_working(lc_app, factories, smtp_server):
    person = factories.account()
    with_phone(lc_app, person)
    walker = login_session(lc_app, person)
    ask(walker)
    code = sms_code(smtp_server, 1)
    wrong = "000000" if code != "000000" else "111111"
    walker.get(CODE_PAGE)
    first = walker.post(CODE_PAGE, {"code": wrong})
    assert "Ce code est incorrect. Il vous reste 4 essais." in first.text
    for _ in range(phone_change.MAX_ATTEMPTS - 1):
        last = walker.post(CODE_PAGE, {"code": wrong})
    assert last.status_code == 302 and last.headers["Location"].endswith(PAGE)
    # Even the right code is refused now: a new one must be asked for.
    assert walker.get(CODE_PAGE).status_code == 302
    assert account(lc_app, person.id).phone == OLD
    assert events(lc_app, person.id).count("phone_change.code_rejected") == 5


def test_an_expired_code_is_refused(lc_app, factories, smtp_server):
    person = factories.account()
    with_phone(lc_app, person)
    walker = login_session(lc_app, person)
    ask(walker)
    code = sms_code(smtp_server, 1)
    walker.get(CODE_PAGE)
    with lc_app.app_context():
        db.session.execute(update(Verification).values(expires_at=utcnow()))
        db.session.commit()
    late = walker.post(CODE_PAGE, {"code": code})
    assert late.status_code == 302 and late.headers["Location"].endswith(PAGE)
    assert account(lc_app, person.id).phone == OLD


def test_a_new_request_supersedes_the_older_code(lc_app, factories, smtp_server):
    person = factories.account()
    with_phone(lc_app, person)
    walker = login_session(lc_app, person)
    ask(walker)
    first = sms_code(smtp_server, 1)
    ask(walker, phone="06 22 22 22 22")
    second = sms_code(smtp_server, 2, to="sms+33622222222@sms.localhost")
    walker.get(CODE_PAGE)
    if first != second:
        assert "incorrect" in walker.post(CODE_PAGE, {"code": first}).text
    walker.post(CODE_PAGE, {"code": second})
    assert account(lc_app, person.id).phone == "+33622222222"


def test_sending_is_limited_per_number(lc_app, factories, smtp_server):
    person = factories.account()
    walker = login_session(lc_app, person)
    for _ in range(phone_change.CODES_PER_NUMBER):
        assert ask(walker).status_code == 302
    refused = ask(walker)
    assert refused.status_code == 200
    assert "Trop de codes ont été envoyés. Réessayez dans une heure." in refused.text
    smtp_server.wait(phone_change.CODES_PER_NUMBER)
    assert len(smtp_server.messages) == phone_change.CODES_PER_NUMBER
    assert "phone_change.throttled" in events(lc_app, person.id)


def test_sending_is_limited_per_account(lc_app, factories, smtp_server):
    person = factories.account()
    walker = login_session(lc_app, person)
    numbers = [f"06 33 33 33 {n:02d}" for n in range(phone_change.CODES_PER_ACCOUNT + 1)]
    answers = [ask(walker, phone=number).status_code for number in numbers]
    assert answers == [302] * phone_change.CODES_PER_ACCOUNT + [200]


def test_pages_need_a_session_and_a_csrf_token(lc_app, factories):
    anonymous = lc_app.test_client()
    assert anonymous.get(PAGE).headers["Location"].startswith("/connexion")
    assert anonymous.get(CODE_PAGE).headers["Location"].startswith("/connexion")
    person = factories.account()
    walker = login_session(lc_app, person)
    forged = walker.client.post(PAGE, data={"phone": NEW_TYPED, "current_password": PASSWORD})
    assert forged.status_code == 400
    assert events(lc_app, person.id) == []


def test_an_account_with_an_authenticator_app_steps_up_first(lc_app, factories, smtp_server):
    import pyotp

    from tests.mfa.conftest import enable_totp

    person = factories.account()
    walker = one_factor_session(lc_app, person)  # one factor: the app is enabled afterwards
    secret = enable_totp(lc_app, person.id)
    asked = walker.get(PAGE)
    assert asked.status_code == 302
    assert asked.headers["Location"].startswith("/connexion/verification?next=")
    walker.get(asked.headers["Location"])
    back = walker.post(asked.headers["Location"], {"code": pyotp.TOTP(secret).now()})
    assert back.status_code == 302 and back.headers["Location"] == PAGE
    assert ask(walker).status_code == 302
    assert sms_code(smtp_server, 1)


def test_a_one_factor_session_passes_a_mail_code_first(lc_app, factories, smtp_server):
    person = factories.account()
    with_phone(lc_app, person)
    walker = one_factor_session(lc_app, person)
    # A stolen password alone must not be enough to point the SMS factor elsewhere.
    for url in (PAGE, CODE_PAGE):
        asked = walker.get(url)
        assert asked.status_code == 302
        assert asked.headers["Location"].startswith("/connexion/verification?next=")
    refused = walker.post(PAGE, {"phone": NEW_TYPED, "current_password": PASSWORD})
    assert refused.status_code == 302 and events(lc_app, person.id) == []
    assert smtp_server.messages == []
    step_up = "/connexion/verification?next=/mon-compte/telephone-mobile&methode=mail"
    walker.get(step_up)
    walker.post(step_up, {"action": "send"})
    mail = smtp_server.wait(1)[0]
    assert mail.rcpt_tos == [person.email]
    code = re.search(r"\b(\d{6})\b", mail.part("plain")).group(1)
    walker.get(step_up)
    back = walker.post(step_up, {"code": code})
    assert back.status_code == 302 and back.headers["Location"] == PAGE
    assert ask(walker).status_code == 302
    walker.get(CODE_PAGE)
    walker.post(CODE_PAGE, {"code": sms_code(smtp_server, 2)})
    assert account(lc_app, person.id).phone == NEW
