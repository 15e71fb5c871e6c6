"""Mon compte: access, the sections, activity and the RGPD export."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from sqlalchemy import select

from idp.enrolment.models import AccountIdentifier
from idp.extensions import db
from idp.federation.models import FederatedIdentity
from idp.models import Account
from idp.models import AuditEvent
from idp.oidc.models import Token
from tests.account.conftest import post_form
from tests.factories import Flow


def test_anonymous_visitor_is_sent_to_login_and_back(client):
    response = client.get("/mon-compte")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/connexion"
    assert parse_qs(location.query) == {"next": ["/mon-compte"]}


def test_every_post_needs_a_login(client):
    for url in (
        "/mon-compte/mot-de-passe",
        "/mon-compte/sessions/1/fin",
        "/mon-compte/sessions/autres/fin",
        "/mon-compte/portails/1/retrait",
        "/mon-compte/preferences",
        "/mon-compte/mes-donnees",
    ):
        client.get("/connexion")
        response = client.post(url, data={})
        assert response.status_code in (302, 400), url
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/connexion"), url


def test_home_links_to_my_account(browser):
    assert 'href="/mon-compte"' in browser.get("/").text


def test_every_section_is_shown_in_french(browser):
    page = browser.get("/mon-compte")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="fr"' in html
    for title in (
        "Identité",
        "Mot de passe",
        "Sessions et appareils",
        "Portails autorisés",
        "Préférences",
        "Activité récente",
        "Télécharger mes données",
    ):
        assert title in html, title
    assert "Marie" in html and "CURIE" in html
    assert "cette session" in html
    assert "Ouverture de session" in html  # the login's audit event, labelled in French


def test_certified_fields_are_badged_and_nir_is_never_shown(app, browser, person):
    with app.app_context():
        account = db.session.get(Account, person.id)
        account.birthdate = dt.date(1967, 11, 7)
        account.gender = "female"
        db.session.add(
            FederatedIdentity(
                provider="franceconnect",
                issuer="https://fc.example",
                subject="fc-sub-1",
                account_id=person.id,
                certified_fields=["given_name", "family_name", "birthdate", "gender"],
            )
        )
        db.session.add(
            AccountIdentifier(account_id=person.id, kind="nir", lookup_hash="h1", display=None)
        )
        db.session.add(
            AccountIdentifier(
                account_id=person.id, kind="ine", lookup_hash="h2", display="12345678901"
            )
        )
        db.session.commit()
    html = browser.get("/mon-compte").text
    assert html.count("certifié par FranceConnect") == 4
    assert "07/11/1967" in html and "Féminin" in html
    assert "Numéro de sécurité sociale" in html and "<dd>renseigné</dd>" in html
    assert "12345678901" in html


def test_activity_shows_at_most_twenty_events_with_a_fallback_label(app, browser, person):
    with app.app_context():
        for _ in range(25):
            db.session.add(AuditEvent(event="something.new", account_id=person.id, ip="10.0.0.9"))
        db.session.commit()
    html = browser.get("/mon-compte").text
    section = html.split('id="activite"')[1].split("</section>")[0]
    assert section.count("<tr><td>") == 20
    assert "Autre action (something.new)" in section and "10.0.0.9" in section


def test_export_gives_personal_data_and_no_secret(app, client, browser, person, factories):
    portal = factories.portal()
    tokens = Flow(client, portal).tokens(person)
    with app.app_context():
        db.session.add(
            AccountIdentifier(account_id=person.id, kind="nir", lookup_hash="h1", display=None)
        )
        db.session.commit()
        account = db.session.get(Account, person.id)
        password_hash = account.password_hash
        token_hashes = [
            h
            for row in db.session.scalars(select(Token).where(Token.account_id == person.id))
            for h in (row.access_token_hash, row.refresh_token_hash)
            if h
        ]
    response = post_form(browser, "/mon-compte/mes-donnees")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.text)
    assert data["profile"]["email"] == person.email
    assert data["profile"]["given_name"] == "Marie"
    assert {"kind": "nir", "value": None, "on_file": True} in data["identifiers"]
    assert data["sessions"] and data["events"]
    body = response.text
    assert password_hash not in body and "argon2" not in body and "password_hash" not in body
    assert token_hashes and not any(h in body for h in token_hashes)
    assert tokens["access_token"] not in body and tokens["refresh_token"] not in body
    assert "token_hash" not in body
    with app.app_context():
        assert db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.account_id == person.id, AuditEvent.event == "account.exported"
            )
        )


def test_every_post_refuses_a_missing_csrf_token(app, browser, person):
    with app.app_context():
        before = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()))
    for url in (
        "/mon-compte/mot-de-passe",
        "/mon-compte/sessions/1/fin",
        "/mon-compte/sessions/autres/fin",
        "/mon-compte/portails/1/retrait",
        "/mon-compte/preferences",
        "/mon-compte/mes-donnees",
    ):
        response = browser.post(url, data={"marketing_email": "y"})
        assert response.status_code == 400, url
    with app.app_context():
        after = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()))
    assert after == before
    assert browser.get("/mon-compte").status_code == 200


def test_times_are_shown_in_the_display_time_zone(app):
    import datetime as dt

    render = app.jinja_env.filters["local_time"]
    winter = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 14, 12, 0, tzinfo=dt.UTC)
    assert (render(winter), render(summer)) == ("27/11/2026 13:00", "14/07/2026 14:00")
