"""Rules of the journeys engine: links, codes, expiry, resend, tampering, purge."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy import update

from idp.enrolment.models import Enrolment
from idp.enrolment.services import link_state
from idp.enrolment.services import purge_pending
from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.security.verification import Verification
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import code_in
from tests.enrolment.conftest import link_in
from tests.enrolment.test_ars_interne import begin
from tests.enrolment.test_citoyen import fill_to_activation

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def link_row(issued_days_ago: float, **kw) -> Verification:
    issued = NOW - dt.timedelta(days=issued_days_ago)
    return Verification(expires_at=issued + dt.timedelta(days=7), **kw)


def test_link_is_valid_7_days_resendable_until_21_then_gone():
    assert link_state(link_row(0), NOW) == "valid"
    assert link_state(link_row(6.9), NOW) == "valid"
    assert link_state(link_row(7.1), NOW) == "resendable"
    assert link_state(link_row(20.9), NOW) == "resendable"
    assert link_state(link_row(21.1), NOW) == "gone"
    assert link_state(link_row(1, used_at=NOW), NOW) == "used"
    assert link_state(link_row(1, superseded_at=NOW), NOW) == "superseded"
    assert link_state(None, NOW) == "gone"


def age_everything(app, days: float) -> None:
    """Time passes: move every timestamp of the sign-up into the past."""
    delta = dt.timedelta(days=days)
    with app.app_context():
        for model, columns in (
            (Verification, ("expires_at", "created_at")),
            (Account, ("created_at",)),
            (Enrolment, ("created_at", "expires_at")),
        ):
            for row in db.session.scalars(select(model)):
                for column in columns:
                    setattr(row, column, getattr(row, column) - delta)
        db.session.commit()


def test_new_link_supersedes_the_old_one_which_says_so(signup_app, browser, smtp_server):
    walker = Walker(browser)
    browser.get("/inscription/ars-interne")
    begin(browser, walker)
    first = link_in(smtp_server.wait(1)[0])
    walker.get("/inscription/ars-interne/courriel-envoye")
    walker.post("/inscription/ars-interne/renvoyer", {})
    assert "renvoye=1" in walker.page.headers["Location"]
    assert "utilisez le lien le plus récent" in browser.get(walker.page.headers["Location"]).text
    second = link_in(smtp_server.wait(2)[1])
    assert first != second
    old = browser.get(first)
    assert old.status_code == 410 and "utilisez le lien le plus récent" in old.text
    assert browser.get(second).status_code == 200


def test_resend_is_rate_limited(make_app, smtp_server):
    app = make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False, RATELIMIT_ENABLED=True)
    client = app.test_client()
    walker = Walker(client)
    client.get("/inscription/ars-interne")
    begin(client, walker)
    walker.get("/inscription/ars-interne/courriel-envoye")
    statuses = [walker.post("/inscription/ars-interne/renvoyer", {}).status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert len(smtp_server.wait(4)) == 4


def test_link_after_7_days_offers_a_resend_to_the_same_address(signup_app, browser, smtp_server):
    walker = Walker(browser)
    browser.get("/inscription/ars-interne")
    begin(browser, walker)
    link = link_in(smtp_server.wait(1)[0])
    age_everything(signup_app, 10)
    page = Walker(signup_app.test_client())
    page.get(link)
    assert (
        page.page.status_code == 410 and "Me renvoyer le lien à la même adresse" in page.page.text
    )
    page.post(link + "/renvoyer", {})
    assert (
        "Un nouveau lien vous a été envoyé" in page.page.text
        and "d***@example.fr" in page.page.text
    )
    fresh = link_in(smtp_server.wait(2)[1])
    assert page.client.get(fresh).status_code == 200


def test_pending_account_is_purged_after_21_days(signup_app, browser, smtp_server, runner):
    walker = Walker(browser)
    browser.get("/inscription/ars-interne")
    begin(browser, walker)
    link = link_in(smtp_server.wait(1)[0])
    age_everything(signup_app, 20)
    with signup_app.app_context():
        assert purge_pending() == {"accounts": 0, "enrolments": 0}
        db.session.rollback()
    age_everything(signup_app, 2)
    assert "accounts=1" in signup_app.test_cli_runner().invoke(args=["purge"]).output
    with signup_app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Account)) == 0
    gone = browser.get(link)
    assert gone.status_code == 410 and "Recommencez votre inscription" in gone.text


def test_opening_a_link_does_not_activate_only_the_button_does(signup_app, browser, smtp_server):
    walker = Walker(browser)
    browser.get("/inscription/citoyen")
    fill_to_activation(walker)
    walker.get("/inscription/citoyen/activation")
    walker.post("/inscription/citoyen/activation", {"channel": "email"})
    link = link_in(smtp_server.wait(1)[0])
    signup_app.test_client().get(link)  # a mail scanner follows the link
    with signup_app.app_context():
        assert db.session.scalar(select(Account)).status == "pending"


def test_sms_code_is_locked_after_five_wrong_attempts(signup_app, browser, smtp_server):
    walker = Walker(browser)
    browser.get("/inscription/citoyen")
    fill_to_activation(walker)
    walker.get("/inscription/citoyen/activation")
    walker.post("/inscription/citoyen/activation", {"channel": "sms"})
    code = code_in(smtp_server.wait(1)[0])
    wrong = "000000" if code != "000000" else "111111"
    walker.get("/inscription/citoyen/code")
    for _ in range(5):
        walker.post("/inscription/citoyen/code", {"code": wrong})
    assert "Trop d'essais" in walker.page.text
    walker.post("/inscription/citoyen/code", {"code": code})
    assert "Trop d'essais" in walker.page.text, "the right code no longer works once locked"
    walker.post("/inscription/citoyen/code/renvoyer", {})
    new_code = code_in(smtp_server.wait(2)[1])
    walker.get("/inscription/citoyen/code")
    walker.post("/inscription/citoyen/code", {"code": code})
    if code != new_code:
        assert "remplacé" in walker.page.text or "incorrect" in walker.page.text
    walker.post("/inscription/citoyen/code", {"code": new_code})
    assert walker.page.status_code == 302
    with signup_app.app_context():
        assert db.session.scalar(select(Account)).status == "active"


def test_tampered_and_replayed_posts_get_a_clear_page(signup_app, browser, smtp_server):
    walker = Walker(browser)
    browser.get("/inscription/citoyen")
    walker.get("/inscription/citoyen/profil")
    skipped = walker.post("/inscription/citoyen/identifiant", {"username": "x"})
    assert skipped.status_code == 409 and "pas encore disponible" in skipped.text
    fill_to_activation(walker)
    replay = walker.post("/inscription/citoyen/identite", {"civility": "madame"})
    assert replay.status_code == 409 and "déjà été envoyée" in replay.text
    assert browser.get("/inscription/citoyen/nope").status_code == 404
    assert browser.get("/inscription/inconnu").status_code == 404
    fresh = signup_app.test_client()
    assert fresh.get("/inscription/citoyen/identite").status_code == 410
    assert fresh.get("/activation/not-a-real-token").status_code == 410


def test_in_progress_sign_up_expires_after_a_day(signup_app, browser):
    browser.get("/inscription/citoyen")
    with signup_app.app_context():
        db.session.execute(update(Enrolment).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        db.session.commit()
    page = browser.get("/inscription/citoyen/profil")
    assert page.status_code == 410 and "Votre demande a expiré" in page.text
