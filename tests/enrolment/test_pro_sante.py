"""`pro-sante` journey (seed 004): N° tiers + old password or confidential number, then the
email link; and the request for a confidential number by post, behind a CAPTCHA."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import re
import statistics
import time

import pytest
from limits import parse as parse_limit
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from idp.enrolment import pro_sante
from idp.enrolment import pro_sante_request
from idp.enrolment.models import AccountConsent
from idp.enrolment.models import AccountIdentifier
from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from idp.models import utcnow
from idp.registry.letters import take_pending
from idp.registry.models import LetterRequest
from idp.registry.models import ProfessionalRecord
from idp.registry.services import LETTER_INTERVAL
from idp.security import captcha
from idp.security import captcha_image
from idp.security.verification import Verification
from tests.auth.test_limits_per_network import browser_at
from tests.enrolment.conftest import Walker
from tests.enrolment.conftest import link_in
from tests.factories import Flow

FINESS = "010000016"  # an old-site user: legacy password and confidential number
NEWCOMER = "750000010"  # never had an account: confidential number only
UNKNOWN = "330000027"  # valid key, not in the registry
LEGACY = "Xk7pQ2mWz9"  # the 10 characters sent by post
CODE = "1234 5678 9012"
NEWCOMER_CODE = "9876 5432 1098"
PASSWORD = "Officine-Lumineuse-58"
EMAIL = "pharmacie.dupuis@example.fr"
CSV = (
    "finess;birth_family_name;given_names;email;confidential_code;legacy_password_hash;"
    "address;postcode;city\n"
    f"{FINESS};DUPUIS;Hélène;;{CODE};{{SHA256}}{hashlib.sha256(LEGACY.encode()).hexdigest()};"
    "12 rue des Lilas;01000;BOURG-EN-BRESSE\n"
    f"{NEWCOMER};MARTIN;Paul;;{NEWCOMER_CODE};;3 place du Marché;75010;PARIS\n"
)
STEP = "/inscription/pro-sante/inscription"
REQUEST = "/professionnels/code-confidentiel"
NO_MATCH = "ne permettent pas de vous identifier"
IMAGE_TEXT = "ACDEF"
NUMBERS = ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix")
NUMBERS += ("onze", "douze", "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit")


def seed_registry(app):
    from idp.registry.services import import_csv

    with app.app_context():
        report = import_csv("professional", io.StringIO(CSV))
        db.session.commit()
    assert report.rejected == []


@pytest.fixture
def registry(signup_app):
    seed_registry(signup_app)
    return signup_app


def form(**overrides):
    data = {
        "finess": "01 000 001 6",
        "legacy_password": LEGACY,
        "confidential_code": "",
        "email": EMAIL,
        "email_confirm": EMAIL.upper(),
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "cgu": "y",
    }
    data.update(overrides)
    return data


def sign_up(client, **overrides):
    walker = Walker(client)
    client.get("/inscription/pro-sante")
    walker.get(STEP)
    return walker.post(STEP, form(**overrides))


def text_of(page) -> str:
    return html.unescape(page.text)


def alert_of(page) -> str:
    found = re.search(r'<div class="fr-alert fr-alert--error[^>]*>(.*?)</div>', text_of(page), re.S)
    assert found, page.text[:3000]
    return " ".join(found.group(1).split())


def test_old_site_user_signs_up_with_the_old_password_and_returns_logged_in(
    registry, browser, factories, smtp_server
):
    portal = factories.portal(journey="pro-sante", name="Espace pro")
    flow = Flow(browser, portal)
    start = browser.get(flow.authorize(prompt="create").headers["Location"])
    assert start.headers["Location"] == STEP
    page = browser.get(STEP)
    for label in (
        "Mon numéro tiers",
        "Mon mot de passe actuel",
        "OU",
        "Mon numéro confidentiel",
        "Mon adresse mail",
        "Confirmation de mon adresse mail",
        "Mon mot de passe personnalisé",
        "Confirmation du mot de passe",
        "Valider les conditions générales d'utilisation",
        "Si vous n'avez jamais eu de compte, cliquez ICI",
    ):
        assert label in text_of(page), label
    assert 'href="/professionnels/code-confidentiel"' in text_of(page)
    assert '"pro-sante"' in text_of(page) or "data-password-policy" in text_of(page)
    walker = Walker(browser)
    walker.get(STEP)
    done = walker.post(STEP, form())
    assert done.headers["Location"] == "/inscription/pro-sante/courriel-envoye"
    (mail,) = smtp_server.wait(1)
    assert mail.message["Subject"] == "Votre compte Espace pro - Confirmation de votre adresse mail"
    assert mail.rcpt_tos == [EMAIL]
    with registry.app_context():
        account = db.session.scalar(select(Account))
        assert account.status == "pending"
        record = db.session.scalar(select(ProfessionalRecord).filter_by(finess=FINESS))
        assert record.legacy_password_hash is None, "the old password served once"
    link = link_in(mail)
    walker.get(link)
    assert "code" in flow.follow_to_callback(walker.post(link, {}))
    with registry.app_context():
        account = db.session.scalar(select(Account))
        assert (account.status, account.given_name, account.family_name) == (
            "active",
            "Hélène",
            "DUPUIS",
        )
        assert (account.street_address, account.postal_code, account.locality) == (
            "12 rue des Lilas",
            "01000",
            "BOURG-EN-BRESSE",
        )
        assert account.email == EMAIL and account.email_verified_at is not None
        assert account.password_hash.startswith("$argon2id$")
        identifier = db.session.scalar(select(AccountIdentifier))
        assert (identifier.kind, identifier.display) == ("finess", FINESS)
        consents = {c.kind: c.version for c in db.session.scalars(select(AccountConsent))}
        assert "cgu" in consents
        forgotten = db.session.scalar(
            select(AuditEvent).filter_by(event="registry.legacy_password_forgotten")
        )
        assert forgotten.details == {"finess": FINESS, "used": True}
        raw = str(db.session.execute(text("select details from audit_event")).all())
        assert LEGACY not in raw and CODE.replace(" ", "") not in raw

    # The old password does not work a second time, even for a new sign-up.
    again = sign_up(registry.test_client())
    assert again.status_code == 200 and NO_MATCH in alert_of(again)

    # Login on the professionals' portal: N° tiers + the chosen password.
    fresh = Flow(registry.test_client(), portal)
    response = fresh.authorize()
    login_page = fresh.client.get(response.headers["Location"])
    assert "Identifiant (votre N° tiers)" in text_of(login_page)
    assert "code" in fresh.follow_to_callback(fresh.login(response, "010 000 016", PASSWORD))
    wrong = Flow(registry.test_client(), portal)
    refused = wrong.login(wrong.authorize(), FINESS, LEGACY)
    assert refused.status_code == 200 and "Identifiant ou mot de passe incorrect" in text_of(
        refused
    )


def test_newcomer_signs_up_with_the_confidential_number(registry, browser, smtp_server):
    page = sign_up(
        browser,
        finess=NEWCOMER,
        legacy_password="",
        confidential_code="987654321098",
        email="paul.martin@example.fr",
        email_confirm="paul.martin@example.fr",
    )
    assert page.headers["Location"] == "/inscription/pro-sante/courriel-envoye"
    link = link_in(smtp_server.wait(1)[0])
    walker = Walker(browser)
    walker.get(link)
    assert walker.post(link, {}).headers["Location"] == "/inscription/termine"
    with registry.app_context():
        account = db.session.scalar(select(Account))
        assert (account.status, account.given_name, account.locality) == ("active", "Paul", "PARIS")
        record = db.session.scalar(select(ProfessionalRecord).filter_by(finess=NEWCOMER))
        assert record.confidential_code_hash is not None


def test_the_old_password_goes_too_when_the_number_was_used(registry, browser, smtp_server):
    assert sign_up(browser, legacy_password="", confidential_code=CODE).status_code == 302
    with registry.app_context():
        record = db.session.scalar(select(ProfessionalRecord).filter_by(finess=FINESS))
        assert record.legacy_password_hash is None
        event = db.session.scalar(
            select(AuditEvent).filter_by(event="registry.legacy_password_forgotten")
        )
        assert event.details["used"] is False


@pytest.mark.parametrize(
    "wrong",
    [
        {"legacy_password": "Xk7pQ2mWz8"},
        {"legacy_password": "", "confidential_code": "1234 5678 9013"},
        {"finess": UNKNOWN},
        {"finess": UNKNOWN, "legacy_password": "", "confidential_code": CODE},
        {"finess": NEWCOMER, "legacy_password": LEGACY},
    ],
)
def test_a_failed_proof_never_says_which_part_failed(registry, browser, wrong):
    page = sign_up(browser, **wrong)
    assert page.status_code == 200
    assert alert_of(page) == (
        "<p>Les informations saisies ne permettent pas de vous identifier. Vérifiez votre "
        "numéro tiers et votre mot de passe actuel ou votre numéro confidentiel.</p>"
    )
    assert "fr-error-text" not in text_of(page)
    with registry.app_context():
        assert db.session.scalar(select(Account)) is None
        record = db.session.scalar(select(ProfessionalRecord).filter_by(finess=FINESS))
        assert record.legacy_password_hash is not None


@pytest.mark.parametrize(
    ("proof", "message"),
    [
        ({"legacy_password": "", "confidential_code": ""}, "Saisissez votre mot de passe actuel"),
        ({"legacy_password": LEGACY, "confidential_code": CODE}, "mais pas les deux"),
    ],
)
def test_exactly_one_of_old_password_and_confidential_number(registry, browser, proof, message):
    page = sign_up(browser, **proof)
    assert page.status_code == 200
    assert message in alert_of(page)
    assert 'class="fr-fieldset fr-fieldset--error"' in text_of(page)
    assert 'id="proof-error"' in text_of(page)


def test_fields_are_checked(registry, browser):
    page = sign_up(
        browser,
        finess="010000017",
        email_confirm="autre@example.fr",
        password_confirm=PASSWORD.lower(),
        cgu="",
    )
    assert page.status_code == 200
    for message in (
        "Ce n° FINESS n'est pas valide",
        "Les deux adresses mail ne sont pas identiques.",
        "Les deux mots de passe ne sont pas identiques.",
        "Vous devez valider les conditions générales d'utilisation.",
    ):
        assert message in text_of(page), message


def test_password_may_not_hold_the_name_the_finess_or_the_old_password(registry, browser):
    other_email = {"email": "officine@example.fr", "email_confirm": "officine@example.fr"}
    name = "Pivoine-Helene-4821"
    with_name = sign_up(browser, password=name, password_confirm=name, **other_email)
    assert "ne doit pas contenir votre nom ou prénom" in text_of(with_name)
    assert "identifier" not in alert_of(with_name), "known only once the number is proved"
    with_finess = sign_up(browser, password="Zebre-010000016", password_confirm="Zebre-010000016")
    assert "ne doit pas contenir votre identifiant" in text_of(with_finess)
    same = sign_up(browser, password=LEGACY, password_confirm=LEGACY)
    assert "différent de celui reçu par courrier" in text_of(same)
    with registry.app_context():
        assert db.session.scalar(select(Account)) is None


def test_an_existing_account_is_sent_to_the_login(registry, browser, smtp_server):
    assert sign_up(browser).status_code == 302
    link = link_in(smtp_server.wait(1)[0])
    walker = Walker(browser)
    walker.get(link)
    walker.post(link, {})
    page = sign_up(registry.test_client(), legacy_password="", confidential_code=CODE)
    assert "Un compte existe déjà pour ce numéro tiers : connectez-vous." in alert_of(page)
    assert 'href="/connexion"' in text_of(page)


def test_a_never_activated_account_gives_way_to_a_new_proved_sign_up(
    registry, browser, smtp_server
):
    sign_up(browser, email="erreur@example.fr", email_confirm="erreur@example.fr")
    first_link = link_in(smtp_server.wait(1)[0])
    other = registry.test_client()
    assert sign_up(other, legacy_password="", confidential_code=CODE).status_code == 302
    second = smtp_server.wait(2)[1]
    assert second.rcpt_tos == [EMAIL]
    walker = Walker(other)
    walker.get(link_in(second))
    walker.post(link_in(second), {})
    with registry.app_context():
        accounts = db.session.scalars(select(Account)).all()
        assert [(a.email, a.status) for a in accounts] == [(EMAIL, "active")]
        assert "account.pending_replaced" in {
            e.event for e in db.session.scalars(select(AuditEvent))
        }
    assert browser.get(first_link).status_code == 410


def test_wrong_proofs_for_one_finess_are_limited_per_network(make_app, smtp_server):
    app = make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False, RATELIMIT_ENABLED=True)
    seed_registry(app)
    client = browser_at(app, "203.0.113.7")
    for _ in range(10):
        assert NO_MATCH in alert_of(sign_up(client, legacy_password="Mauvais-01"))
    # The rest of that network (/24) has spent its budget for this N° tiers...
    blocked = sign_up(browser_at(app, "203.0.113.80"), legacy_password="", confidential_code=CODE)
    assert "Trop d'essais pour ce numéro tiers" in alert_of(blocked)
    # ... not the professional, whose N° tiers is public, from their own network.
    own = sign_up(browser_at(app, "198.51.100.20"), legacy_password="", confidential_code=CODE)
    assert own.status_code == 302
    other = sign_up(
        browser_at(app, "203.0.113.9"),
        finess=NEWCOMER,
        legacy_password="",
        confidential_code=NEWCOMER_CODE,
        email="paul.martin@example.fr",
        email_confirm="paul.martin@example.fr",
    )
    assert other.status_code == 302, "another N° tiers is not affected"


def test_wrong_proofs_from_many_networks_meet_a_ceiling(make_app, smtp_server, monkeypatch):
    monkeypatch.setattr(pro_sante, "PROOF_FAILURES_ANYWHERE", parse_limit("12 per hour"))
    app = make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False, RATELIMIT_ENABLED=True)
    seed_registry(app)
    for network in range(4):  # three wrong proofs from each of four networks
        client = browser_at(app, f"192.0.{network}.1")
        for _ in range(3):
            assert NO_MATCH in alert_of(sign_up(client, legacy_password="Mauvais-01"))
    blocked = sign_up(browser_at(app, "198.51.100.20"), legacy_password="", confidential_code=CODE)
    assert "Trop d'essais pour ce numéro tiers" in alert_of(blocked)


# --- "Pour recevoir votre code confidentiel" ----------------------------------------------


def challenge_of(html: str) -> str:
    found = re.search(r'name="challenge" type="hidden" value="([^"]*)"', html)
    assert found, html[:2000]
    return found.group(1)


def question_answer(html: str) -> int:
    found = re.search(r"Combien font (\S+) plus (\S+) \?", html)
    assert found, html[:2000]
    return NUMBERS.index(found.group(1)) + NUMBERS.index(found.group(2))


@pytest.fixture
def known_text(monkeypatch):
    monkeypatch.setattr(captcha_image, "random_text", lambda length: IMAGE_TEXT)


def ask(walker, answer="acdef", **overrides):
    """Open the request page (image mode) and post it."""
    page = walker.get(REQUEST)
    data = {"finess": FINESS, "email": "", "email_confirm": "", "mode": "image", "answer": answer}
    data["challenge"] = challenge_of(page.text)
    data.update(overrides)
    return walker.post(REQUEST, data)


def letters(app) -> list[LetterRequest]:
    with app.app_context():
        return db.session.scalars(select(LetterRequest)).all()


def test_request_page_offers_the_image_and_its_alternatives(registry, browser, known_text):
    page = browser.get(REQUEST)
    assert page.status_code == 200
    assert "Pour recevoir votre code confidentiel" in text_of(page)
    assert "Entrez les caractères figurant dans l'image ci-dessous" in text_of(page)
    assert "Le texte n'est pas lisible ?" in text_of(page) and "Changer le texte." in text_of(page)
    assert 'value="accessible"' in text_of(page) and "Version accessible" in text_of(page)
    assert 'src="data:image/svg+xml;base64,' in text_of(page)
    assert IMAGE_TEXT not in text_of(page)
    # "Valider" comes first: Enter in a field must not change the text.
    assert page.text.index(">Valider<") < page.text.index('value="nouveau"')
    with registry.app_context():
        row = db.session.scalar(select(Verification).filter_by(purpose="captcha"))
        assert row.channel == "image" and IMAGE_TEXT not in row.destination


def test_known_finess_queues_a_letter_and_mails_a_confirmation(
    registry, browser, smtp_server, known_text
):
    walker = Walker(browser)
    page = ask(walker, email="cabinet@example.fr", email_confirm="cabinet@example.fr")
    assert page.status_code == 200
    assert "Votre courrier est en route" in text_of(page)
    assert "par courrier" in text_of(page) and "cabinet@example.fr" in text_of(page)
    (letter,) = letters(registry)
    assert letter.kind == "confidential_code" and letter.exported_at is None
    (mail,) = smtp_server.wait(1)
    assert mail.rcpt_tos == ["cabinet@example.fr"]
    assert mail.message["Subject"] == "Votre demande de code confidentiel"
    for part in ("plain", "html"):
        body = mail.part(part)
        assert "vous allez recevoir vos éléments de connexion par courrier" in body.lower()
        assert "http://localhost/inscription/pro-sante" in body
    # Asked again before the print shop's export: still one letter.
    ask(walker)
    assert len(letters(registry)) == 1
    with registry.app_context():
        events = db.session.scalars(select(AuditEvent).filter_by(event="registry.code_requested"))
        assert [e.details["outcome"] for e in events] == ["letter_queued", "letter_queued"]


def test_a_letter_in_the_post_keeps_its_code_whoever_asks_again(
    registry, browser, smtp_server, known_text
):
    """The FINESS is public: a request by anyone else (or the professional, impatient)
    after the print shop's export must not replace the code of the letter on its way."""
    ask(Walker(browser))
    with registry.app_context():
        (letter,) = take_pending()
        db.session.commit()
    again = ask(Walker(registry.test_client()), email="x@example.fr", email_confirm="x@example.fr")
    assert again.status_code == 200 and "Votre courrier est en route" in text_of(again)
    assert len(smtp_server.wait(1)) == 1  # the same answer, its confirmation included
    with registry.app_context():
        assert take_pending() == []  # nothing new for the print shop: the code stays
        events = db.session.scalars(select(AuditEvent).filter_by(event="registry.code_requested"))
        assert [e.details["outcome"] for e in events] == ["letter_queued", "letter_recent"]
    assert len(letters(registry)) == 1
    signed_up = sign_up(
        registry.test_client(), finess=FINESS, legacy_password="", confidential_code=letter.code
    )
    assert signed_up.headers["Location"] == "/inscription/pro-sante/courriel-envoye"


def test_a_new_letter_is_sent_once_the_last_one_is_long_arrived(
    registry, browser, smtp_server, known_text
):
    ask(Walker(browser))
    with registry.app_context():
        (first,) = take_pending()
        db.session.execute(
            update(LetterRequest).values(exported_at=utcnow() - LETTER_INTERVAL - dt.timedelta(1))
        )
        db.session.commit()
    ask(Walker(registry.test_client()))
    with registry.app_context():
        (second,) = take_pending()
        db.session.commit()
    assert second.code != first.code and len(letters(registry)) == 2
    assert sign_up(browser, legacy_password="", confidential_code=first.code).status_code == 200
    assert sign_up(browser, legacy_password="", confidential_code=second.code).status_code == 302


def test_unknown_finess_is_told_whom_to_write_to(registry, browser, smtp_server, known_text):
    page = ask(Walker(browser), finess=UNKNOWN, email="x@example.fr", email_confirm="x@example.fr")
    assert page.status_code == 200
    assert "Nous n'avons pas toutes vos références" in text_of(page)
    assert "mailto:professionnels@sante.example" in text_of(page)
    assert letters(registry) == []
    assert smtp_server.messages == []
    with registry.app_context():
        event = db.session.scalar(select(AuditEvent).filter_by(event="registry.code_requested"))
        assert event.details == {
            "outcome": "unknown_finess",
            "finess": UNKNOWN,
            "email_given": True,
        }


def test_wrong_captcha_is_refused_and_replaced(registry, browser, known_text):
    walker = Walker(browser)
    page = ask(walker, answer="XXXXX")
    assert page.status_code == 200
    assert "La réponse ne correspond pas. Un nouveau contrôle vous est proposé." in text_of(page)
    assert f'value="{FINESS}"' in text_of(page), "what was typed stays"
    assert letters(registry) == []
    data = {"finess": FINESS, "mode": "image", "answer": IMAGE_TEXT}
    done = walker.post(REQUEST, {**data, "challenge": challenge_of(page.text)})
    assert "Votre courrier est en route" in text_of(done)


def test_a_captcha_answer_serves_once(registry, browser, known_text):
    walker = Walker(browser)
    page = walker.get(REQUEST)
    data = {"finess": UNKNOWN, "mode": "image", "answer": IMAGE_TEXT}
    data["challenge"] = challenge_of(page.text)
    assert "pas toutes vos références" in text_of(walker.post(REQUEST, data))
    replay = walker.post(REQUEST, {**data, "finess": FINESS})
    assert "Ce contrôle a déjà été utilisé." in text_of(replay)
    assert letters(registry) == []


def test_a_captcha_expires_after_ten_minutes(registry, browser, known_text):
    walker = Walker(browser)
    page = walker.get(REQUEST)
    with registry.app_context():
        row = db.session.scalar(select(Verification).filter_by(purpose="captcha"))
        row.expires_at = row.expires_at - captcha.LIFETIME
        db.session.commit()
    data = {"finess": FINESS, "mode": "image", "answer": IMAGE_TEXT}
    expired = walker.post(REQUEST, {**data, "challenge": challenge_of(page.text)})
    assert "Le contrôle a expiré (10 minutes)." in text_of(expired)
    assert walker.post(REQUEST, {**data, "challenge": "forged"}).text.count("plus valable") == 1


def test_accessible_version_asks_a_question_in_words(registry, browser):
    walker = Walker(browser)
    page = walker.get(REQUEST)
    typed = {"finess": FINESS, "email": "cabinet@example.fr", "mode": "image"}
    switched = walker.post(
        REQUEST, {**typed, "challenge": challenge_of(page.text), "action": "accessible"}
    )
    assert "Combien font" in text_of(switched) and "data:image/svg" not in text_of(switched)
    assert "Répondez en chiffres ou en lettres" in text_of(switched)
    assert 'value="cabinet@example.fr"' in text_of(switched), "what was typed stays"
    assert "fr-error-text" not in text_of(switched)
    in_words = NUMBERS[question_answer(switched.text)].upper()
    data = {"finess": FINESS, "mode": "question", "answer": f" {in_words} "}
    done = walker.post(REQUEST, {**data, "challenge": challenge_of(switched.text)})
    assert "Votre courrier est en route" in text_of(done)
    # The same in digits, from a direct link.
    page = walker.get(REQUEST + "?version=accessible")
    data = {"finess": FINESS, "mode": "question", "answer": str(question_answer(page.text))}
    assert "en route" in text_of(
        walker.post(REQUEST, {**data, "challenge": challenge_of(page.text)})
    )
    # "Changer la question": the replaced question cannot be answered any more.
    page = walker.get(REQUEST + "?version=accessible")
    data = {"finess": FINESS, "mode": "question", "challenge": challenge_of(page.text)}
    changed = walker.post(REQUEST, {**data, "action": "nouveau"})
    assert "Combien font" in text_of(changed) and challenge_of(changed.text) != data["challenge"]
    late = walker.post(REQUEST, {**data, "answer": str(question_answer(page.text))})
    assert "Ce contrôle a déjà été utilisé." in text_of(late)


def test_known_and_unknown_finess_take_the_same_time(registry, browser, known_text):
    walker = Walker(browser)
    durations = {FINESS: [], UNKNOWN: []}
    for _ in range(3):
        for finess in durations:
            page = walker.get(REQUEST)
            data = {"finess": finess, "mode": "image", "answer": IMAGE_TEXT}
            data["challenge"] = challenge_of(page.text)
            started = time.monotonic()
            answer = walker.post(REQUEST, data)
            durations[finess].append(time.monotonic() - started)
            assert answer.status_code == 200 and "contrôle" not in text_of(answer)
    known, unknown = (statistics.median(durations[f]) for f in (FINESS, UNKNOWN))
    assert min(known, unknown) >= pro_sante_request.MIN_DURATION
    assert 0.7 <= known / unknown <= 1.4, durations


def test_every_form_needs_its_csrf_token(registry, browser):
    browser.get("/inscription/pro-sante")
    assert browser.post(STEP, data=form()).status_code == 400
    page = browser.get(REQUEST)
    data = {"finess": FINESS, "mode": "image", "answer": "X", "challenge": challenge_of(page.text)}
    assert browser.post(REQUEST, data=data).status_code == 400
    assert browser.post(REQUEST, data={**data, "action": "accessible"}).status_code == 400
    with registry.app_context():
        assert db.session.scalar(select(Account)) is None
        assert db.session.scalars(select(LetterRequest)).all() == []


def test_request_page_is_rate_limited_but_not_its_text_changes(make_app, smtp_server, known_text):
    app = make_app(SMTP_PORT=smtp_server.port, NOTIFY_ASYNC=False, RATELIMIT_ENABLED=True)
    walker = Walker(app.test_client())
    page = walker.get(REQUEST)
    for _ in range(3):
        data = {"finess": FINESS, "mode": "image", "challenge": challenge_of(page.text)}
        page = walker.post(REQUEST, {**data, "action": "nouveau"})
        assert page.status_code == 200
    statuses = [ask(walker, answer="wrong").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]


# --- pieces --------------------------------------------------------------------------------


def test_captcha_answers_are_normalised():
    assert captcha.normalise("image", " ac d-ef ") == "ACDEF"
    for typed in ("7", "07", "sept", "SEPT", " Sept "):
        assert captcha.normalise("question", typed) == "7"
    for typed in ("dix-sept", "dix sept", "Dix-Sept", "17"):
        assert captcha.normalise("question", typed) == "17"
    assert captcha.normalise("question", "zéro") == "0"
    assert captcha.normalise("question", "une") == "1"


def test_captcha_image_is_paths_only_and_differs_each_time():
    first, second = captcha_image.render("ACDEF"), captcha_image.render("ACDEF")
    assert first != second
    assert first.startswith("<svg") and "<text" not in first and "ACDEF" not in first
    assert first.count("<path") >= len("ACDEF") + 5
    assert set(captcha_image.random_text(50)) <= set(captcha_image.ALPHABET)
    assert set(captcha_image.ALPHABET) <= set(captcha_image.GLYPHS)
