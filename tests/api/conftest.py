"""An admin API client (client_credentials, admin scopes) and a bearer-authenticated caller."""

from __future__ import annotations

import pytest

ADMIN_SCOPES = "admin:clients admin:users"


def admin_portal(factories, scope: str = ADMIN_SCOPES, **kw):
    kw.setdefault("name", "Outil d'administration")
    return factories.portal(
        redirect_uris=[],
        post_logout_redirect_uris=[],
        grants=["client_credentials"],
        scope=scope,
        **kw,
    )


def issue_token(client, portal, scope: str = ADMIN_SCOPES) -> str:
    response = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(portal.client_id, portal.secret),
    )
    assert response.status_code == 200, response.text
    return response.get_json()["access_token"]


class Api:
    """The test client with the bearer token on every request."""

    def __init__(self, client, token: str):
        self.client = client
        self.token = token

    def headers(self, extra=None) -> dict:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path, **kw):
        return self.client.get(
            "/api/admin" + path, headers=self.headers(kw.pop("headers", None)), **kw
        )

    def post(self, path, **kw):
        return self.client.post(
            "/api/admin" + path, headers=self.headers(kw.pop("headers", None)), **kw
        )

    def patch(self, path, **kw):
        return self.client.patch(
            "/api/admin" + path, headers=self.headers(kw.pop("headers", None)), **kw
        )

    def delete(self, path, **kw):
        return self.client.delete(
            "/api/admin" + path, headers=self.headers(kw.pop("headers", None)), **kw
        )


@pytest.fixture
def admin(factories):
    return admin_portal(factories)


@pytest.fixture
def api(client, admin):
    return Api(client, issue_token(client, admin))
