"""Portals in the console: create, edit, validation, secret shown once, disable, delete."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent
from idp.oidc.clients import get_client
from tests.admin.conftest import post_form
from tests.factories import Flow
from tests.factories import Portal

NEW = "/admin/portails/nouveau"


def portal_data(**overrides):
    data = {
        "name": "Portail ARS",
        "redirect_uris": "https://ars.example/callback\nhttp://127.0.0.1:8000/callback",
        "post_logout_redirect_uris": "https://ars.example/au-revoir",
        "grants": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "email"],
        "token_endpoint_auth_method": "client_secret_basic",
        "subject_type": "public",
        "journey": "ars-interne",
        "password_policy": "",
        "min_acr": "",
    }
    data.update(overrides)
    return data


def secret_of(html):
    match = re.search(r"<code data-client-secret>([^<]+)</code>", html)
    assert match, "no secret on the page"
    return match.group(1)


def client_id_of(html):
    return re.search(r"<code data-client-id>([^<]+)</code>", html).group(1)


def admin_events(app, event):
    with app.app_context():
        return db.session.scalars(
            select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)
        ).all()


def test_creating_a_portal_shows_its_secret_once_and_stores_a_hash(app, admin):
    response = post_form(admin, NEW, portal_data(), page_url=NEW)
    assert response.status_code == 200
    assert "il ne sera plus jamais affiché" in response.text
    secret, client_id = secret_of(response.text), client_id_of(response.text)
    with app.app_context():
        client = get_client(client_id)
        assert client.name == "Portail ARS"
        assert client.redirect_uris == [
            "https://ars.example/callback",
            "http://127.0.0.1:8000/callback",
        ]
        assert client.journey == "ars-interne"
        assert client.check_client_secret(secret)
        assert secret not in (client.secret_hash or "")
    page = admin.get(f"/admin/portails/{client_id}")
    assert page.status_code == 200 and secret not in page.text
    [event] = admin_events(app, "admin.portal_created")
    assert event.client_id == client_id and event.details["actor_id"] == admin.person.id


def test_a_public_portal_gets_no_secret(app, admin):
    response = post_form(
        admin,
        NEW,
        portal_data(token_endpoint_auth_method="none", grants=["authorization_code"]),
        page_url=NEW,
    )
    assert response.status_code == 302
    client_id = response.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        client = get_client(client_id)
        assert client.is_public and client.secret_hash is None


@pytest.mark.parametrize(
    ("uris", "message"),
    [
        ("http://ars.example/callback", "https obligatoire"),
        ("https://*.ars.example/callback", "joker"),
        ("https://ars.example/callback#fragment", "fragment"),
    ],
)
def test_invalid_redirect_uris_are_refused_in_french(app, admin, uris, message):
    response = post_form(admin, NEW, portal_data(redirect_uris=uris), page_url=NEW)
    assert response.status_code == 400
    assert message in response.text
    assert "URI refusée" in response.text
    with app.app_context():
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.event == "admin.portal_created"))
            is None
        )
        from idp.oidc.models import Client

        assert db.session.scalar(select(Client)) is None


def test_bad_form_values_are_explained_not_crashed(admin):
    response = post_form(
        admin,
        NEW,
        portal_data(name="", access_token_lifetime="5", scopes=["inconnue"], journey="nulle-part"),
        page_url=NEW,
    )
    assert response.status_code == 400
    assert "Indiquez le nom du portail." in response.text
    assert "Durée hors limites" in response.text


def test_editing_every_setting_of_a_portal(app, admin, factories):
    portal = factories.portal(name="Avant")
    url = f"/admin/portails/{portal.client_id}"
    page = admin.get(url)
    assert "Avant" in page.text and "https://portal.example/callback" in page.text
    response = post_form(
        admin,
        url,
        portal_data(
            name="Après",
            logo_uri="https://ars.example/logo.svg",
            redirect_uris="https://ars.example/cb",
            post_logout_redirect_uris="https://ars.example/bye",
            backchannel_logout_uri="https://ars.example/backchannel",
            grants=["authorization_code"],
            scopes=["openid", "email"],
            identifier_claims=["ine", "finess"],
            token_endpoint_auth_method="client_secret_post",
            subject_type="pairwise",
            require_consent="y",
            journey="citoyen",
            password_policy="mon-espace-sante",
            access_token_lifetime="600",
            id_token_lifetime="300",
            refresh_token_lifetime="3600",
        ),
        page_url=url,
    )
    assert response.status_code == 302
    assert "Les modifications sont enregistrées" in admin.get(url).text
    with app.app_context():
        client = get_client(portal.client_id)
        assert client.name == "Après"
        assert client.logo_uri == "https://ars.example/logo.svg"
        assert client.redirect_uris == ["https://ars.example/cb"]
        assert client.post_logout_redirect_uris == ["https://ars.example/bye"]
        assert client.backchannel_logout_uri == "https://ars.example/backchannel"
        assert client.grant_types == ["authorization_code"]
        assert client.scope == "openid email"
        assert client.identifier_claims == ["ine", "finess"]
        assert client.token_endpoint_auth_method == "client_secret_post"
        assert client.subject_type == "pairwise"
        assert client.require_consent is True
        assert client.journey == "citoyen"
        assert client.password_policy == "mon-espace-sante"
        assert (
            client.access_token_lifetime,
            client.id_token_lifetime,
            client.refresh_token_lifetime,
        ) == (600, 300, 3600)
    [event] = admin_events(app, "admin.portal_updated")
    assert event.details["actor_id"] == admin.person.id


def test_a_confidential_portal_cannot_become_public(app, admin, factories):
    portal = factories.portal()
    url = f"/admin/portails/{portal.client_id}"
    response = post_form(admin, url, portal_data(token_endpoint_auth_method="none"), page_url=url)
    assert response.status_code == 400
    assert "ne peut pas devenir confidentiel" in response.text
    with app.app_context():
        assert get_client(portal.client_id).token_endpoint_auth_method == "client_secret_basic"


def test_rotating_the_secret_shows_the_new_one_once_and_kills_the_old(
    app, admin, factories, client
):
    portal = factories.portal()
    url = f"/admin/portails/{portal.client_id}"
    response = post_form(admin, url + "/secret", page_url=url)
    assert response.status_code == 200
    new_secret = secret_of(response.text)
    assert new_secret != portal.secret
    with app.app_context():
        stored = get_client(portal.client_id)
        assert stored.check_client_secret(new_secret)
        assert not stored.check_client_secret(portal.secret)
    # The portal's old secret no longer authenticates at the token endpoint.
    old = client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=(portal.client_id, portal.secret)
    )
    assert old.status_code == 401
    assert admin_events(app, "admin.portal_secret_rotated")


def test_a_disabled_portal_cannot_log_anyone_in_until_enabled(app, admin, factories, client):
    portal = factories.portal()
    url = f"/admin/portails/{portal.client_id}"
    response = post_form(admin, url + "/activation", {"disabled": "1"}, page_url=url)
    assert response.status_code == 302
    assert "Le portail est désactivé" in admin.get(url).text
    flow = Flow(client, portal)
    refused = flow.authorize()
    assert refused.status_code == 400 or "/connexion" not in refused.headers.get("Location", "")
    post_form(admin, url + "/activation", {"disabled": "0"}, page_url=url)
    assert flow.authorize().headers["Location"].startswith("/connexion")
    assert admin_events(app, "admin.portal_disabled") and admin_events(app, "admin.portal_enabled")


def test_deleting_a_portal_needs_its_id_typed(app, admin, factories):
    portal = factories.portal(name="À supprimer")
    url = f"/admin/portails/{portal.client_id}"
    response = post_form(admin, url + "/suppression", {"confirm_client_id": "autre"}, page_url=url)
    assert response.status_code == 302
    with app.app_context():
        assert get_client(portal.client_id) is not None
    response = post_form(
        admin, url + "/suppression", {"confirm_client_id": portal.client_id}, page_url=url
    )
    assert response.headers["Location"].endswith("/admin/portails")
    assert "est supprimé" in admin.get("/admin/portails").text
    with app.app_context():
        assert get_client(portal.client_id) is None
    [event] = admin_events(app, "admin.portal_deleted")
    assert event.client_id == portal.client_id
    assert admin.get(url).status_code == 404


def test_token_lifetimes_of_the_portal_apply(app, admin, factories, client):
    person = factories.account()
    portal = factories.portal()
    url = f"/admin/portails/{portal.client_id}"
    post_form(
        admin,
        url,
        portal_data(
            redirect_uris="https://portal.example/callback",
            scopes=["openid", "profile", "email"],
            access_token_lifetime="120",
            id_token_lifetime="90",
            refresh_token_lifetime="3600",
        ),
        page_url=url,
    )
    issued = Flow(client, Portal(portal.client_id, portal.secret)).tokens(person)
    assert issued["expires_in"] == 120
    import base64
    import json

    payload = issued["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] == 90
    with app.app_context():
        from idp.oidc.models import Token

        token = db.session.scalar(select(Token).where(Token.client_id == portal.client_id))
        assert (token.refresh_expires_at - token.issued_at).total_seconds() == 3600


def test_identifier_claims_are_released_only_when_allowed(app, admin, factories, client):
    from idp.enrolment.services import add_identifier
    from idp.models import Account

    person = factories.account()
    with app.app_context():
        account = db.session.get(Account, person.id)
        add_identifier(account, "ine", "1234567890A")
        add_identifier(account, "nir", "185057800608436", shown=False)
        db.session.commit()
    portal = factories.portal()
    flow = Flow(client, portal)
    first = flow.tokens(person)
    info = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}
    ).get_json()
    assert "ine" not in info
    url = f"/admin/portails/{portal.client_id}"
    post_form(
        admin,
        url,
        portal_data(
            redirect_uris="https://portal.example/callback",
            scopes=["openid", "profile", "email"],
            identifier_claims=["ine", "nir"],
        ),
        page_url=url,
    )
    second = Flow(client, portal).tokens(person)
    info = client.get(
        "/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"}
    ).get_json()
    assert info["ine"] == "1234567890A"
    assert "nir" not in info  # never stored in clear, never released


def test_the_portal_password_policy_replaces_the_journey_one(app, admin, factories):
    from idp.enrolment.passwords import policy_for

    portal = factories.portal(journey="citoyen")
    with app.app_context():
        assert policy_for("citoyen", portal.client_id).name == policy_for("citoyen").name
    url = f"/admin/portails/{portal.client_id}"
    post_form(
        admin,
        url,
        portal_data(
            redirect_uris="https://portal.example/callback",
            journey="citoyen",
            password_policy="mon-espace-sante",
        ),
        page_url=url,
    )
    with app.app_context():
        assert policy_for("citoyen", portal.client_id).name == "mon-espace-sante"
        assert policy_for("citoyen").name != "mon-espace-sante"


def test_a_portal_without_redirect_uri_is_refused_in_french_not_crashed(app):
    from idp.admin import services
    from idp.oidc.clients import InvalidClientMetadata

    with app.app_context():
        with pytest.raises(InvalidClientMetadata, match="URI de redirection"):
            services.create_portal("operator", None, name="Sans URI")
        db.session.rollback()
