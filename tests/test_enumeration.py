"""No account enumeration: every flow that takes something identifying a person answers a
stranger the same way whether or not (and in whatever state) an account holds it.

Each flow runs twice, once with an identifier of an existing account (active, disabled,
locked, not yet activated) and once with one of nobody, and the two answers are compared as
an attacker sees them: status, redirect target, visible text (CSRF tokens, nonces, times and
what was typed removed), names of the cookies set, the password verifications run, and the
mails sent (only ever to the owner of the address). Flows behind a login (Mon compte) and
the console are the owner's or an operator's; only what a stranger could probe is here.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import re
import sys
from dataclasses import dataclass

import pytest
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from idp import create_app
from idp.auth import lockout
from idp.auth import recovery
from idp.enrolment import services as enrolment_services
from idp.enrolment import validators
from idp.extensions import db
from idp.models import Account
from idp.models import utcnow
from idp.security import passwords
from tests.conftest import dispose
from tests.conftest import make_config
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import code_in
from tests.factories import PASSWORD
from tests.factories import Flow
from tests.factories import csrf_of
from tests.factories import mark_second_factor_passed
from tests.smtp import SmtpServer

WRONG = "Pas-le-bon-mot-de-passe-1"
UNKNOWN_EMAIL = "personne.inconnue@example.fr"
PHONE = "+33612345678"
STATES = ("active", "disabled", "pending", "locked", "deleting")


@pytest.fixture(autouse=True)
def quick_answers(monkeypatch):
    # The minimum answer time of the recovery pages has its own (statistical) test.
    monkeypatch.setattr(recovery, "MIN_ANSWER_SECONDS", 0)


@pytest.fixture(scope="module")
def smtp_module():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(smtp_module):
    """The module's SMTP server, emptied for each test."""
    smtp_module.messages.clear()
    return smtp_module


@pytest.fixture(scope="module")
def enum_app(app, tmp_path_factory, smtp_module):
    """One app for the module (on the session's database and keys, emptied after each test):
    building one per test would cost more than the tests themselves."""
    built = create_app(
        make_config(
            tmp_path_factory,
            DATABASE_URL=app.config["DATABASE_URL"],
            KEYS_DIR=app.config["KEYS_DIR"],
            SMTP_PORT=smtp_module.port,
            NOTIFY_ASYNC=False,
            LOGIN_DELAY_AFTER=3,
            LOGIN_LOCK_THRESHOLD=5,
            LOGIN_LOCK_DURATION=1200,
        )
    )
    yield built
    dispose(built)


@pytest.fixture
def verifications(monkeypatch):
    """Counts the calls of the project's password verify function, wherever it is imported."""
    original = passwords.verify_password
    calls = []

    def counting(stored_hash, password):
        calls.append(stored_hash is not None)
        return original(stored_hash, password)

    for module in list(sys.modules.values()):
        if module is not None and getattr(module, "verify_password", None) is original:
            monkeypatch.setattr(module, "verify_password", counting)
    return calls


# --- what an attacker sees -------------------------------------------------------------


_RANDOM = [
    re.compile(r'value="[^"]*"'),  # CSRF tokens, what was typed
    re.compile(r'nonce="[^"]*"'),
    re.compile(r"\b\d{1,2}[:h]\d{2}\b"),  # times
    re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"),  # dates
    re.compile(r"[A-Za-z0-9_\-]{32,}"),  # tokens and random ids in links
    re.compile(r'(?<=/)\d+(?=/)|(?<=data-session=")\d+'),  # row ids (sessions…)
]


def visible(html: str, *typed: str) -> str:
    """The page as an attacker compares it: without tokens, times and what they typed."""
    for value in typed:
        html = html.replace(value, "«typed»")
    for pattern in _RANDOM:
        html = pattern.sub("«x»", html)
    return html


def cookie_names(response) -> list[str]:
    return sorted(h.split("=", 1)[0] for h in response.headers.getlist("Set-Cookie"))


def location(response) -> str | None:
    target = response.headers.get("Location")
    return visible(target) if target else None


@dataclass(frozen=True)
class Seen:
    status: int
    location: str | None
    cookies: tuple[str, ...]
    text: str


def seen(response, *typed: str) -> Seen:
    return Seen(
        response.status_code,
        location(response),
        tuple(cookie_names(response)),
        visible(response.get_data(as_text=True), *typed),
    )


def assert_alike(known, unknown) -> None:
    """The two series of answers are equal; otherwise the first difference, as a diff."""
    for n, (a, b) in enumerate(zip(known, unknown, strict=True)):
        if isinstance(a, list | tuple) and isinstance(b, list | tuple):
            assert_alike(a, b)
            continue
        if a != b and isinstance(a, Seen) and isinstance(b, Seen) and a.text != b.text:
            diff = difflib.unified_diff(a.text.splitlines(), b.text.splitlines(), lineterm="")
            raise AssertionError(f"answer {n} differs:\n" + "\n".join(list(diff)[:40]))
        assert a == b, f"answer {n} differs: {a} != {b}"


def set_state(app, account_id: int, state: str) -> None:
    """Put the account in `state`: active, disabled, pending (never activated), locked, or
    deleting (its deletion asked, in the grace period)."""
    with app.app_context():
        values = {"phone": PHONE, "phone_verified_at": utcnow()}
        if state in ("disabled", "pending", "deleting"):
            values["status"] = state
        db.session.execute(update(Account).where(Account.id == account_id).values(**values))
        if state == "locked":
            # A lock earned through another identifier of the account (its username).
            now = utcnow()
            db.session.add(
                lockout.LoginThrottle(
                    key_hash=lockout.key_of("marie.curie"),
                    account_id=account_id,
                    failures=5,
                    first_failure_at=now,
                    last_failure_at=now,
                    locked_until=now + dt.timedelta(minutes=20),
                )
            )
        db.session.commit()


def make_person(factories, app, state: str):
    person = factories.account(username="marie.curie")
    set_state(app, person.id, state)
    return person


def post_form(client, url, data):
    """Post the form of `url` as its page would, CSRF token included."""
    page = client.get(url)
    return client.post(url, data={**data, "csrf_token": csrf_of(page.text)})


def mails_to(smtp, address: str) -> list:
    return [m for m in smtp.messages if address in m.rcpt_tos]


# --- login -----------------------------------------------------------------------------


def _wrong_password_from(app, verifications, *identifiers):
    """A wrong password through each identifier from a fresh browser: what is seen, and how
    many argon2 verifications (real or dummy) it cost."""
    answers = []
    for identifier in identifiers:
        verifications.clear()
        response = post_form(
            app.test_client(), "/connexion", {"identifier": identifier, "password": WRONG}
        )
        answers.append((seen(response, identifier), len(verifications)))
    return answers


@pytest.mark.parametrize("state", STATES)
def test_a_wrong_password_answers_alike_for_every_account_state_and_for_nobody(
    enum_app, factories, smtp_server, verifications, state
):
    person = make_person(factories, enum_app, state)
    known, unknown = _wrong_password_from(enum_app, verifications, person.email, UNKNOWN_EMAIL)
    assert_alike([known], [unknown])
    assert known[0].status == 200 and "Identifiant ou mot de passe incorrect." in known[0].text
    assert known[1] == 1, "a login must cost one password verification, account or not"
    assert smtp_server.messages == []


def valid_number(kind: str, stem: str) -> str:
    """The first number of `stem` + two digits that the validator of `kind` accepts."""
    check = getattr(validators, kind)
    for n in range(100):
        try:
            return check(f"{stem}{n:02d}")
        except ValueError:
            continue
    raise AssertionError(stem)


@pytest.mark.parametrize(
    ("journey", "kind", "stem"),
    [
        ("citoyen", "username", None),
        ("ameli", "nir", "2620875107123"),
        ("pro-sante", "finess", "3300005"),
    ],
)
@pytest.mark.parametrize("state", ("active", "disabled", "pending"))
def test_login_by_username_nir_or_finess_answers_alike_for_nobody(
    enum_app, factories, verifications, journey, kind, stem, state
):
    """Each portal's own login identifier: a wrong password for an account (whatever its
    state) and any password for an identifier of nobody get the same answer."""
    person = make_person(factories, enum_app, state)
    portal = factories.portal(journey=journey)
    if kind == "username":
        known, unknown = "marie.curie", "marie.inconnue"
    else:
        known, unknown = valid_number(kind, stem), valid_number(kind, stem[:-1] + "9")
        with enum_app.app_context():
            account = db.session.get(Account, person.id)
            enrolment_services.add_identifier(account, kind, known)
            db.session.commit()
    answers = {}
    for identifier in (known, unknown):
        client = enum_app.test_client()
        login_url = Flow(client, portal, state="s", nonce="n").authorize().headers["Location"]
        verifications.clear()
        response = post_form(client, login_url, {"identifier": identifier, "password": WRONG})
        answers[identifier] = (seen(response, identifier), len(verifications))
    assert_alike([answers[known]], [answers[unknown]])
    assert answers[known][0].status == 200 and answers[known][1] == 1
    # The identifier does designate the account: its right password logs in (when active).
    client = enum_app.test_client()
    login_url = Flow(client, portal).authorize().headers["Location"]
    right = post_form(client, login_url, {"identifier": known, "password": PASSWORD})
    assert (right.status_code == 302) == (state == "active")


def test_a_lock_taken_through_one_identifier_does_not_tell_which_others_are_the_accounts(
    enum_app, factories, smtp_server, verifications
):
    """Lock `marie.curie` (a guessable username), then try addresses: the account's own
    address must not be the only one refused with "Trop de tentatives"."""
    person = make_person(factories, enum_app, "active")
    client = enum_app.test_client()
    for _ in range(5):
        post_form(client, "/connexion", {"identifier": "marie.curie", "password": WRONG})
        lockout_passes(enum_app)
    with enum_app.app_context():
        assert lockout.is_locked(db.session.get(Account, person.id))
    known, unknown = _wrong_password_from(enum_app, verifications, person.email, UNKNOWN_EMAIL)
    assert_alike([known], [unknown])
    # The lock still holds: the right password through the address does not log in.
    right = post_form(
        enum_app.test_client(), "/connexion", {"identifier": person.email, "password": PASSWORD}
    )
    assert right.status_code != 302 and "idp_session" not in cookie_names(right)
    # Only the owner is told of the lock.
    assert {r for m in smtp_server.messages for r in m.rcpt_tos} == {person.email}


def lockout_passes(app) -> None:
    """Move every failure an hour into the past: the progressive delays are waited out."""
    with app.app_context():
        for row in db.session.scalars(select(lockout.LoginThrottle)):
            row.last_failure_at -= dt.timedelta(hours=1)
        db.session.commit()


def test_locking_an_identifier_answers_alike_and_mails_only_a_real_owner(
    enum_app, factories, smtp_server
):
    person = make_person(factories, enum_app, "active")
    answers = {}
    for identifier in (person.email, UNKNOWN_EMAIL):
        client = enum_app.test_client()
        steps = []
        for _ in range(6):
            response = post_form(
                client, "/connexion", {"identifier": identifier, "password": WRONG}
            )
            steps.append(seen(response, identifier))
            lockout_passes(enum_app)
        locked = post_form(client, "/connexion", {"identifier": identifier, "password": PASSWORD})
        answers[identifier] = (steps, seen(locked, identifier))
    assert_alike(answers[person.email], answers[UNKNOWN_EMAIL])
    assert answers[UNKNOWN_EMAIL][1].status == 429
    assert [m.rcpt_tos for m in smtp_server.messages] == [[person.email]]


# --- forgotten password and identifier -------------------------------------------------


@pytest.mark.parametrize("state", STATES)
def test_forgotten_password_answers_alike_and_mails_only_the_owner(
    enum_app, factories, smtp_server, state
):
    person = make_person(factories, enum_app, state)
    for channel in ("email", "sms"):
        answers = {}
        for identifier in (person.email, UNKNOWN_EMAIL):
            walker = Walker(enum_app.test_client())
            walker.get("/mot-de-passe-oublie")
            response = walker.post(
                "/mot-de-passe-oublie", {"identifier": identifier, "channel": channel}
            )
            pages = [seen(response, identifier)]
            if channel == "sms":
                pages.append(seen(walker.get(response.headers["Location"]), identifier))
                # A wrong code: the same refusal, known account or not.
                wrong = walker.post(response.headers["Location"], {"code": "000000"})
                pages.append(seen(wrong, identifier))
            answers[identifier] = pages
        assert_alike(answers[person.email], answers[UNKNOWN_EMAIL])
    # Only an active account gets something, and only at its own address and phone.
    expected = (
        [[person.email], ["sms+33612345678@sms.localhost"]] if state in ("active", "locked") else []
    )
    assert [m.rcpt_tos for m in smtp_server.messages] == expected


@pytest.mark.parametrize("state", STATES)
def test_forgotten_identifier_answers_alike_and_mails_only_the_owner(
    enum_app, factories, smtp_server, state
):
    person = make_person(factories, enum_app, state)
    answers = {}
    for email in (person.email, UNKNOWN_EMAIL):
        response = post_form(enum_app.test_client(), "/identifiant-oublie", {"email": email})
        answers[email] = [seen(response, email)]
    assert_alike(answers[person.email], answers[UNKNOWN_EMAIL])
    expected = [[person.email]] if state in ("active", "locked") else []
    assert [m.rcpt_tos for m in smtp_server.messages] == expected


# --- sign-up ---------------------------------------------------------------------------

SIGNUP_PASSWORD = "Soleil-Levant-2026"


def citizen_signup(app, email: str, username: str, portal) -> tuple[Walker, list[Seen]]:
    """The `citoyen` journey up to the activation choice; the pages seen on the way."""
    client = app.test_client()
    flow = Flow(client, portal, state="etat-fixe", nonce="nonce-fixe")
    pages = []
    response = flow.authorize(prompt="create")
    response = client.get(response.headers["Location"])
    walker = Walker(client)
    walker.get("/inscription/citoyen/profil")
    pages.append(seen(walker.post("/inscription/citoyen/profil", {"profile": "citoyen"})))
    walker.get("/inscription/citoyen/identite")
    identity = {
        "civility": "madame",
        "family_name": "Dubois",
        "given_name": "Angéla",
        "birthdate": "24/08/1962",
        "email": email,
        "email_confirm": email,
        "mobile": "06 12 34 56 78",
    }
    pages.append(seen(walker.post("/inscription/citoyen/identite", identity)))
    walker.get("/inscription/citoyen/identifiant")
    last = walker.post(
        "/inscription/citoyen/identifiant",
        {"username": username, "password": SIGNUP_PASSWORD, "password_confirm": SIGNUP_PASSWORD,
         "cgu": "y", "rgpd": "y"},
    )  # fmt: skip
    pages.append(seen(last, email))
    pages.append(seen(walker.get(last.headers["Location"]), email))
    return walker, pages


@pytest.mark.parametrize("state", ("active", "disabled", "pending"))
def test_citizen_sign_up_with_a_taken_address_by_email_link_answers_alike(
    enum_app, factories, smtp_server, state
):
    person = make_person(factories, enum_app, state)
    portal = factories.portal(journey="citoyen")
    answers = {}
    for email, username in ((person.email, "angela.un"), (UNKNOWN_EMAIL, "angela.deux")):
        walker, pages = citizen_signup(enum_app, email, username, portal)
        sent = walker.post("/inscription/citoyen/activation", {"channel": "email"})
        pages += [seen(sent, email), seen(walker.get(sent.headers["Location"]), email)]
        resent = walker.post("/inscription/citoyen/renvoyer", {})
        pages += [seen(resent, email), seen(walker.get(resent.headers["Location"]), email)]
        # The identifier chosen on the way is taken either way (the live check says so).
        check = walker.client.get(f"/inscription/identifiant-disponible?identifiant={username}")
        pages.append(check.get_json()["available"])
        answers[email] = pages
    assert_alike(answers[person.email], answers[UNKNOWN_EMAIL])
    # The owner of the taken address is told (twice: the send and the resend); the free
    # address gets its activation links. Nobody else gets anything.
    owner = mails_to(smtp_server, person.email)
    assert [m.message["Subject"] for m in owner] == [
        "Tentative de création de compte avec votre adresse mail"
    ] * 2
    assert len(mails_to(smtp_server, UNKNOWN_EMAIL)) == 2
    assert len(smtp_server.messages) == 4


def test_citizen_sign_up_with_a_taken_address_by_sms_code_answers_alike(
    enum_app, factories, smtp_server
):
    """The SMS code proves the phone, not the address typed: whoever holds that phone must
    not learn from the pages after the code whether the address has an account."""
    person = make_person(factories, enum_app, "active")
    portal = factories.portal(journey="citoyen")
    answers = {}
    for email, username in ((person.email, "angela.un"), (UNKNOWN_EMAIL, "angela.deux")):
        before = len(smtp_server.messages)
        walker, pages = citizen_signup(enum_app, email, username, portal)
        sent = walker.post("/inscription/citoyen/activation", {"channel": "sms"})
        pages += [seen(sent, email), seen(walker.get(sent.headers["Location"]), email)]
        sms = smtp_server.wait(before + 1)[before]
        activated = walker.post("/inscription/citoyen/code", {"code": code_in(sms)})
        pages.append(seen(activated, email))
        overview = walker.client.get("/mon-compte")
        pages.append(seen(overview, email, username))
        answers[email] = pages
    assert_alike(answers[person.email], answers[UNKNOWN_EMAIL])
    assert answers[person.email][-2].status == 302, "the code activates and logs in"
    # The owner's address was not given to the new account, and its owner is told.
    with enum_app.app_context():
        new = db.session.scalar(select(Account).where(Account.username == "angela.un"))
        assert new.status == "active" and new.email != person.email
        owner = db.session.get(Account, person.id)
        assert owner.email == person.email
    assert len(mails_to(smtp_server, person.email)) == 1
    # The free address is confirmed by a link before it is the account's.
    (confirm,) = mails_to(smtp_server, UNKNOWN_EMAIL)
    link = re.search(r"http://localhost(/mon-compte/adresse-electronique/confirmer/\S+)",
                     confirm.part("plain")).group(1)  # fmt: skip
    post_form(enum_app.test_client(), link, {})
    with enum_app.app_context():
        new = db.session.scalar(select(Account).where(Account.username == "angela.deux"))
        assert new.email == UNKNOWN_EMAIL and new.email_verified_at is not None


def ars_signup(app, email: str) -> list[Seen]:
    client = app.test_client()
    client.get("/inscription/ars-interne")
    walker = Walker(client)
    walker.get("/inscription/ars-interne/compte")
    pages = [
        seen(
            walker.post(
                "/inscription/ars-interne/compte",
                {"ine": "0000", "family_name": "Interne", "given_name": "Dci"},
            )
        )
    ]
    walker.get("/inscription/ars-interne/email")
    last = walker.post("/inscription/ars-interne/email", {"email": email, "email_confirm": email})
    pages += [seen(last, email), seen(walker.get(last.headers["Location"]), email)]
    return pages


@pytest.mark.parametrize("state", ("active", "pending"))
def test_intern_sign_up_with_a_taken_address_answers_alike(enum_app, factories, smtp_server, state):
    person = make_person(factories, enum_app, state)
    assert_alike(ars_signup(enum_app, person.email), ars_signup(enum_app, UNKNOWN_EMAIL))
    (owner,) = mails_to(smtp_server, person.email)
    assert "Tentative de création de compte" in owner.message["Subject"]
    (activation,) = mails_to(smtp_server, UNKNOWN_EMAIL)
    assert "/activation/" in activation.part("plain")


# --- Mon compte: a new address --------------------------------------------------------


def test_changing_ones_address_to_a_taken_one_answers_alike(enum_app, factories, smtp_server):
    other = factories.account(email="autre@example.fr", password=PASSWORD)
    person = factories.account(email="moi@example.fr", password=PASSWORD)
    client = enum_app.test_client()
    post_form(client, "/connexion", {"identifier": person.email, "password": PASSWORD})
    mark_second_factor_passed(enum_app, person.id)
    answers = {}
    for email in (other.email, UNKNOWN_EMAIL):
        response = post_form(
            client,
            "/mon-compte/adresse-electronique",
            {"email": email, "email_confirm": email, "current_password": PASSWORD},
        )
        answers[email] = seen(response, email)
    assert_alike([answers[other.email]], [answers[UNKNOWN_EMAIL]])
    assert answers[other.email].status == 200
    # The owner of the taken address is told; the free one gets the link; the account's
    # own address is told of both requests.
    assert len(mails_to(smtp_server, other.email)) == 1
    assert "/confirmer/" in mails_to(smtp_server, UNKNOWN_EMAIL)[0].part("plain")
    assert len(mails_to(smtp_server, person.email)) == 2
    assert len(smtp_server.messages) == 4


# --- Mon espace santé: a typed address ------------------------------------------------

MES = "/inscription/mon-espace-sante"
INSURED_CSV = (
    "nir;card_serial;birth_family_name;usage_family_name;given_names;birthdate;postcode;email;"
    "mobile;parent_nir\n"
    "262087510712371;01024576124;DUBOIS;MARTIN;Angela;1962-08-24;75007;angela@example.fr;;\n"
)


def insured_signup(app, smtp, email: str, username: str, portal) -> list:
    """Prove the registry identity (code to the address on record), type another address,
    choose an identifier: the pages seen, then whether the identifier is still free."""
    client = app.test_client()
    flow = Flow(client, portal, scope="openid profile email", state="etat", nonce="nonce")
    client.get(client.get(flow.authorize(prompt="create").headers["Location"]).location)
    walker = Walker(client)
    walker.get(f"{MES}/commencer")
    walker.post(f"{MES}/commencer", {})
    walker.get(f"{MES}/date-naissance")
    walker.post(f"{MES}/date-naissance", {"birthdate": "24/08/1962"})
    walker.get(f"{MES}/carte-vitale")
    walker.post(f"{MES}/carte-vitale", {"nir": "262087510712371", "card_serial": "01024576124"})
    walker.get(f"{MES}/envoi-code")
    before = len(smtp.messages)
    walker.post(f"{MES}/envoi-code", {"channel": "email"})
    code = re.search(r" : ([A-Za-z0-9]{12})\b", smtp.wait(before + 1)[before].part("plain"))
    walker.get(f"{MES}/code-provisoire")
    walker.post(f"{MES}/code-provisoire", {"code": code.group(1)})
    for step, data in (("informations", {}), ("conditions", {"accept": "y"})):
        walker.get(f"{MES}/{step}")
        walker.post(f"{MES}/{step}", data)
    walker.get(f"{MES}/coordonnees/adresse-email")
    pages = [seen(walker.post(f"{MES}/coordonnees/adresse-email",
                              {"email": email, "email_confirm": email}), email)]  # fmt: skip
    pages.append(seen(walker.get(f"{MES}/coordonnees"), email))
    pages.append(seen(walker.post(f"{MES}/coordonnees", {"mobile": ""}), email))
    walker.get(f"{MES}/identifiant")
    password = "Rivage#Azur-2031"
    last = walker.post(f"{MES}/identifiant",
                       {"username": username, "password": password, "password_confirm": password})  # fmt: skip
    pages += [seen(last, email), seen(walker.get(last.location), email)]
    pages.append(client.get(f"/inscription/identifiant-disponible?identifiant={username}").json)
    return pages


def test_insured_sign_up_with_a_typed_taken_address_answers_alike(enum_app, factories, smtp_server):
    """Whoever proved an insured identity may type any address: the sign-up must not tell
    them which ones have an account (neither the pages nor the identifier it reserves)."""
    from idp.registry.services import import_csv

    with enum_app.app_context():
        import_csv("insured", io.StringIO(INSURED_CSV))
        db.session.commit()
    person = make_person(factories, enum_app, "active")
    portal = factories.portal(journey="mon-espace-sante", scope="openid profile email")
    taken = insured_signup(enum_app, smtp_server, person.email, "angela.un", portal)
    # The first sign-up left a pending account on the NIR: the second starts afresh.
    with enum_app.app_context():
        db.session.execute(delete(Account).where(Account.username == "angela.un"))
        db.session.commit()
    free = insured_signup(enum_app, smtp_server, UNKNOWN_EMAIL, "angela.deux", portal)
    assert_alike(taken, free)
    (owner,) = mails_to(smtp_server, person.email)
    assert "Tentative de création de compte" in owner.message["Subject"]
    (link,) = mails_to(smtp_server, UNKNOWN_EMAIL)
    assert "/activation/" in link.part("plain")


AMELI_CODE = "Tilleul-Vert-48"


def ameli_signup(app, email: str) -> list[Seen]:
    """The `ameli` journey with the registry's insured person and `email`, then the first
    step of a second sign-up with the same NIR: the pages seen."""
    pages = []
    for attempt in range(2):
        client = app.test_client()
        client.get("/inscription/ameli")
        walker = Walker(client)
        walker.get("/inscription/ameli/identification")
        identity = {"family_name": "Martin", "nir": "262087510712371", "birthdate": "24/08/1962",
                    "postcode": "75007"}  # fmt: skip
        pages.append(seen(walker.post("/inscription/ameli/identification", identity)))
        if attempt == 1:
            return pages
        walker.get("/inscription/ameli/conditions")
        walker.post("/inscription/ameli/conditions", {"accept": "oui"})
        walker.get("/inscription/ameli/code-personnel")
        walker.post("/inscription/ameli/code-personnel",
                    {"password": AMELI_CODE, "password_confirm": AMELI_CODE})  # fmt: skip
        walker.get("/inscription/ameli/coordonnees")
        contact = {"email": email, "email_confirm": email, "marketing_email": "non",
                   "mobile": "", "marketing_mobile_phone": "non", "marketing_sms": "non",
                   "landline": "", "marketing_landline_phone": "non"}  # fmt: skip
        sent = walker.post("/inscription/ameli/coordonnees", contact)
        pages += [seen(sent, email), seen(walker.get(sent.location), email)]
    raise AssertionError("unreachable")


def test_insured_ameli_sign_up_with_a_taken_address_answers_alike_then_too(
    enum_app, factories, smtp_server
):
    """Whoever passes the registry check may type any address; starting again with the same
    NIR must not tell whether the address typed the first time had an account."""
    from idp.registry.services import import_csv

    with enum_app.app_context():
        import_csv("insured", io.StringIO(INSURED_CSV))
        db.session.commit()
    person = make_person(factories, enum_app, "active")
    taken = ameli_signup(enum_app, person.email)
    with enum_app.app_context():  # the first person's sign-up is forgotten
        db.session.execute(delete(Account).where(Account.id != person.id))
        db.session.commit()
    free = ameli_signup(enum_app, UNKNOWN_EMAIL)
    assert_alike(taken, free)
    assert free[-1].status == 302, "a never-activated sign-up gives way to a new one"
