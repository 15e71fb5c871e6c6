"""refresh_token (rotation, reuse detection) and client_credentials grants."""

import pytest

from tests.factories import Flow
from tests.oidc.helpers import bearer


@pytest.fixture
def person(factories):
    return factories.account()


@pytest.fixture
def portal(factories):
    return factories.portal()


@pytest.fixture
def flow(client, portal):
    return Flow(client, portal)


def refresh(client, portal, refresh_token: str, **extra):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    auth = (portal.client_id, portal.secret) if portal.secret else None
    if auth is None:
        data["client_id"] = portal.client_id
    return client.post("/token", data=data, auth=auth)


def assert_invalid_grant(response) -> None:
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.get_json()["error"] == "invalid_grant"


def userinfo_status(client, access_token: str) -> int:
    return client.get("/userinfo", headers=bearer(access_token)).status_code


def test_refresh_returns_new_access_and_rotated_refresh_token(client, flow, person):
    """oidcc-refresh-token"""
    first = flow.tokens(person)
    response = refresh(client, flow.portal, first["refresh_token"])
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    second = response.get_json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"]
    assert set(second["scope"].split()) == set(first["scope"].split())
    assert userinfo_status(client, second["access_token"]) == 200


def test_refreshed_access_token_keeps_the_subject(client, flow, person):
    """oidcc-refresh-token"""
    first = flow.tokens(person)
    second = refresh(client, flow.portal, first["refresh_token"]).get_json()
    info = client.get("/userinfo", headers=bearer(second["access_token"])).get_json()
    assert info["sub"] == person.sub and info["email"] == person.email


def test_rotated_refresh_token_no_longer_works(client, flow, person):
    """oidcc-refresh-token"""
    first = flow.tokens(person)
    assert refresh(client, flow.portal, first["refresh_token"]).status_code == 200
    assert_invalid_grant(refresh(client, flow.portal, first["refresh_token"]))


def test_reused_refresh_token_revokes_the_whole_family(client, flow, person):
    """oidcc-refresh-token: a rotated token coming back means it leaked."""
    first = flow.tokens(person)
    second = refresh(client, flow.portal, first["refresh_token"]).get_json()
    third = refresh(client, flow.portal, second["refresh_token"]).get_json()
    assert_invalid_grant(refresh(client, flow.portal, first["refresh_token"]))
    assert userinfo_status(client, third["access_token"]) == 401
    assert_invalid_grant(refresh(client, flow.portal, third["refresh_token"]))


def test_refresh_can_narrow_but_not_widen_the_scope(client, factories, person):
    portal = factories.portal()
    tokens = Flow(client, portal).tokens(person, scope="openid email")
    narrowed = refresh(client, portal, tokens["refresh_token"], scope="openid")
    assert narrowed.status_code == 200
    assert narrowed.get_json()["scope"] == "openid"
    widened = refresh(client, portal, narrowed.get_json()["refresh_token"], scope="openid profile")
    assert widened.status_code == 400
    assert widened.get_json()["error"] == "invalid_scope"


def test_refresh_token_of_another_client_is_refused(client, factories, flow, person):
    tokens = flow.tokens(person)
    other = factories.portal(name="Autre portail")
    assert_invalid_grant(refresh(client, other, tokens["refresh_token"]))
    # The owner's token was not consumed by the failed attempt.
    assert refresh(client, flow.portal, tokens["refresh_token"]).status_code == 200


def test_refresh_with_wrong_secret_is_invalid_client(client, flow, person):
    tokens = flow.tokens(person)
    response = client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(flow.portal.client_id, "wrong"),
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_public_client_refreshes_with_its_client_id(client, factories, person):
    portal = factories.portal(public=True)
    flow = Flow(client, portal)
    tokens = flow.token(flow.code(person), client_id=portal.client_id).get_json()
    response = refresh(client, portal, tokens["refresh_token"])
    assert response.status_code == 200, response.text
    assert response.get_json()["refresh_token"] != tokens["refresh_token"]


def test_portal_without_refresh_grant_gets_no_refresh_token(client, factories, person):
    portal = factories.portal(grants=["authorization_code"])
    tokens = Flow(client, portal).tokens(person)
    assert "refresh_token" not in tokens


# client_credentials ----------------------------------------------------------------------
def client_credentials(client, portal, **extra):
    data = {"grant_type": "client_credentials", **extra}
    return client.post("/token", data=data, auth=(portal.client_id, portal.secret))


def test_client_credentials_grant_issues_an_access_token_only(client, factories):
    portal = factories.portal(grants=["client_credentials"], redirect_uris=[])
    response = client_credentials(client, portal, scope="openid")
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.get_json()
    assert tokens["access_token"] and tokens["token_type"].lower() == "bearer"
    assert "refresh_token" not in tokens
    assert "id_token" not in tokens


def test_client_credentials_token_introspects_without_subject_person(client, factories):
    portal = factories.portal(grants=["client_credentials"], redirect_uris=[])
    access_token = client_credentials(client, portal).get_json()["access_token"]
    data = client.post(
        "/introspect", data={"token": access_token}, auth=(portal.client_id, portal.secret)
    ).get_json()
    assert data["active"] is True and data["client_id"] == portal.client_id
    assert "username" not in data


def test_client_credentials_token_is_refused_at_userinfo(client, factories):
    """There is no person behind the token: userinfo must refuse it, not fail."""
    portal = factories.portal(grants=["client_credentials"], redirect_uris=[])
    access_token = client_credentials(client, portal, scope="openid").get_json()["access_token"]
    response = client.get("/userinfo", headers=bearer(access_token))
    assert response.status_code in {401, 403}, response.status_code
    assert response.get_json()["error"] in {"invalid_token", "insufficient_scope"}


def test_client_credentials_refused_without_that_grant(client, portal):
    response = client_credentials(client, portal)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_client_credentials_refused_to_public_clients(client, factories):
    portal = factories.portal(public=True)
    response = client.post(
        "/token", data={"grant_type": "client_credentials", "client_id": portal.client_id}
    )
    assert response.status_code in {400, 401}
    assert response.get_json()["error"] in {"invalid_client", "unauthorized_client"}


def test_two_simultaneous_uses_of_one_refresh_token_do_not_fork_the_chain(
    app, client, flow, person, monkeypatch
):
    """Both requests read the token before either rotates it: the second to rotate must
    find it rotated, get invalid_grant and revoke the family, not get a chain of its own."""
    from sqlalchemy import func
    from sqlalchemy import select
    from sqlalchemy import update

    from idp.extensions import db
    from idp.models import utcnow
    from idp.oidc import server as oidc_server
    from idp.oidc.models import Token
    from idp.security import tokens

    first = flow.tokens(person)
    digest = tokens.sha256(first["refresh_token"])
    original = oidc_server.RefreshTokenGrant.authenticate_refresh_token

    def rotated_meanwhile(self, refresh_token):
        found = original(self, refresh_token)
        # The other request rotates the same token and commits between our read and write.
        with db.engine.begin() as conn:
            conn.execute(
                update(Token).where(Token.refresh_token_hash == digest).values(rotated_at=utcnow())
            )
        return found

    monkeypatch.setattr(
        oidc_server.RefreshTokenGrant, "authenticate_refresh_token", rotated_meanwhile
    )
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Token))
    assert_invalid_grant(refresh(client, flow.portal, first["refresh_token"]))
    monkeypatch.undo()

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Token)) == before
        issued = db.session.scalars(select(Token)).all()
        assert issued and all(t.revoked_at is not None for t in issued)
    assert userinfo_status(client, first["access_token"]) == 401
