"""The login page, as a person and as an attacker see it."""

import re
import statistics
import time

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import Account
from idp.models import AuditEvent
from tests.factories import PASSWORD
from tests.factories import csrf_of

GENERIC = "Identifiant ou mot de passe incorrect."


def post_login(client, identifier, password, next_url=None):
    url = "/connexion" + (f"?next={next_url}" if next_url else "")
    page = client.get(url)
    return client.post(
        url, data={"identifier": identifier, "password": password, "csrf_token": csrf_of(page.text)}
    )


def test_login_page_is_french_dsfr_with_autocomplete_on_every_input(client):
    page = client.get("/connexion")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="fr"' in html and "Se connecter" in html and "Mot de passe" in html
    assert "/static/dsfr/dsfr.min.css" in html
    inputs = re.findall(r"<input[^>]*>", html)
    visible = [i for i in inputs if 'type="hidden"' not in i and 'type="checkbox"' not in i]
    assert visible and all("autocomplete=" in i for i in visible), visible
    assert 'autocomplete="username"' in html and 'autocomplete="current-password"' in html
    with client.get("/static/dsfr/dsfr.min.css") as css:
        assert css.status_code == 200 and css.mimetype == "text/css"


def test_success_sets_an_httponly_lax_session_cookie(client, factories):
    person = factories.account()
    response = post_login(client, person.email.upper(), person.password)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("idp_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Vous êtes connecté en tant que Marie CURIE" in client.get("/").text


def test_cookie_is_secure_when_issuer_is_https(make_app, factories):
    secure_client = make_app(ISSUER="https://idp.example").test_client()
    person = factories.account()
    response = post_login(secure_client, person.email, person.password)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("idp_session="))
    assert "Secure" in cookie


def test_wrong_password_and_unknown_account_get_the_same_answer(client, factories):
    person = factories.account()
    wrong = post_login(client, person.email, "Not-the-password-1")
    unknown = post_login(client, "nobody@example.fr", "Not-the-password-1")
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert GENERIC in response.text
        assert "idp_session=" not in "".join(response.headers.getlist("Set-Cookie"))
    strip = lambda html: re.sub(r'value="[^"]*"', "", html)  # noqa: E731
    assert strip(wrong.text) == strip(unknown.text)


def test_login_timing_does_not_reveal_whether_the_account_exists(
    app, client, factories, monkeypatch
):
    # With the production argon2id cost, a missing account must cost one verification too.
    monkeypatch.setitem(app.config, "ARGON2_MEMORY_KIB", 19 * 1024)
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", 2)
    # Measure the password check itself, not the (equally fast) refusals of the lockout.
    monkeypatch.setitem(app.config, "LOGIN_DELAY_AFTER", 1000)
    monkeypatch.setitem(app.config, "LOGIN_LOCK_THRESHOLD", 1000)
    person = factories.account(email="timing@example.fr")
    with app.app_context():
        from idp.security.passwords import hash_password

        db.session.get(Account, person.id).password_hash = hash_password(PASSWORD)
        db.session.commit()
    token = csrf_of(client.get("/connexion").text)

    def measure(identifier):
        start = time.perf_counter()
        client.post(
            "/connexion", data={"identifier": identifier, "password": "x", "csrf_token": token}
        )
        return time.perf_counter() - start

    measure("warm-up@example.fr")
    known, unknown = [], []
    for _ in range(15):  # interleaved, so that load on the machine hits both series alike
        known.append(measure("timing@example.fr"))
        unknown.append(measure("absent@example.fr"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.7 < ratio < 1.4, (known, unknown)


def test_pending_and_disabled_accounts_are_told_only_after_the_right_password(
    client, factories, app
):
    factories.account(email="pending@example.fr", active=False)
    assert GENERIC in post_login(client, "pending@example.fr", "wrong-password").text
    assert "pas encore activé" in post_login(client, "pending@example.fr", PASSWORD).text
    person = factories.account(email="off@example.fr")
    with app.app_context():
        db.session.get(Account, person.id).status = "disabled"
        db.session.commit()
    response = post_login(client, "off@example.fr", PASSWORD)
    assert "suspendu" in response.text and "idp_session=" not in str(response.headers)


def test_username_works_as_identifier(client, factories):
    factories.account(email="u@example.fr", username="Marie.Curie")
    assert post_login(client, "marie.curie", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_parameter_never_leaves_the_site(client, factories, target):
    person = factories.account()
    response = post_login(client, person.email, person.password, next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_form_without_csrf_token_is_refused_with_a_french_page(client, factories):
    person = factories.account()
    response = client.post("/connexion", data={"identifier": person.email, "password": PASSWORD})
    assert response.status_code == 400 and "Votre formulaire a expiré" in response.text


def test_password_hash_is_upgraded_when_parameters_change(app, client, factories, monkeypatch):
    person = factories.account()
    monkeypatch.setitem(app.config, "ARGON2_MEMORY_KIB", 2048)
    assert post_login(client, person.email, person.password).status_code == 302
    with app.app_context():
        assert "m=2048" in db.session.get(Account, person.id).password_hash
        events = set(db.session.scalars(select(AuditEvent.event)))
    assert {"login.succeeded", "password.rehashed", "session.opened"} <= events


def test_audit_records_failures_without_secrets(app, client, factories):
    person = factories.account()
    post_login(client, person.email, "Secret-guess-99")
    post_login(client, "ghost@example.fr", "Secret-guess-99")
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == "login.failed").order_by(AuditEvent.id)
        ).all()
    assert [r.details["reason"] for r in rows] == ["bad_password", "unknown_identifier"]
    assert all("Secret-guess-99" not in str(r.details) for r in rows)
    assert rows[0].ip == "127.0.0.1"


def test_login_attempts_are_rate_limited_per_ip(make_app):
    limited = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute").test_client()
    statuses = [post_login(limited, "x@example.fr", "bad").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    page = post_login(limited, "x@example.fr", "bad")
    assert "Trop de tentatives" in page.text


def test_logout_asks_then_ends_the_session(client, factories):
    person = factories.account()
    post_login(client, person.email, person.password)
    page = client.get("/deconnexion")
    assert "Se déconnecter ?" in page.text
    done = client.post("/deconnexion", data={"csrf_token": csrf_of(page.text)})
    assert "Vous êtes déconnecté" in done.text
    assert "Vous êtes connecté" not in client.get("/").text
    assert "Vous êtes déconnecté" in client.get("/deconnexion").text


def test_error_pages_are_french(client):
    assert "introuvable" in client.get("/nope").text
    assert client.get("/nope").status_code == 404
    assert client.delete("/connexion").status_code == 405
    assert client.post("/token", data={}).get_json()["error"] == "unsupported_grant_type"


def test_login_attempts_are_rate_limited_per_identifier_from_one_network(make_app, factories):
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="100 per minute",
        LOGIN_ACCOUNT_RATE_LIMIT="3 per 15 minutes",
    )
    person = factories.account()
    first, second = app.test_client(), app.test_client()
    statuses = [post_login(first, person.email, "Wrong-guess-1").status_code for _ in range(3)]
    # Another browser on the same network and identifier, even with the right password (other
    # networks have their own budget: tests/auth/test_limits_per_network.py).
    assert statuses + [post_login(second, person.email.upper(), PASSWORD).status_code] == [
        200,
        200,
        200,
        429,
    ]
    assert post_login(second, "someone.else@example.fr", "x").status_code == 200
