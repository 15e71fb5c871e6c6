"""Double submits: every state-changing form (or one-time link) sent a second time.

People double-click, press Back and submit again, open a link in two tabs. The second
answer must be a page a person understands (French text, no 5xx, no stack trace) and the
database must hold exactly what one submit produces. "Sequential" replays send the same
form data and CSRF token again; "concurrent" ones run the second request entirely while the
first has read its state but not yet written it (the technique of
tests/mfa/test_review_races.py), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import html
import re
import threading

import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import code_in
from tests.enrolment.conftest import link_in
from tests.enrolment.test_citoyen import IDENTITY as CITOYEN_IDENTITY
from tests.factories import PASSWORD
from tests.factories import Flow
from tests.factories import csrf_of
from tests.lifecycle.conftest import background_threads_done  # noqa: F401 - autouse fixture
from tests.smtp import SmtpServer

# The second answers may be any of these, never a 5xx.
UNDERSTOOD = {200, 302, 303, 400, 409, 410, 429}


@pytest.fixture
def smtp():
    """The real SMTP server of tests/smtp.py (SMS arrive there too, by the dev backend)."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def ds_app(make_app, smtp):
    return make_app(SMTP_PORT=smtp.port, NOTIFY_ASYNC=False)


def understood(response, *, french: str | None = None) -> str:
    """The answer is not an error a person cannot read; return its visible text."""
    assert response.status_code in UNDERSTOOD, (response.status_code, response.text[:800])
    assert "Traceback" not in response.text
    text = html.unescape(response.text)
    if french:
        assert french in text, text[:2000]
    return text


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def events(app, name: str) -> int:
    return count(app, AuditEvent, AuditEvent.event == name)


def interleave(
    monkeypatch, module, name: str, second, after: bool = False, wait: float = 60, when=None
):
    """Patch `module.name` so that, the first time it is called, `second()` runs to the end
    in another thread (its own app context, hence its own database session) before the
    original goes on (after it returned, with `after`): the first request has read the
    state and not yet written it. When the first request already holds a lock the second
    waits for, the first goes on after `wait` seconds. Return a getter for the second
    answer (it waits for the second request to end). `when(*args, **kwargs)` picks the
    call (default: the first)."""
    original = getattr(module, name)
    box: dict = {}
    threads: list[threading.Thread] = []

    def run_second():
        thread = threading.Thread(target=lambda: box.update(response=second()))
        threads.append(thread)
        thread.start()
        thread.join(timeout=wait)
        assert wait < 60 or "response" in box, "the second request did not finish"

    def answer():
        threads[0].join(timeout=60)
        assert "response" in box, "the second request did not finish"
        return box["response"]

    def patched(*args, **kwargs):
        if "started" in box or (when is not None and not when(*args, **kwargs)):
            return original(*args, **kwargs)
        box["started"] = True
        if after:
            result = original(*args, **kwargs)
            run_second()
            return result
        run_second()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, patched)
    return answer


def copy_cookies(source, target) -> None:
    """A second tab: the same browser cookies in another test client."""
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def posted_at_once(monkeypatch, app, client, module, name: str, url: str, data: dict, **options):
    """The same form posted from two tabs of one browser (`client`'s cookies), the second
    while the first is inside `module.name` (see `interleave`): both answers."""
    tab = app.test_client()
    copy_cookies(client, tab)
    second = interleave(monkeypatch, module, name, lambda: tab.post(url, data=data), **options)
    first = client.post(url, data=data)
    monkeypatch.undo()
    return first, second()


# --- Sign-up: citoyen (activation by email link and by SMS code) --------------------------

CITOYEN_PASSWORD = "Soleil-Levant-2026"
IDENTITY = {**CITOYEN_IDENTITY, "email_confirm": "angela.dubois@example.fr", "landline": ""}


def citoyen_to_activation(browser, portal) -> tuple[Flow, Walker]:
    flow = Flow(browser, portal)
    start = flow.authorize(prompt="create")
    browser.get(start.headers["Location"])
    walker = Walker(browser)
    walker.get("/inscription/citoyen/profil")
    walker.post("/inscription/citoyen/profil", {"profile": "citoyen"})
    walker.get("/inscription/citoyen/identite")
    walker.post("/inscription/citoyen/identite", IDENTITY)
    assert walker.page.status_code == 302, walker.page.text[:500]
    walker.get("/inscription/citoyen/identifiant")
    walker.post(
        "/inscription/citoyen/identifiant",
        {"username": "angela.dubois", "password": CITOYEN_PASSWORD,
         "password_confirm": CITOYEN_PASSWORD, "cgu": "y", "rgpd": "y"},
    )  # fmt: skip
    assert walker.page.headers["Location"] == "/inscription/citoyen/activation"
    walker.get("/inscription/citoyen/activation")
    return flow, walker


def one_active_account(app, email="angela.dubois@example.fr", username=None) -> None:
    # After an SMS code the email waits for its own link: the account is found by username.
    which = Account.username == username if username else Account.email == email
    with app.app_context():
        accounts = db.session.scalars(select(Account).where(which)).all()
        assert [a.status for a in accounts] == ["active"]
    assert events(app, "account.created") == 1
    assert events(app, "account.activated") == 1


def test_citoyen_identifier_step_posted_twice_creates_one_pending_account(ds_app, factories, smtp):
    browser = ds_app.test_client()
    _, walker = citoyen_to_activation(browser, factories.portal(journey="citoyen"))
    # Back to the last step, the same form sent again: the sign-up is already past it.
    token = walker.token
    again = browser.post(
        "/inscription/citoyen/identifiant",
        data={"username": "angela.dubois", "password": CITOYEN_PASSWORD,
              "password_confirm": CITOYEN_PASSWORD, "cgu": "y", "rgpd": "y",
              "csrf_token": token},
    )  # fmt: skip
    understood(again)
    assert again.status_code in (302, 409), again.status_code
    assert count(ds_app, Account) == 1 and events(ds_app, "account.created") == 1


def test_citoyen_sms_code_sent_twice_activates_once(ds_app, factories, smtp):
    browser = ds_app.test_client()
    flow, walker = citoyen_to_activation(browser, factories.portal(journey="citoyen"))
    walker.post("/inscription/citoyen/activation", {"channel": "sms"})
    code = code_in(smtp.wait(1)[0])
    walker.get("/inscription/citoyen/code")
    token = walker.token
    first = browser.post("/inscription/citoyen/code", data={"code": code, "csrf_token": token})
    assert "code" in flow.follow_to_callback(first)
    # Back, and "Valider" again with the same code: the sign-up is over, the person is
    # logged in; a page says so, nothing is activated twice.
    again = browser.post("/inscription/citoyen/code", data={"code": code, "csrf_token": token})
    assert again.status_code == 409  # Conflict: done already, with a page that says so
    understood(again, french="Votre compte est activé")
    one_active_account(ds_app, username="angela.dubois")


def test_citoyen_sms_code_sent_twice_at_once_activates_once(ds_app, factories, smtp, monkeypatch):
    from idp.security import verification

    browser = ds_app.test_client()
    _, walker = citoyen_to_activation(browser, factories.portal(journey="citoyen"))
    walker.post("/inscription/citoyen/activation", {"channel": "sms"})
    code = code_in(smtp.wait(1)[0])
    walker.get("/inscription/citoyen/code")
    token = walker.token
    tab = ds_app.test_client()
    copy_cookies(browser, tab)
    data = {"code": code, "csrf_token": token}
    second = interleave(
        monkeypatch,
        verification,
        "check_code",
        lambda: tab.post("/inscription/citoyen/code", data=data),
    )
    first = browser.post("/inscription/citoyen/code", data=data)
    monkeypatch.undo()
    assert sorted([first.status_code, second().status_code]) == [302, 409]
    understood(first)
    understood(second())
    loser = first if first.status_code == 409 else second()
    understood(loser, french="Votre compte est activé")
    one_active_account(ds_app, username="angela.dubois")


def test_citoyen_activation_link_posted_twice_activates_once(ds_app, factories, smtp):
    browser = ds_app.test_client()
    flow, walker = citoyen_to_activation(browser, factories.portal(journey="citoyen"))
    walker.post("/inscription/citoyen/activation", {"channel": "email"})
    link = link_in(smtp.wait(1)[0])
    page = browser.get(link)
    token = csrf_of(page.text)
    first = browser.post(link, data={"csrf_token": token})
    assert "code" in flow.follow_to_callback(first)
    again = browser.post(link, data={"csrf_token": token})
    assert again.status_code == 409  # the link was used: Conflict, with a page
    understood(again, french="déjà")
    # Opened a second time from the mail (GET): the same "already used" page.
    understood(browser.get(link), french="déjà")
    one_active_account(ds_app)


def test_citoyen_activation_link_posted_twice_at_once_activates_once(
    ds_app, factories, smtp, monkeypatch
):
    from idp.enrolment import services

    browser = ds_app.test_client()
    _, walker = citoyen_to_activation(browser, factories.portal(journey="citoyen"))
    walker.post("/inscription/citoyen/activation", {"channel": "email"})
    link = link_in(smtp.wait(1)[0])
    token = csrf_of(browser.get(link).text)
    other = ds_app.test_client()  # the link opened in another browser too
    other_token = csrf_of(other.get(link).text)
    second = interleave(
        monkeypatch,
        services,
        "link_state",  # read, before anything is written
        lambda: other.post(link, data={"csrf_token": other_token}),
    )
    first = browser.post(link, data={"csrf_token": token})
    monkeypatch.undo()
    statuses = sorted([first.status_code, second().status_code])
    understood(first)
    understood(second())
    assert statuses == [302, 409], statuses
    one_active_account(ds_app)


# --- Password reset, email change, phone change ------------------------------------------

RESET_LINK = re.compile(r"http://localhost/mot-de-passe-oublie/lien/[A-Za-z0-9_\-]+[^\s\"<]*")
EMAIL_LINK = re.compile(r"http://localhost/mon-compte/adresse-electronique/confirmer/[\w\-]+")
NEW_PASSWORD = "Tulipe-Orange-93"


def logged_in_walker(app, person, second_factor=True) -> Walker:
    from tests.factories import mark_second_factor_passed

    client = app.test_client()
    page = client.get("/connexion")
    answer = client.post(
        "/connexion",
        data={"identifier": person.email, "password": person.password,
              "csrf_token": csrf_of(page.text)},
    )  # fmt: skip
    assert answer.status_code == 302, answer.text[:300]
    if second_factor:
        mark_second_factor_passed(app, person.id)
    walker = Walker(client)
    walker.get("/mon-compte")
    return walker


def test_password_reset_link_used_twice_changes_the_password_once(
    ds_app, factories, smtp, monkeypatch
):
    from idp.auth import recovery

    monkeypatch.setattr(recovery, "MIN_ANSWER_SECONDS", 0)
    person = factories.account()
    walker = Walker(ds_app.test_client())
    walker.get("/mot-de-passe-oublie")
    walker.post("/mot-de-passe-oublie", {"identifier": person.email, "channel": "email"})
    link = RESET_LINK.search(smtp.wait(1)[0].part("plain")).group(0)
    link = link.removeprefix("http://localhost")
    walker.get(link)
    data = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    first = walker.post(link, data)
    assert first.status_code == 302
    token = walker.token
    again = walker.client.post(link, data={**data, "csrf_token": token})
    # Back and "Valider" again: the link is spent; a page says so (410 Gone).
    # 410 Gone, one generic page for used, replaced and expired reset links (on purpose).
    assert again.status_code == 410
    understood(again, french="Il a déjà servi")
    reopened = walker.client.get(link)
    assert reopened.status_code == 410
    understood(reopened, french="Il a déjà servi")
    assert events(ds_app, "password_reset.completed") == 1


def ask_email_change(ds_app, factories, smtp):
    """A logged-in person asks for a new address; the confirmation page is open."""
    person = factories.account()
    walker = logged_in_walker(ds_app, person)
    new = "marie.nouvelle@example.fr"
    walker.get("/mon-compte/adresse-electronique")
    walker.post(
        "/mon-compte/adresse-electronique",
        {"email": new, "email_confirm": new, "current_password": PASSWORD},
    )
    to_new = next(m for m in smtp.wait(2) if m.rcpt_tos == [new])
    link = EMAIL_LINK.search(to_new.part("plain")).group(0).removeprefix("http://localhost")
    return person, walker, new, link, csrf_of(walker.client.get(link).text)


def test_email_change_confirmed_twice_changes_once(ds_app, factories, smtp):
    person, walker, new, link, token = ask_email_change(ds_app, factories, smtp)
    first = walker.client.post(link, data={"csrf_token": token})
    assert first.status_code == 200 and new in first.text
    again = walker.client.post(link, data={"csrf_token": token})
    assert again.status_code == 410
    understood(again, french="Il a déjà servi")
    assert events(ds_app, "email_change.completed") == 1
    with ds_app.app_context():
        assert db.session.get(Account, person.id).email == new


def test_email_change_confirmed_twice_at_once_changes_once(ds_app, factories, smtp, monkeypatch):
    from idp.account import email_change

    person, walker, new, link, token = ask_email_change(ds_app, factories, smtp)
    first, second = posted_at_once(
        monkeypatch,
        ds_app,
        walker.client,
        email_change,
        "pending",
        link,
        {"csrf_token": token},
        after=True,
    )
    understood(first)
    understood(second)
    assert sorted([first.status_code, second.status_code])[0] == 200
    assert events(ds_app, "email_change.completed") == 1


PHONE_PAGE = "/mon-compte/telephone-mobile"


def ask_phone_change(ds_app, factories, smtp):
    person = factories.account()
    walker = logged_in_walker(ds_app, person)
    walker.get(PHONE_PAGE)
    sent = walker.post(PHONE_PAGE, {"phone": "07 98 76 54 32", "current_password": PASSWORD})
    assert sent.status_code == 302, sent.text[:500]
    code = re.search(r"\b(\d{6})\b", smtp.wait(1)[0].message.get_content()).group(1)
    walker.get(PHONE_PAGE + "/code")
    return person, walker, code


def test_phone_change_code_sent_twice_changes_once(ds_app, factories, smtp):
    person, walker, code = ask_phone_change(ds_app, factories, smtp)
    token = walker.token
    first = walker.client.post(PHONE_PAGE + "/code", data={"code": code, "csrf_token": token})
    assert first.status_code == 302
    again = walker.client.post(PHONE_PAGE + "/code", data={"code": code, "csrf_token": token})
    understood(again)
    assert events(ds_app, "phone_change.completed") == 1
    smtp.wait(2)  # the SMS and the one notice to the owner
    assert len(smtp.messages) == 2


def test_phone_change_code_sent_twice_at_once_changes_once(ds_app, factories, smtp, monkeypatch):
    from idp.security import verification

    person, walker, code = ask_phone_change(ds_app, factories, smtp)
    data = {"code": code, "csrf_token": walker.token}
    tab = ds_app.test_client()  # the second tab reads its own page after its answer
    copy_cookies(walker.client, tab)
    second = interleave(
        monkeypatch, verification, "check_code", lambda: tab.post(PHONE_PAGE + "/code", data=data)
    )
    first = walker.client.post(PHONE_PAGE + "/code", data=data)
    monkeypatch.undo()
    second = second()
    # Both answers lead to Mon compte, which says the number was changed.
    for client, answer in ((walker.client, first), (tab, second)):
        understood(answer)
        assert answer.headers["Location"].endswith("/mon-compte#identite")
        understood(client.get("/mon-compte"), french="Votre numéro de téléphone mobile a été")
    assert events(ds_app, "phone_change.completed") == 1


# --- Second factor ------------------------------------------------------------------------

SETUP = "/mon-compte/double-authentification/application"
CODES = "/mon-compte/double-authentification/codes-de-secours"


def recovery_rows(app, account_id) -> int:
    from idp.mfa.models import RecoveryCode

    return count(app, RecoveryCode, RecoveryCode.account_id == account_id)


def test_totp_enable_confirmed_twice_enables_once(ds_app, factories, smtp):
    from tests.mfa.conftest import totp_now

    person = factories.account()
    walker = logged_in_walker(ds_app, person)
    page = walker.get(SETUP)
    secret = re.search(r"<code data-totp-secret>([A-Z2-7 ]+)</code>", page.text).group(1)
    data = {"code": totp_now(secret.replace(" ", "")), "password": PASSWORD}
    first = walker.post(SETUP, data)
    assert first.status_code == 200 and "Ils ne seront plus jamais affichés" in first.text
    token = csrf_of(page.text)
    again = walker.client.post(SETUP, data={**data, "csrf_token": token})
    understood(again)
    assert events(ds_app, "mfa.totp_enabled") == 1
    assert events(ds_app, "mfa.recovery_codes_generated") == 1
    assert recovery_rows(ds_app, person.id) == 10


def test_totp_enable_confirmed_twice_at_once_enables_once(ds_app, factories, smtp, monkeypatch):
    from idp.mfa import services
    from tests.mfa.conftest import totp_now

    person = factories.account()
    walker = logged_in_walker(ds_app, person)
    page = walker.get(SETUP)
    secret = re.search(r"<code data-totp-secret>([A-Z2-7 ]+)</code>", page.text).group(1)
    data = {
        "code": totp_now(secret.replace(" ", "")),
        "password": PASSWORD,
        "csrf_token": csrf_of(page.text),
    }
    first, second = posted_at_once(
        monkeypatch, ds_app, walker.client, services, "check_totp", SETUP, data
    )
    understood(first)
    understood(second)
    assert events(ds_app, "mfa.totp_enabled") == 1
    assert recovery_rows(ds_app, person.id) == 10


def totp_walker(app, person, secret) -> Walker:
    """A browser logged in with the password and the authenticator app."""
    from tests.mfa.conftest import post_password
    from tests.mfa.conftest import totp_now
    from tests.mfa.conftest import verify

    client = app.test_client()
    post_password(client, person)
    assert verify(client, totp_now(secret)).status_code == 302
    return Walker(client)


def test_recovery_codes_regenerated_twice_leave_ten(ds_app, factories, smtp):
    from tests.mfa.conftest import enable_totp

    person = factories.account()
    walker = totp_walker(ds_app, person, enable_totp(ds_app, person.id))
    page = walker.get(CODES)
    data = {"password": PASSWORD, "csrf_token": csrf_of(page.text)}
    first = walker.client.post(CODES, data=data)
    again = walker.client.post(CODES, data=data)
    # Each answer replaces the codes: the second shows the only ten that work.
    understood(first)
    understood(again)
    assert recovery_rows(ds_app, person.id) == 10


def test_recovery_codes_regenerated_twice_at_once_leave_ten(ds_app, factories, smtp, monkeypatch):
    from idp.mfa import manage
    from tests.mfa.conftest import enable_totp

    person = factories.account()
    walker = totp_walker(ds_app, person, enable_totp(ds_app, person.id))
    page = walker.get(CODES)
    data = {"password": PASSWORD, "csrf_token": csrf_of(page.text)}
    first, second = posted_at_once(
        monkeypatch, ds_app, walker.client, manage, "_proved", CODES, data
    )
    understood(first)
    understood(second)
    assert recovery_rows(ds_app, person.id) == 10


def test_step_up_code_sent_twice_steps_up_once(ds_app, factories, smtp):
    from tests.mfa.conftest import VERIFY
    from tests.mfa.conftest import ask_code
    from tests.mfa.conftest import code_in as mfa_code_in

    person = factories.account()
    browser = ds_app.test_client()
    flow = Flow(browser, factories.portal())
    flow.tokens(person)
    response = flow.authorize(acr_values="eidas2")
    url = response.headers["Location"]
    assert url.startswith(VERIFY)
    ask_code(browser, "mail", url=url)
    code = mfa_code_in(smtp.wait(1)[0].part("plain"))
    page = browser.get(url + "&methode=mail")
    data = {"code": code, "csrf_token": csrf_of(page.text)}
    first = browser.post(url + "&methode=mail", data=data)
    assert "code" in flow.follow_to_callback(first)
    again = browser.post(url + "&methode=mail", data=data)
    understood(again)
    # The session already has two factors: the second answer goes on to the portal.
    assert again.status_code in (302, 303), again.status_code
    assert events(ds_app, "mfa.step_up") <= 1


# --- Consent and logout -------------------------------------------------------------------


def consent_rows(app) -> int:
    from idp.oidc.models import Consent

    return count(app, Consent)


def consent_page(flow, person):
    response = flow.authorize()
    if response.headers.get("Location", "").startswith("/connexion"):
        response = flow.login(response, person.email, person.password)
        response = flow.client.get(response.headers["Location"])
    assert response.status_code == 200, response.status_code
    return response


def test_consent_accepted_twice_keeps_one_consent(ds_app, factories):
    from tests.oidc.helpers import form_of

    person = factories.account()
    flow = Flow(ds_app.test_client(), factories.portal(name="Portail", require_consent=True))
    action, csrf = form_of(consent_page(flow, person).text)
    first = flow.client.post(action, data={"csrf_token": csrf, "decision": "accept"})
    assert "code" in flow.follow_to_callback(first)
    again = flow.client.post(action, data={"csrf_token": csrf, "decision": "accept"})
    # The authorization request was already answered: an OAuth error back to the portal
    # (or a page), never a 5xx and never a second consent.
    understood(again)
    assert consent_rows(ds_app) == 1
    assert events(ds_app, "consent.granted") <= 2


def test_consent_accepted_twice_at_once_keeps_one_consent(ds_app, factories, monkeypatch):
    from idp.oidc import consent
    from tests.oidc.helpers import form_of

    person = factories.account()
    flow = Flow(ds_app.test_client(), factories.portal(name="Portail", require_consent=True))
    action, csrf = form_of(consent_page(flow, person).text)
    tab = ds_app.test_client()
    copy_cookies(flow.client, tab)
    data = {"csrf_token": csrf, "decision": "accept"}
    second = interleave(
        monkeypatch, consent, "_find", lambda: tab.post(action, data=data), after=True, wait=2
    )
    first = flow.client.post(action, data=data)
    monkeypatch.undo()
    understood(first)
    understood(second())
    assert consent_rows(ds_app) == 1


LOGOUT_EVENT = "session.ended"


def live_sessions(app) -> int:
    from idp.oidc.models import BrowserSession

    with app.app_context():
        return sum(row.is_live for row in db.session.scalars(select(BrowserSession)))


def test_logout_confirmed_twice_logs_out_once(ds_app, factories):
    from tests.oidc.helpers import form_of

    person = factories.account()
    flow = Flow(ds_app.test_client(), factories.portal())
    flow.tokens(person)
    page = flow.client.get("/logout")
    assert page.status_code == 200
    action, csrf = form_of(page.text)
    first = flow.client.post(action, data={"csrf_token": csrf})
    understood(first)
    again = flow.client.post(action, data={"csrf_token": csrf})
    # The same "Déconnecté" page (200): nothing left to end.
    assert again.status_code == 200
    understood(again, french="Déconnecté")
    assert live_sessions(ds_app) == 0
    assert events(ds_app, LOGOUT_EVENT) == 1


# --- Account deletion ---------------------------------------------------------------------

DELETION = "/mon-compte/suppression"
CANCEL = "/mon-compte/suppression/annuler"


def test_deletion_requested_twice_schedules_once(ds_app, factories, smtp):
    person = factories.account()
    walker = logged_in_walker(ds_app, person)
    walker.get(DELETION)
    token = walker.token
    first = walker.client.post(DELETION, data={"current_password": PASSWORD, "csrf_token": token})
    assert first.status_code == 200
    again = walker.client.post(DELETION, data={"current_password": PASSWORD, "csrf_token": token})
    understood(again)  # the session ended: to the login page
    assert events(ds_app, "account.deletion_requested") == 1


def test_deletion_requested_twice_at_once_schedules_once(ds_app, factories, smtp, monkeypatch):
    from idp.account import deletion

    person = factories.account()
    walker = logged_in_walker(ds_app, person)
    walker.get(DELETION)
    data = {"current_password": PASSWORD, "csrf_token": walker.token}
    first, second = posted_at_once(
        monkeypatch, ds_app, walker.client, deletion, "reauthenticate", DELETION, data
    )
    understood(first)
    understood(second)
    assert events(ds_app, "account.deletion_requested") == 1


def cancel_page(ds_app, factories):
    person = factories.account()
    walker = logged_in_walker(ds_app, person)
    walker.get(DELETION)
    walker.post(DELETION, {"current_password": PASSWORD})
    client = ds_app.test_client()
    page = client.get("/connexion")
    answer = client.post(
        "/connexion",
        data={"identifier": person.email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert answer.headers["Location"] == CANCEL, answer.headers.get("Location")
    page = client.get(CANCEL)
    return person, client, csrf_of(page.text)


def test_deletion_cancelled_twice_cancels_once(ds_app, factories, smtp):
    person, client, token = cancel_page(ds_app, factories)
    first = client.post(CANCEL, data={"csrf_token": token})
    assert first.status_code == 302
    again = client.post(CANCEL, data={"csrf_token": token})
    understood(again)
    assert events(ds_app, "account.deletion_cancelled") == 1
    with ds_app.app_context():
        assert db.session.get(Account, person.id).status == "active"


def test_deletion_cancelled_twice_at_once_cancels_once(ds_app, factories, smtp, monkeypatch):
    from idp.account import deletion_views

    person, client, token = cancel_page(ds_app, factories)
    first, second = posted_at_once(
        monkeypatch,
        ds_app,
        client,
        deletion_views,
        "_cancel_grant",
        CANCEL,
        {"csrf_token": token},
        after=True,
    )
    understood(first)
    understood(second)
    assert events(ds_app, "account.deletion_cancelled") == 1


# --- Console ------------------------------------------------------------------------------


def test_review_decision_sent_twice_decides_once(ds_app, factories, smtp):
    from tests.admin.conftest import make_operator

    agent = make_operator(ds_app, factories, "agent@ars.example.fr", roles=("helpdesk",))
    intern = factories.account(email="interne@example.fr", given_name="Jeanne")
    with ds_app.app_context():
        db.session.get(Account, intern.id).review_status = "pending"
        db.session.commit()
    url = f"/admin/verifications/{intern.id}"
    token = csrf_of(agent.get("/admin/verifications").text)
    first = agent.post(url, data={"decision": "accepted", "csrf_token": token})
    assert first.status_code == 302
    again = agent.post(url, data={"decision": "accepted", "csrf_token": token})
    understood(again)
    understood(agent.get(again.headers.get("Location", "/admin/verifications")))
    assert smtp.wait(1) and len(smtp.messages) == 1  # one mail to the person
    with ds_app.app_context():
        names = db.session.scalars(
            select(AuditEvent.event).where(AuditEvent.account_id == intern.id)
        ).all()
    assert len([n for n in names if "review" in n]) == 1, names


def test_review_decision_sent_twice_at_once_decides_once(ds_app, factories, smtp, monkeypatch):
    from idp.admin import views
    from tests.admin.conftest import make_operator

    agent = make_operator(ds_app, factories, "agent@ars.example.fr", roles=("helpdesk",))
    intern = factories.account(email="interne@example.fr", given_name="Jeanne")
    with ds_app.app_context():
        db.session.get(Account, intern.id).review_status = "pending"
        db.session.commit()
    url = f"/admin/verifications/{intern.id}"
    data = {"decision": "accepted", "csrf_token": csrf_of(agent.get("/admin/verifications").text)}
    first, second = posted_at_once(
        monkeypatch, ds_app, agent, views, "_person", url, data, after=True
    )
    understood(first)
    understood(second)
    with ds_app.app_context():
        names = db.session.scalars(
            select(AuditEvent.event).where(AuditEvent.account_id == intern.id)
        ).all()
    assert len([n for n in names if "review" in n]) == 1, names


ROLES = "/admin/roles"


def test_role_granted_twice_grants_once(ds_app, factories):
    from tests.admin.conftest import make_operator

    admin = make_operator(ds_app, factories, "admin@ars.example.fr", roles=("admin",))
    factories.account(email="agent@ars.example.fr")
    token = csrf_of(admin.get(ROLES).text)
    data = {"email": "agent@ars.example.fr", "role": "helpdesk", "csrf_token": token}
    first = admin.post(ROLES, data=data)
    assert first.status_code == 302
    again = admin.post(ROLES, data=data)
    assert again.status_code == 302
    understood(admin.get(again.headers["Location"]), french="a déjà le rôle")
    assert events(ds_app, "admin.role_granted") == 2  # the operator's own, then the agent's


def test_role_granted_twice_at_once_grants_once(ds_app, factories, monkeypatch):
    from idp.security import audit
    from tests.admin.conftest import make_operator

    admin = make_operator(ds_app, factories, "admin@ars.example.fr", roles=("admin",))
    factories.account(email="agent@ars.example.fr")
    token = csrf_of(admin.get(ROLES).text)
    data = {"email": "agent@ars.example.fr", "role": "helpdesk", "csrf_token": token}
    tab = ds_app.test_client()
    copy_cookies(admin, tab)
    # The first request checked the roles and added its row, not yet written.
    second = interleave(
        monkeypatch,
        audit,
        "record",
        lambda: tab.post(ROLES, data=data),
        when=lambda event, **_: event == "admin.role_granted",
    )
    first = admin.post(ROLES, data=data)
    monkeypatch.undo()
    understood(first)
    understood(second())
    assert events(ds_app, "admin.role_granted") == 2


def test_citoyen_identifier_step_posted_twice_at_once_creates_one_account(
    ds_app, factories, smtp, monkeypatch
):
    from idp.enrolment import engine

    browser = ds_app.test_client()
    flow = Flow(browser, factories.portal(journey="citoyen"))
    browser.get(flow.authorize(prompt="create").headers["Location"])
    walker = Walker(browser)
    walker.get("/inscription/citoyen/profil")
    walker.post("/inscription/citoyen/profil", {"profile": "citoyen"})
    walker.get("/inscription/citoyen/identite")
    walker.post("/inscription/citoyen/identite", IDENTITY)
    walker.get("/inscription/citoyen/identifiant")
    data = {"username": "angela.dubois", "password": CITOYEN_PASSWORD,
            "password_confirm": CITOYEN_PASSWORD, "cgu": "y", "rgpd": "y",
            "csrf_token": walker.token}  # fmt: skip
    first, second = posted_at_once(
        monkeypatch,
        ds_app,
        browser,
        engine,
        "advance",
        "/inscription/citoyen/identifiant",
        data,
        wait=3,
    )
    understood(first)
    understood(second)
    assert count(ds_app, Account) == 1 and events(ds_app, "account.created") == 1


# --- Sign-up: ameli, ars-interne ----------------------------------------------------------


def ameli_to_contacts(ds_app, factories) -> tuple[Flow, Walker]:
    from tests.enrolment.test_ameli import CODE
    from tests.enrolment.test_ameli import identify
    from tests.enrolment.test_ameli import seed_registry

    seed_registry(ds_app)
    browser = ds_app.test_client()
    flow = Flow(browser, factories.portal(journey="ameli", name="ameli"))
    browser.get(flow.authorize(prompt="create").headers["Location"])
    walker = Walker(browser)
    assert identify(walker).status_code == 302
    walker.get("/inscription/ameli/conditions")
    walker.post("/inscription/ameli/conditions", {"accept": "oui"})
    walker.get("/inscription/ameli/code-personnel")
    walker.post("/inscription/ameli/code-personnel", {"password": CODE, "password_confirm": CODE})
    walker.get("/inscription/ameli/coordonnees")
    return flow, walker


def identifiers(app) -> int:
    from idp.enrolment.models import AccountIdentifier

    return count(app, AccountIdentifier)


def test_ameli_contacts_posted_twice_then_link_twice_make_one_account(ds_app, factories, smtp):
    from tests.enrolment.test_ameli import CONTACT

    flow, walker = ameli_to_contacts(ds_app, factories)
    token = walker.token
    first = walker.client.post("/inscription/ameli/coordonnees", data={**CONTACT,
                               "csrf_token": token})  # fmt: skip
    assert first.headers["Location"] == "/inscription/ameli/courriel-envoye"
    again = walker.client.post("/inscription/ameli/coordonnees", data={**CONTACT,
                               "csrf_token": token})  # fmt: skip
    assert again.status_code == 409  # the sign-up is past this step
    understood(again, french="déjà été envoyée")
    link = link_in(smtp.wait(1)[0])
    assert len(smtp.messages) == 1  # one activation mail
    walker.get(link)
    token = walker.token
    done = walker.client.post(link, data={"csrf_token": token})
    assert "code" in flow.follow_to_callback(done)
    understood(walker.client.post(link, data={"csrf_token": token}), french="déjà")
    with ds_app.app_context():
        assert [a.status for a in db.session.scalars(select(Account))] == ["active"]
    assert identifiers(ds_app) == 1
    assert events(ds_app, "account.activated") == 1


def test_ameli_contacts_posted_twice_at_once_make_one_account(ds_app, factories, smtp, monkeypatch):
    from idp.enrolment import engine
    from tests.enrolment.test_ameli import CONTACT

    _, walker = ameli_to_contacts(ds_app, factories)
    data = {**CONTACT, "csrf_token": walker.token}
    first, second = posted_at_once(
        monkeypatch,
        ds_app,
        walker.client,
        engine,
        "advance",
        "/inscription/ameli/coordonnees",
        data,
        wait=3,
    )
    understood(first)
    understood(second)
    assert count(ds_app, Account) == 1 and identifiers(ds_app) == 1


def ars_interne_finalisation(ds_app, factories, smtp):
    """An ARS intern's sign-up from a portal, its mailed link open on the finalisation form."""
    from tests.enrolment.test_ars_interne import begin

    browser = ds_app.test_client()
    flow = Flow(browser, factories.portal(journey="ars-interne"))
    browser.get(flow.authorize(prompt="create").headers["Location"])
    begin(browser, Walker(browser))
    link = link_in(smtp.wait(1)[0])
    walker = Walker(browser)
    walker.get(link)
    return browser, walker, link


def test_ars_interne_finalisation_posted_twice_activates_once(ds_app, factories, smtp):
    from tests.enrolment.test_ars_interne import FINALISE

    browser, walker, link = ars_interne_finalisation(ds_app, factories, smtp)
    token = walker.token
    first = browser.post(link, data={**FINALISE, "csrf_token": token})
    assert first.status_code == 302
    again = browser.post(link, data={**FINALISE, "csrf_token": token})
    assert again.status_code == 409
    understood(again, french="déjà")
    one_active_account(ds_app, "dci.interne@example.fr")
    smtp.wait(2)
    assert len(smtp.messages) == 2  # the link, one confirmation


def test_ars_interne_finalisation_posted_twice_at_once_activates_once(
    ds_app, factories, smtp, monkeypatch
):
    from idp.enrolment import services
    from tests.enrolment.test_ars_interne import FINALISE

    browser, walker, link = ars_interne_finalisation(ds_app, factories, smtp)
    data = {**FINALISE, "csrf_token": walker.token}
    first, second = posted_at_once(monkeypatch, ds_app, browser, services, "link_state", link, data)
    assert sorted([first.status_code, second.status_code]) == [302, 409]
    understood(first)
    understood(second)
    one_active_account(ds_app, "dci.interne@example.fr")


# --- Sign-up: pro-santé, Mon espace santé -------------------------------------------------


def pro_sante_form(ds_app, factories):
    """A professional's sign-up from Espace pro, its form filled in (not sent yet)."""
    from tests.enrolment.test_pro_sante import STEP
    from tests.enrolment.test_pro_sante import form
    from tests.enrolment.test_pro_sante import seed_registry

    seed_registry(ds_app)
    browser = ds_app.test_client()
    flow = Flow(browser, factories.portal(journey="pro-sante", name="Espace pro"))
    browser.get(flow.authorize(prompt="create").headers["Location"])
    walker = Walker(browser)
    walker.get(STEP)
    return flow, walker, {**form(), "csrf_token": walker.token}


def test_pro_sante_form_posted_twice_then_link_twice_make_one_account(ds_app, factories, smtp):
    from tests.enrolment.test_pro_sante import STEP

    flow, walker, data = pro_sante_form(ds_app, factories)
    browser = walker.client
    first = browser.post(STEP, data=data)
    assert first.headers["Location"] == "/inscription/pro-sante/courriel-envoye"
    again = browser.post(STEP, data=data)
    assert again.status_code == 409
    understood(again, french="déjà été envoyée")
    link = link_in(smtp.wait(1)[0])
    walker.get(link)
    token = walker.token
    assert "code" in flow.follow_to_callback(browser.post(link, data={"csrf_token": token}))
    understood(browser.post(link, data={"csrf_token": token}), french="déjà")
    one_active_account(ds_app, "pharmacie.dupuis@example.fr")
    assert identifiers(ds_app) == 1


def test_pro_sante_form_posted_twice_at_once_makes_one_account(
    ds_app, factories, smtp, monkeypatch
):
    from idp.enrolment import engine
    from tests.enrolment.test_pro_sante import STEP

    flow, walker, data = pro_sante_form(ds_app, factories)
    browser = walker.client
    first, second = posted_at_once(
        monkeypatch, ds_app, browser, engine, "advance", STEP, data, wait=3
    )
    understood(first)
    understood(second)
    assert count(ds_app, Account) == 1 and identifiers(ds_app) == 1


def mes_to_credentials(ds_app, factories, smtp) -> tuple[Flow, Walker]:
    import io

    from idp.registry.services import import_csv
    from tests.enrolment import test_mon_espace_sante as mes

    with ds_app.app_context():
        import_csv("insured", io.StringIO(mes.CSV))
        db.session.commit()
    browser = ds_app.test_client()
    portal = factories.portal(journey="mon-espace-sante", name="Mon espace santé", scope=mes.SCOPE)
    flow = mes.start(browser, portal)
    walker = Walker(browser)
    mes.to_contacts(walker, smtp)
    walker.get(f"{mes.BASE}/coordonnees")
    walker.post(f"{mes.BASE}/coordonnees", {"mobile": "06 12 34 56 78"})
    walker.get(f"{mes.BASE}/identifiant")
    return flow, walker


def mes_credentials(walker) -> dict:
    from tests.enrolment import test_mon_espace_sante as mes

    return {"username": mes.USERNAME, "password": mes.PASSWORD,
            "password_confirm": mes.PASSWORD, "csrf_token": walker.token}  # fmt: skip


def test_mon_espace_sante_credentials_posted_twice_activate_once(ds_app, factories, smtp):
    from tests.enrolment import test_mon_espace_sante as mes

    flow, walker = mes_to_credentials(ds_app, factories, smtp)
    data = mes_credentials(walker)
    first = walker.client.post(f"{mes.BASE}/identifiant", data=data)
    assert first.status_code == 302  # to "Profil activé", then the portal
    again = walker.client.post(f"{mes.BASE}/identifiant", data=data)
    assert again.status_code == 409
    understood(again, french="Votre compte est activé")
    one_active_account(ds_app, mes.ANGELA_EMAIL)
    assert identifiers(ds_app) <= 1


def test_mon_espace_sante_credentials_posted_twice_at_once_activate_once(
    ds_app, factories, smtp, monkeypatch
):
    from idp.enrolment import engine
    from tests.enrolment import test_mon_espace_sante as mes

    _, walker = mes_to_credentials(ds_app, factories, smtp)
    data = mes_credentials(walker)
    first, second = posted_at_once(
        monkeypatch,
        ds_app,
        walker.client,
        engine,
        "advance",
        f"{mes.BASE}/identifiant",
        data,
        wait=3,
    )
    understood(first)
    understood(second)
    assert count(ds_app, Account) == 1
    one_active_account(ds_app, mes.ANGELA_EMAIL)
