"""Changing the email address from Mon compte, through the real pages and a real SMTP server."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.security.verification import Verification
from tests.factories import PASSWORD
from tests.lifecycle.conftest import logged_in
from tests.lifecycle.conftest import login_session as one_factor_session
from tests.lifecycle.conftest import post_login
from tests.lifecycle.conftest import two_factor_session as login_session
from tests.lifecycle.conftest import visible

NEW = "marie.nouvelle@example.fr"
LINK = re.compile(r"http://localhost/mon-compte/adresse-electronique/confirmer/[A-Za-z0-9_\-]+")
PAGE = "/mon-compte/adresse-electronique"


def ask(walker, new=NEW, confirm=None, password=PASSWORD):
    walker.get(PAGE)
    return walker.post(
        PAGE, {"email": new, "email_confirm": confirm or new, "current_password": password}
    )


def link_of(message) -> str:
    found = LINK.search(message.part("plain"))
    assert found, message.part("plain")
    assert found.group(0) in message.part("html")
    return found.group(0).removeprefix("http://localhost")


def account(app, account_id) -> Account:
    with app.app_context():
        return db.session.get(Account, account_id)


def test_page_is_reached_from_mon_compte_with_autocomplete(lc_app, factories):
    walker = login_session(lc_app, factories.account())
    assert 'href="/mon-compte/adresse-electronique"' in walker.page.text
    page = walker.get(PAGE).text
    assert page.count('autocomplete="email"') == 2 and 'autocomplete="current-password"' in page


def test_email_change_end_to_end(lc_app, factories, smtp_server):
    person = factories.account()
    walker = login_session(lc_app, person)
    sent = ask(walker)
    assert sent.status_code == 200 and "Vérifiez votre messagerie" in sent.text
    mails = smtp_server.wait(2)
    to_new = next(m for m in mails if m.rcpt_tos == [NEW])
    to_old = next(m for m in mails if m.rcpt_tos == [person.email])
    assert NEW in to_old.part("plain")  # the old address is told of the request
    link = link_of(to_new)
    # Nothing changes before the link is followed; following it shows a button (GET is safe).
    assert account(lc_app, person.id).email == person.email
    other = lc_app.test_client()
    confirm_page = other.get(link)
    assert confirm_page.status_code == 200 and NEW in confirm_page.text
    assert account(lc_app, person.id).email == person.email
    done = other.post(
        link,
        data={
            "csrf_token": re.search(
                r'name="csrf_token"[^>]*value="([^"]+)"', confirm_page.text
            ).group(1)
        },
    )
    assert done.status_code == 200 and NEW in done.text
    changed = account(lc_app, person.id)
    assert changed.email == NEW and changed.email_verified_at is not None
    notice = smtp_server.wait(3)[2]
    assert notice.rcpt_tos == [person.email] and NEW in notice.part("plain")
    # Logging in works with the new address, no longer with the old one.
    assert logged_in(post_login(lc_app.test_client(), NEW, PASSWORD))
    assert not logged_in(post_login(lc_app.test_client(), person.email, PASSWORD))
    # The link works once.
    assert other.get(link).status_code == 410
    with lc_app.app_context():
        names = db.session.scalars(
            select(AuditEvent.event)
            .where(AuditEvent.event.like("email_change.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert names == ["email_change.requested", "email_change.completed"]


def test_wrong_password_is_refused_and_nothing_is_sent(lc_app, factories, smtp_server):
    walker = login_session(lc_app, factories.account())
    refused = ask(walker, password="Pas-le-bon-1")
    assert refused.status_code == 200 and "Le mot de passe actuel est incorrect." in refused.text
    mismatch = ask(walker, confirm="autre@example.fr")
    assert "Les deux adresses électroniques ne sont pas identiques." in mismatch.text
    import time

    time.sleep(0.2)
    assert smtp_server.messages == []


def test_a_taken_address_gets_the_same_answer_and_its_owner_a_notice(
    lc_app, factories, smtp_server
):
    person = factories.account()
    factories.account(email="deja.pris@example.fr", given_name="Pierre")
    walker = login_session(lc_app, person)
    taken = ask(walker, new="deja.pris@example.fr")
    free = ask(walker, new="libre@example.fr")
    assert taken.status_code == free.status_code == 200
    assert visible(taken.text).replace("deja.pris", "X") == visible(free.text).replace("libre", "X")
    mails = smtp_server.wait(4)
    owner_mail = next(m for m in mails if m.rcpt_tos == ["deja.pris@example.fr"])
    assert "Bonjour Pierre" in owner_mail.part("plain")
    assert not LINK.search(owner_mail.part("plain"))  # no link to take the address over
    assert account(lc_app, person.id).email == person.email


def test_an_address_taken_before_the_link_is_followed_is_refused(lc_app, factories, smtp_server):
    person = factories.account()
    walker = login_session(lc_app, person)
    ask(walker)
    link = link_of(next(m for m in smtp_server.wait(2) if m.rcpt_tos == [NEW]))
    factories.account(email=NEW)
    page = walker.get(link)
    refused = walker.post(link, {})
    assert page.status_code == 200
    assert refused.status_code == 410 and "déjà celle d'un autre compte" in refused.text
    assert account(lc_app, person.id).email == person.email


def test_an_expired_or_replaced_link_is_refused(lc_app, factories, smtp_server):
    person = factories.account()
    walker = login_session(lc_app, person)
    ask(walker)
    first = link_of(next(m for m in smtp_server.wait(2) if m.rcpt_tos == [NEW]))
    with lc_app.app_context():
        row = db.session.scalar(select(Verification).where(Verification.account_id == person.id))
        assert abs(row.expires_at - row.created_at - dt.timedelta(hours=24)) < dt.timedelta(
            seconds=5
        )
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
    expired = walker.get(first)
    assert expired.status_code == 410 and "Ce lien n'est plus valable" in expired.text
    assert walker.post(first, {}).status_code == 410
    ask(walker, new="autre@example.fr")
    ask(walker, new="encore@example.fr")
    older = link_of(next(m for m in smtp_server.wait(6) if m.rcpt_tos == ["autre@example.fr"]))
    assert walker.get(older).status_code == 410
    assert walker.get("/mon-compte/adresse-electronique/confirmer/inconnu").status_code == 410
    assert account(lc_app, person.id).email == person.email


def test_the_confirmation_refuses_a_post_without_csrf_token(lc_app, factories, smtp_server):
    person = factories.account()
    walker = login_session(lc_app, person)
    ask(walker)
    link = link_of(next(m for m in smtp_server.wait(2) if m.rcpt_tos == [NEW]))
    assert lc_app.test_client().post(link, data={}).status_code == 400
    assert account(lc_app, person.id).email == person.email


def test_a_one_factor_session_passes_a_second_factor_first(lc_app, factories, smtp_server):
    # Mail codes are a second factor: a stolen password alone must not redirect them.
    person = factories.account()
    walker = one_factor_session(lc_app, person)
    asked = walker.get(PAGE)
    assert asked.status_code == 302
    assert (
        asked.headers["Location"] == "/connexion/verification?next=/mon-compte/adresse-electronique"
    )
    refused = walker.post(PAGE, {"email": NEW, "email_confirm": NEW})
    assert refused.status_code == 302 and smtp_server.messages == []
    assert account(lc_app, person.id).email == person.email


def test_a_fresh_franceconnect_login_changes_the_address_without_password(
    lc_app, factories, smtp_server
):
    # The locked-out path: the mailbox is lost, FranceConnect proves who the person is.
    from sqlalchemy import update

    from idp.oidc.models import BrowserSession

    person = factories.account()
    walker = one_factor_session(lc_app, person)
    with lc_app.app_context():
        db.session.execute(
            update(BrowserSession)
            .where(BrowserSession.account_id == person.id)
            .values(upstream_id_token="header.payload.signature", amr=["fc"], acr="eidas1")
        )
        db.session.commit()
    page = walker.get(PAGE)
    assert page.status_code == 200 and 'autocomplete="current-password"' not in page.text
    sent = walker.post(PAGE, {"email": NEW, "email_confirm": NEW})
    assert sent.status_code == 200 and "Vérifiez votre messagerie" in sent.text
    to_new = next(m for m in smtp_server.wait(2) if m.rcpt_tos == [NEW])
    walker.get(link_of(to_new))
    walker.post(link_of(to_new), {})
    assert account(lc_app, person.id).email == NEW
    # The same session, once no longer fresh, must step up like any other.
    with lc_app.app_context():
        db.session.execute(
            update(BrowserSession)
            .where(BrowserSession.account_id == person.id)
            .values(auth_time=utcnow() - dt.timedelta(hours=1))
        )
        db.session.commit()
    assert walker.get(PAGE).status_code == 302
